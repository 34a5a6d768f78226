import datetime as dt
import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import autodiscover_modules


class Command(BaseCommand):
    help = (
        "Run the background worker (the Huey consumer): playbook steps, the daily run, imports. "
        "On start it queues again the playbook steps that are due, and gives back those a killed "
        "worker left running."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2, help="worker threads (default 2)")
        parser.add_argument(
            "--stuck-after",
            type=int,
            default=600,
            help="seconds after which a step still marked running is taken for abandoned (default 600)",
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=0.5,
            help="longest pause, in seconds, between looks at an idle SQLite queue (default 0.5; Redis waits on the queue)",
        )
        parser.add_argument("--no-periodic", action="store_true", help="do not run the scheduled jobs here")
        parser.add_argument("--quiet", action="store_true", help="log warnings only")

    def handle(self, *args, workers, stuck_after, poll, no_periodic, quiet, **options):
        from huey.consumer_options import ConsumerConfig
        from huey.contrib.djhuey import HUEY

        from clm.automation.playbooks import engine

        if workers < 1 or stuck_after < 1 or not 0.01 <= poll <= 60:
            raise CommandError(
                "--workers and --stuck-after must be at least 1, --poll from 0.01 to 60 seconds"
            )
        autodiscover_modules("tasks")
        swept = engine.sweep(stuck_after=dt.timedelta(seconds=stuck_after), grace=dt.timedelta(0))
        self.stdout.write(
            f"Worker: {workers} threads on {'Redis' if settings.REDIS_URL else 'SQLite'} storage; "
            f"{swept['requeued']} due playbook steps queued again, {swept['unstuck']} abandoned ones given back."
        )
        self.stdout.flush()
        options = {**(settings.HUEY.get("consumer", {}) if isinstance(settings.HUEY, dict) else {})}
        # Huey's idle backoff would grow to 10 s: an event's playbook step would wait that long.
        options.update(
            workers=workers,
            worker_type="thread",
            periodic=not no_periodic,
            check_worker_health=True,
            initial_delay=min(0.05, poll),
            max_delay=poll,
        )
        config = ConsumerConfig(**options)
        config.validate()
        logger = logging.getLogger("huey")
        if not logger.handlers:
            config.setup_logger(logger)
        logger.setLevel(logging.WARNING if quiet else logging.INFO)
        HUEY.create_consumer(**config.values).run()
