import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rich.table import Table

from clm.core.console import console_for, parse_day
from clm.reports import services, snapshots
from clm.reports.catalogue import STAGES
from clm.reports.periods import Period


class Command(BaseCommand):
    help = (
        "Reports: `clm report kpis` prints the KPI catalogue with values, targets and their inputs; "
        "`clm report snapshot` stores the company-wide KPI tables and figures as of a day (today by default)."
    )

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["kpis", "snapshot"])
        parser.add_argument("--as-of", type=parse_day, help="the period that contains this day (default: the last whole one)")
        parser.add_argument("--period", default="month", choices=["month", "quarter", "year"])
        parser.add_argument("--json", action="store_true", help="print the table as JSON (the API's figures)")

    def handle(self, *args, what, as_of, period, **options):
        if as_of and as_of > timezone.localdate():
            raise CommandError(f"--as-of {as_of} is in the future; the figures only exist up to today.")
        if what == "snapshot":
            day = as_of or timezone.localdate()
            rows = snapshots.take(day)
            seconds = sum(row.seconds for row in rows)
            self.stdout.write(f"{len(rows)} snapshots as of {day} stored ({seconds:.1f} s).")
            return
        try:
            chosen = Period.of(period, as_of) if as_of else services.default_period(period)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        rows = services.kpi_table(None, chosen)
        if options["json"]:
            self.stdout.write(json.dumps(
                {"period": chosen.label, "previous_period": chosen.previous().label,
                 "items": [services.row_data(row) for row in rows]}, ensure_ascii=False, indent=2))
            return
        table = Table(title=f"KPIs {chosen.label} (previous: {chosen.previous().label})")
        for column in ("stage", "KPI", "value", "numerator / denominator", "previous", "target", "status"):
            table.add_column(column)
        for row in rows:
            data = services.row_data(row)
            inputs = "" if data["numerator"] is None else f"{data['numerator']:g}"
            if data["denominator"] is not None:
                inputs += f" / {data['denominator']:g}"
            table.add_row(
                str(STAGES[row.kpi.stage]), str(row.kpi.name),
                "–" if data["value"] is None else f"{data['value']:.4g}",
                inputs if data["value"] is not None else (data["no_data"] or ""),
                "–" if data["previous_value"] is None else f"{data['previous_value']:.4g}",
                "–" if data["target"] is None else f"{data['target']:g}", str(services.STATUS_LABELS[row.status]),
            )
        console = console_for(self.stdout)
        console.width = max(console.width, 160)  # piped output: 80 columns would wrap every name
        console.print(table)
