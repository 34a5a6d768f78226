import json

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clm.core.console import console_for, parse_day
from clm.lifecycle import backtest
from clm.lifecycle.metrics import FutureDate


def pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = "Replay history as of each step and measure the early warning and the churn model."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from", dest="start", type=parse_day, required=True, help="first as-of date, YYYY-MM-DD"
        )
        parser.add_argument(
            "--to", dest="end", type=parse_day, required=True, help="last as-of date, YYYY-MM-DD"
        )
        parser.add_argument(
            "--step", default="7d", help="days between replayed dates: 7d, 2w, 14 (default 7d)"
        )
        parser.add_argument(
            "--lead", type=int, default=90, help="days ahead a churner must be flagged (default 90)"
        )
        parser.add_argument(
            "--horizon",
            type=int,
            default=180,
            help="a flag is right when churn follows within this many days (default 180)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, start, end, step, lead, horizon, **options):
        try:
            step_days = backtest.parse_step(step)
            total = len(backtest.step_dates(start, end, step_days))
        except (backtest.BacktestError, FutureDate) as error:
            raise CommandError(str(error)) from None
        if lead < 0 or horizon < 1:
            raise CommandError("--lead must be 0 or more and --horizon at least 1 day")
        as_json = options["json"]
        console = console_for(self.stderr if as_json else self.stdout)
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("replaying", total=total)
            report = backtest.run(
                start,
                end,
                step_days,
                min_lead_days=lead,
                horizon_days=horizon,
                progress=lambda day: bar.update(task, advance=1, description=f"as of {day}"),
            )
        backtest.store(report)
        if as_json:
            self.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
            return
        show(console_for(self.stdout), report)


def show_curve(console, report) -> None:
    """The precision–recall trade-off of flagging on the churn model's risk alone, at some of the
    thresholds replayed (the one chosen when the model was trained is marked)."""
    threshold = report.model_threshold
    console.print(
        "Flagging on the churn model's risk alone, by threshold "
        f"(chosen when the model was trained: {'–' if threshold is None else f'{threshold:.2f}'}):"
    )
    table = Table("risk ≥", "recall in time", "precision", "flagged", box=None, pad_edge=False)
    shown = [p for p in report.curve if round(p.threshold * 100) % 10 == 0 or p.threshold == threshold]
    for point in shown:
        mark = " ◀" if point.threshold == threshold else ""
        table.add_row(
            f"{point.threshold:.2f}{mark}",
            pct(point.recall_in_time),
            pct(point.precision),
            f"{point.flagged}",
        )
    console.print(table)


def show_model_lead_time(console, report) -> None:
    """How early flagging on the churn model's risk alone at its threshold spoke."""
    parts = [("whole window", report.model_lead_time)]
    parts += [(name, part["model"]) for name, part in (("in sample", report.in_sample), ("out of time", report.out_of_time))
              if part is not None and "model" in part]  # fmt: skip
    for name, part in parts:
        lead = part["lead_days"]
        days = (
            f"; days from first flag to churn: median {lead['p50']:.0f}, p25 {lead['p25']:.0f}, p75 {lead['p75']:.0f}"
            if lead
            else ""
        )
        console.print(
            f"Churn model alone at its threshold, {name}: recall {pct(part['recall_in_time'])} of {part['churners']} "
            f"churners, precision {pct(part['precision'])} of {part['flags_judged']} judged flags{days}."
        )


def ci(bounds) -> str:
    """' (95% CI 41%–79%)', or nothing without an interval."""
    return "" if not bounds else f" (95% CI {pct(bounds[0])}–{pct(bounds[1])})"


def show(console, report) -> None:
    ew = report.early_warning
    console.print(
        f"Backtest {report.start} – {report.end}, every {report.step_days} days ({report.steps} steps); "
        f"outcomes observed until {report.observed_until}."
    )
    console.print(
        f"Early warning: {ew.churners_flagged_in_time} of {ew.churners} churners flagged at least {ew.min_lead_days} days ahead "
        f"(recall {pct(ew.recall_in_time)}{ci(ew.recall_in_time_ci)}); {ew.flags_followed_by_churn} of {ew.flags_judged} judged "
        f"flags followed by churn within {ew.horizon_days} days (precision {pct(ew.precision)}{ci(ew.precision_ci)})."
    )
    pit = report.point_in_time
    console.print(
        f"Point in time: of the accounts flagged on a replayed day, {pct(pit.precision)} churned within "
        f"{pit.horizon_days} days ({pit.followed_by_churn:,} of {pit.judged:,} judged account-days)."
    )
    for name, part in (("in sample", report.in_sample), ("out of time", report.out_of_time)):
        if part is not None:
            console.print(
                f"  {name} ({part['from']} – {part['to']}; the threshold was chosen on dates up to {report.split}): "
                f"recall {pct(part['recall_in_time'])}{ci(part['recall_in_time_ci'])} of {part['churners']} churners, "
                f"precision {pct(part['precision'])}{ci(part['precision_ci'])} of {part['flags_judged']} judged flags, point in time {pct(part['point_in_time']['precision'])}."
            )
    if ew.lead_days:
        lead = ew.lead_days
        console.print(
            f"Lead time, days from first flag to churn: median {lead['p50']:.0f}, p10 {lead['p10']:.0f}, p25 {lead['p25']:.0f}, "
            f"p75 {lead['p75']:.0f}, p90 {lead['p90']:.0f}, mean {lead['mean']:.0f}."
        )
    table = Table("signal", "churners in time", "recall", "flagged", "precision", box=None, pad_edge=False)
    table.add_row(
        "any signal",
        f"{ew.churners_flagged_in_time}",
        pct(ew.recall_in_time),
        f"{ew.flagged}",
        pct(ew.precision),
    )
    for kind, r in report.by_signal.items():
        table.add_row(
            kind, f"{r.churners_flagged_in_time}", pct(r.recall_in_time), f"{r.flagged}", pct(r.precision)
        )
    console.print(table)
    if report.health:
        h = report.health
        auc = "–" if h["roc_auc"] is None else f"{h['roc_auc']:.3f}"
        console.print(f"Health score for churn within {report.early_warning.horizon_days} days: ROC AUC {auc}; churn rate per band:")
        bands = Table("band", "account-dates", "churned", "churn rate", box=None, pad_edge=False)
        for b in h["bands"]:
            bands.add_row(b["band"], f"{b['rows']:,}", f"{b['churned']:,}", pct(b["churn_rate"]))
        console.print(bands)
    for name, level in report.by_level.items():
        console.print(
            f"Point in time, warning level {name}: {pct(level.precision)} churned within {level.horizon_days} days "
            f"({level.followed_by_churn:,} of {level.judged:,} judged account-days)."
        )
    if report.curve:
        show_curve(console, report)
    if report.model_lead_time is not None:
        show_model_lead_time(console, report)
    model = report.model
    if model is None:
        console.print(f"Churn model: {report.model_note}.")
        return
    console.print(
        f"Churn model over {model.n:,} account-dates ({report.model_note}): ROC AUC {model.roc_auc:.3f}"
        if model.roc_auc is not None
        else f"Churn model over {model.n:,} account-dates: one class only, no AUC"
    )
    if model.brier is not None:
        console.print(f"Brier score {model.brier:.4f}; calibration (deciles of predicted risk):")
    cal = Table("decile", "rows", "mean predicted", "observed", box=None, pad_edge=False)
    for b in model.calibration:
        cal.add_row(str(b.bin), f"{b.count}", pct(b.mean_predicted), pct(b.observed_rate))
    console.print(cal)
