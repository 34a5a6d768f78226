from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from clm.core.console import console_for
from clm.demo.console import (
    add_size_arguments,
    lifecycle_with_progress,
    show_model_quality,
    show_result,
    simulate_with_progress,
)
from clm.demo.plays import DEMO_PLAYBOOKS
from clm.demo.simulator import DEMO_PASSWORD, SimulationError, set_demo_login


class Command(BaseCommand):
    help = "Build the demo company (replacing any customer data), run the lifecycle computations and serve the app."

    def add_arguments(self, parser):
        add_size_arguments(parser)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="build and exit without serving")

    def handle(self, *args, accounts, months, seed, as_of, host, port, no_serve, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1–65535)")
        console = console_for(self.stdout)
        console.print("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        try:
            result = simulate_with_progress(
                console, accounts=accounts, months=months, seed=seed, as_of=as_of, wipe=True
            )
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        show_result(console, result)
        console.print("Running the lifecycle engine over the past year and training the churn model…")
        done = lifecycle_with_progress(console, result.spec.as_of, result=result, playbooks=DEMO_PLAYBOOKS)
        console.print(f"Lifecycle computations: {', '.join(done.steps)}.")
        show_model_quality(console, done)
        set_demo_login()
        console.print(
            f"\nOpen http://{host}:{port}/ and log in as [bold]admin[/bold] / [bold]{DEMO_PASSWORD}[/bold]"
            f" (the sales reps sales01…, CSMs csm01… use the same password)."
        )
        if not no_serve:
            call_command("serve", host=host, port=port)
