from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clm.analytics.conditions import RuleError
from clm.core.console import console_for, parse_day
from clm.core.services import validation_messages
from clm.lifecycle import services
from clm.lifecycle.metrics import FutureDate


class Command(BaseCommand):
    help = (
        "The daily lifecycle run: metrics → health → signals → stages → churn risk → value, for all accounts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", type=parse_day, default=None, help="the day to compute, YYYY-MM-DD (default today)"
        )

    def handle(self, *args, as_of, **options):
        console = console_for(self.stdout)
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        ]
        try:
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("starting", total=len(services.STEPS))
                seen = []

                def step(name):
                    seen.append(name)
                    bar.update(task, completed=len(seen) - 1, description=name)

                record = services.run(as_of, progress=step)
        except (FutureDate, RuleError) as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError("; ".join(m["message"] for m in validation_messages(error))) from None
        show_summary(console, record)


def show_summary(console, record) -> None:
    s = record.summary
    seconds = (record.finished_at - record.started_at).total_seconds()
    console.print(
        f"Daily run for {s['as_of']}: {s['accounts']:,} accounts, {s['scored']:,} scored, in {seconds:.1f} s."
    )
    bands = s["bands"]
    console.print(
        f"Health: {bands.get('green', 0):,} green, {bands.get('yellow', 0):,} yellow, {bands.get('red', 0):,} red"
        f" ({s['turned_red']:,} turned red this week)."
    )
    transitions = s["transitions"]
    console.print(f"Stage changes: {transitions['total']:,}")
    table = Table("path", "accounts", box=None, pad_edge=False)
    for path, count in list(transitions["by_path"].items())[:12]:
        table.add_row(path, f"{count:,}")
    if transitions["total"]:
        console.print(table)
    signals = s["signals"]
    opened = ", ".join(f"{kind} {count:,}" for kind, count in signals["opened"].items()) or "none"
    if signals["open"] is None:
        console.print(f"Signals: {signals['note']}.")
    else:
        console.print(
            f"Signals: {sum(signals['opened'].values()):,} new ({opened}); {signals['closed']:,} closed; "
            f"{signals['open']:,} open."
        )
    levels = s.get("warnings") or {}
    console.print(
        "Warning levels: " + (", ".join(f"{level} {count:,}" for level, count in levels.items()) or "no warning")
    )
    console.print(
        f"Churn risk: {s['predictions']:,} accounts scored."
        if s["predictions"]
        else "Churn risk: no active model (clm train)."
    )
    value = s["value"]
    if value is None:
        return
    methods = ", ".join(f"{method} {count:,}" for method, count in value["clv_by_method"].items()) or "none"
    console.print(
        f"Value: {value['clv_estimates']:,} CLV estimates ({methods}); {value['tier_assignments']:,} value tiers; "
        "recommendations " + ", ".join(f"{k} {v:,}" for k, v in value["recommendations"].items()) + "."
    )
    for problem in value["problems"]:
        console.print(f"  value: {problem}")
