"""The success programmes hear the domain events: the daily run starts and chases onboardings and
re-derives the plans' status; new usage completes the onboardings of the accounts it came from."""

import datetime as dt

from django.utils import timezone

from clm.core.events import Event, listen
from clm.success import onboarding, plans
from clm.success.models import Onboarding


@listen("lifecycle.run_finished")
def on_daily_run(event: Event) -> None:
    as_of = dt.date.fromisoformat(event.payload["as_of"])
    onboarding.daily(as_of)
    if as_of >= timezone.localdate():
        plans.refresh_plans(as_of)


@listen("usage.events_ingested")
def on_usage(event: Event) -> None:
    ids = event.payload.get("account_ids") or []
    ids = list(Onboarding.objects.filter(account_id__in=ids, status=Onboarding.Status.IN_PROGRESS)
               .values_list("account_id", flat=True))
    if ids:  # off the ingesting request: the queue counts the rollups first, then completes
        from clm.success.tasks import complete_from_usage

        complete_from_usage(sorted(set(ids)))
