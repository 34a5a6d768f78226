"""The reports' jobs on the task queue: the weekly KPI digest."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from clm.reports.digest import send_weekly_digests


@db_periodic_task(crontab(minute="15"))
@HUEY.lock_task("reports-weekly-digest")
def weekly_kpi_digest_hourly():
    """Hourly, so each manager's digest goes out soon after 07:00 on Monday in their own time zone."""
    return send_weekly_digests()
