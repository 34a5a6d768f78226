from django.core.management.base import BaseCommand

from clm.usage.services import prune_raw_events


class Command(BaseCommand):
    help = "Delete raw usage events older than the retention age; the daily rollups are kept."

    def handle(self, **options):
        self.stdout.write(f"{prune_raw_events():,} raw events deleted")
