"""Scheduled upkeep of usage data on the task queue."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from clm.usage.services import prune_raw_events


@db_periodic_task(crontab(hour="3", minute="17"))
def prune_raw_events_nightly():
    return prune_raw_events()
