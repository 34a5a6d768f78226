"""The success programmes' jobs on the task queue."""

from django.utils import timezone
from huey.contrib.djhuey import db_task

from clm.success import onboarding
from clm.usage.services import roll_up_pending


@db_task(retries=2, retry_delay=30)
def complete_from_usage(account_ids: list[int]):
    """After a batch of events: count what is pending into the rollups (the minute job may not
    have yet), then complete the onboarding milestones of these accounts that usage reached."""
    roll_up_pending()
    return onboarding.evaluate(timezone.localdate(), account_ids)
