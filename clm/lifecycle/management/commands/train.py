from django.core.management.base import BaseCommand, CommandError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clm.analytics.churn import NotEnoughHistory
from clm.core.console import console_for, parse_day
from clm.lifecycle import training


class Command(BaseCommand):
    help = "Retrain the churn model on the company's own history (time-split validation, calibrated)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="start",
            type=parse_day,
            default=None,
            help="first as-of date (default: 120 days into the history)",
        )
        parser.add_argument(
            "--to", dest="end", type=parse_day, default=None, help="last as-of date (default: 90 days ago)"
        )
        parser.add_argument("--step", type=int, default=14, help="days between snapshots (default 14)")

    def handle(self, *args, start, end, step, **options):
        if step < 1:
            raise CommandError(f"--step {step} must be a positive number of days")
        console = console_for(self.stdout)
        try:
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("snapshots", total=None)
                model = training.train(
                    start=start,
                    end=end,
                    step_days=step,
                    progress=lambda day: bar.update(task, description=f"snapshot as of {day}"),
                )
        except NotEnoughHistory as error:
            raise CommandError(str(error)) from None
        except ValueError as error:
            raise CommandError(str(error)) from None
        md = model.metadata
        valid = md["validation"]
        console.print(
            f"Trained churn model {model.version} ({model.kind}, {model.horizon_days}-day horizon), now active."
        )
        console.print(
            f"Training as-of dates {md['training_window'][0]} – {md['training_window'][1]}: {md['rows']['train']:,} rows, "
            f"{md['positives']['train']:,} churned; validation {md['validation_window'][0]} – {md['validation_window'][1]}: "
            f"{md['rows']['validation']:,} rows, {md['positives']['validation']:,} churned."
        )
        auc = valid["roc_auc"]
        console.print(
            f"Validation ROC AUC {auc:.3f}, Brier {valid['brier']:.4f}."
            if auc is not None
            else "Validation: one class only."
        )
