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
        parser.add_argument(
            "--as-of",
            dest="as_of",
            type=parse_day,
            default=None,
            help="the training date: learn only what was known then (default today); a backtest of "
            "the later dates is then out of time",
        )
        parser.add_argument("--step", type=int, default=14, help="days between snapshots (default 14)")
        parser.add_argument(
            "--target-precision",
            type=float,
            default=training.TARGET_PRECISION,
            help="share of flagged accounts that should churn within the horizon; the early warning's "
            f"threshold on the churn risk is chosen for it (default {training.TARGET_PRECISION})",
        )

    def handle(self, *args, start, end, as_of, step, target_precision, **options):
        if step < 1:
            raise CommandError(f"--step {step} must be a positive number of days")
        if not 0 < target_precision < 1:
            raise CommandError(
                f"--target-precision {target_precision} must be a share between 0 and 1 (e.g. 0.5)"
            )
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
                    as_of=as_of,
                    step_days=step,
                    target_precision=target_precision,
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
            f"Learnt from every labelled snapshot (known on {md['as_of']}), as-of dates {md['training_window'][0]} – "
            f"{md['training_window'][1]}: {md['rows']['train']:,} rows, {md['positives']['train']:,} churned; "
            f"{md['calibration']} calibration cross-validated over {md['calibration_folds']} folds."
        )
        auc = valid["roc_auc"]
        console.print(
            f"Out-of-time check (learnt on {md['check_window'][0]} – {md['check_window'][1]}, scored on "
            f"{md['validation_window'][0]} – {md['validation_window'][1]}: {md['rows']['validation']:,} rows, "
            f"{md['positives']['validation']:,} churned): "
            + (f"ROC AUC {auc:.3f}, Brier {valid['brier']:.4f}." if auc is not None else "one class only.")
        )
        flag = md["warning"]
        if flag["threshold"] is None:
            console.print(
                f"Early warning: no churn-risk threshold reached a precision of {flag['target_precision']:.0%} on "
                "the training history; the model does not flag (churn_risk_high stays quiet), the rules stand alone."
            )
        else:
            console.print(
                f"Early warning: flag at a churn risk of {flag['threshold']:.2f} or more, held {flag['confirm_days']} days "
                f"(on the training history: precision {flag['precision']:.0%}, {flag['recall_in_time'] or 0:.0%} of churners "
                f"flagged at least 90 days ahead; target precision {flag['target_precision']:.0%})."
            )
