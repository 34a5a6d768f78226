"""The daily lifecycle run on the task queue: every morning, and on demand from the API."""

import datetime as dt
import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from clm.analytics.churn import NotEnoughHistory
from clm.lifecycle import services, training
from clm.lifecycle.models import Run


@db_periodic_task(crontab(hour="5", minute="30"))
@HUEY.lock_task("lifecycle-daily-run")
def daily_run_every_morning():
    return services.run().summary


LOCK_RETRIES, LOCK_RETRY_DELAY = 30, 60  # wait up to half an hour for the run that holds the lock


@db_task(retries=LOCK_RETRIES, retry_delay=LOCK_RETRY_DELAY, context=True)
def daily_run(as_of: str, run_id: int, task=None):
    """A run asked for through services.request_run. While another run holds the lock it waits
    (Huey retries the task); if the lock never frees, the run is marked failed with the reason."""
    record = Run.objects.get(pk=run_id)
    try:
        with HUEY.lock_task("lifecycle-daily-run"):
            return services.run(dt.date.fromisoformat(as_of), record=record).summary
    except TaskLockedException:
        if task is not None and task.retries > 0:
            raise
        services.fail_run(record, "another daily run held the lock the whole time; ask again later")
        return None
    except Exception:
        # services.run has marked the run failed with the reason, which the API shows
        logging.getLogger("clm.lifecycle").exception("daily run %s for %s failed", run_id, as_of)
        return None


@db_periodic_task(crontab(day_of_week="0", hour="4", minute="10"))
@HUEY.lock_task("lifecycle-train")
def retrain_churn_model_weekly():
    """A new model version every Sunday from the history up to then; the daily run uses the latest."""
    try:
        return training.train().version
    except NotEnoughHistory as error:
        logging.getLogger("clm.lifecycle").info("churn model not retrained: %s", error)
        return None
