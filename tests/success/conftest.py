"""Builders of the success programmes' records the tests share."""

import datetime as dt

import pandas as pd
import pytest
from django.utils import timezone

from clm.success.models import ActivationDefinition, ActivationMilestone
from clm.usage.models import Feature
from clm.usage.services import store_events

TODAY = timezone.localdate


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


def make_definition(name="Standard", milestones=(), **criteria):
    """milestones: (name, kind, target, count, days_allowed[, first_value])."""
    definition = ActivationDefinition.objects.create(name=name, name_zh=name, **criteria)
    for position, (title, kind, target, count, days, *first) in enumerate(milestones):
        ActivationMilestone.objects.create(
            definition=definition, position=position, name=title, name_zh=title, kind=kind, target=target,
            count=count, days_allowed=days, first_value=bool(first and first[0]),
        )
    return definition


STANDARD = [
    ("First core feature", "core_feature", "", 1, 7, True),
    ("Three users on one day", "active_users", "", 3, 14),
    ("Integration connected", "integration", "integration.connected", 1, 30),
]


@pytest.fixture
def core_feature(db):
    return Feature.objects.create(key="approval_flow", name="审批流程", is_core=True)


def use(account, rows):
    """rows: (days ago, user key, event, feature); each at 10:00 local time, stored for real."""
    frame = pd.DataFrame(rows, columns=["ago", "user_key", "event", "feature"])
    zone = timezone.get_current_timezone()
    frame["occurred_at"] = [
        pd.Timestamp(dt.datetime.combine(days_ago(a), dt.time(10, 0), zone)) for a in frame.pop("ago")
    ]
    frame = frame.assign(account_id=account.pk, contact_id=None, quantity=1.0, duration_seconds=60.0,
                         properties="{}", idempotency_key=[f"k{i}-{account.pk}" for i in range(len(frame))])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return store_events(frame)


@pytest.fixture
def english():
    """The services' messages read in English (the workspace's language is Chinese)."""
    from django.utils import translation

    with translation.override("en"):
        yield
