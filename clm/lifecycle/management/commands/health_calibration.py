import json

from django.core.management.base import BaseCommand, CommandError
from rich.table import Table

from clm.core.console import console_for, parse_day
from clm.lifecycle import backtest, calibration
from clm.lifecycle.metrics import FutureDate


class Command(BaseCommand):
    help = (
        "Replay the health score over past dates and report, per health band, how many accounts churned "
        "within the horizon, and the score's ROC AUC for churn."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=parse_day, required=True, help="first as-of date, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", type=parse_day, required=True, help="last as-of date, YYYY-MM-DD")
        parser.add_argument("--step", default="14d", help="days between replayed dates: 7d, 2w, 14 (default 14d)")
        parser.add_argument("--horizon", type=int, default=180, help="churn within this many days (default 180)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, start, end, step, horizon, **options):
        try:
            step_days = backtest.parse_step(step)
            backtest.step_dates(start, end, step_days)
        except (backtest.BacktestError, FutureDate) as error:
            raise CommandError(str(error)) from None
        if horizon < 1:
            raise CommandError("--horizon must be at least 1 day")
        result = calibration.replay(start, end, step_days, horizon_days=horizon)
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
            return
        show(console_for(self.stdout), result, horizon)


def show(console, result, horizon: int) -> None:
    auc = "–" if result.roc_auc is None else f"{result.roc_auc:.3f}"
    console.print(
        f"Health over {result.rows:,} account-dates, {result.churned:,} followed by churn within {horizon} days; "
        f"ROC AUC of the score for churn {auc}."
    )
    table = Table("band", "account-dates", "churned", "churn rate", box=None, pad_edge=False)
    for band in result.bands:
        rate = "–" if band.churn_rate is None else f"{band.churn_rate:.1%}"
        table.add_row(band.band, f"{band.rows:,}", f"{band.churned:,}", rate)
    console.print(table)
    console.print(
        "Red churns more than yellow, yellow more than green."
        if result.ordered
        else "The bands are NOT ordered by churn: revisit the thresholds or the weights."
    )
