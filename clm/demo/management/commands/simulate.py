from django.core.management.base import BaseCommand, CommandError

from clm.core.console import console_for
from clm.demo.console import add_size_arguments, show_result, simulate_with_progress
from clm.demo.simulator import SimulationError


class Command(BaseCommand):
    help = (
        "Build a simulated B2B customer base (accounts, contracts, orders, usage, tickets, NPS, the sales "
        "funnel) with its ground truth. Deterministic for a seed and an as-of date."
    )

    def add_arguments(self, parser):
        add_size_arguments(parser)
        parser.add_argument(
            "--raw-event-days",
            type=int,
            default=30,
            help="days before --as-of kept as raw usage events (default 30); older days as daily rollups",
        )
        parser.add_argument("--wipe", action="store_true", help="delete all existing customer data first")

    def handle(self, *args, accounts, months, seed, as_of, raw_event_days, wipe, **options):
        console = console_for(self.stdout)
        try:
            result = simulate_with_progress(
                console,
                accounts=accounts,
                months=months,
                seed=seed,
                as_of=as_of,
                raw_event_days=raw_event_days,
                wipe=wipe,
            )
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        show_result(console, result)
