"""Accounts for the work tests: one owned by `owner` (team East, looked after by `csm`), one owned
by `outsider` (team West)."""

import pytest

from clm.core import events
from clm.customers.models import Account, Contact


@pytest.fixture
def ours(owner, csm):
    return Account.objects.create(name="华为技术", sales_owner=owner, csm=csm)


@pytest.fixture
def theirs(outsider):
    return Account.objects.create(name="West Corp", sales_owner=outsider)


@pytest.fixture
def buyer(ours):
    return Contact.objects.create(account=ours, name="王芳")


@pytest.fixture
def heard():
    """The work events heard, as (name, payload), once their transaction commits."""
    got = []

    def listener(event):
        got.append((event.name, event.payload))

    events.listen("task.created", "task.completed", "case.opened", "case.closed")(listener)
    yield got
    events.unlisten(listener)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The observed band churn rates are cached per day; each test has its own history.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _english():
    # Service messages follow the active language; these tests read them in English.
    from django.utils import translation

    with translation.override("en"):
        yield
