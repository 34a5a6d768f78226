"""The automation app's scheduled work on the task queue."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from clm.automation.digest import send_daily_digests


@db_periodic_task(crontab(minute="5"))
@HUEY.lock_task("automation-daily-digest")
def daily_digest_hourly():
    """Hourly, so each user's digest goes out soon after 07:00 in their own time zone."""
    return send_daily_digests()
