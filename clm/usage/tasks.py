"""Scheduled upkeep of usage data on the task queue."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from clm.usage.services import prune_raw_events, roll_up_pending


@db_periodic_task(crontab(hour="3", minute="17"))
def prune_raw_events_nightly():
    return prune_raw_events()


@db_periodic_task(crontab(minute="*"))
@HUEY.lock_task("usage-roll-up")
def roll_up_pending_events():
    return roll_up_pending()
