"""A stored batch of usage events is announced (usage.events_ingested) once the transaction that
stored it has committed: its distinct accounts and event names and how many events were new."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clm.core import events
from clm.core.models import User
from clm.customers.models import Account
from clm.usage.ingest import ingest
from clm.usage.models import UsageEvent

pytestmark = pytest.mark.django_db(transaction=True)

WHEN = (timezone.now() - dt.timedelta(hours=2)).isoformat()


@pytest.fixture
def heard():
    got = []

    def listener(event):
        # what the listener can see: the committed events, from outside any transaction
        got.append((event.payload, event.actor_id, connection.in_atomic_block, UsageEvent.objects.count()))

    events.listen("usage.events_ingested")(listener)
    yield got
    events.unlisten(listener)


@pytest.fixture
def accounts():
    return [Account.objects.create(name=name) for name in ("云帆", "远山", "unused")]


@pytest.fixture
def root():
    return User.objects.create_superuser("root", password="x")


def batch(accounts, tag: str) -> list[dict]:
    a, b, _ = accounts
    return [
        {"account": a.pk, "event": "login", "timestamp": WHEN, "idempotency_key": f"{tag}1"},
        {"account": b.pk, "event": "export", "timestamp": WHEN, "idempotency_key": f"{tag}2"},
        {"account": a.pk, "event": "login", "timestamp": WHEN, "idempotency_key": f"{tag}3"},
        {"account": a.pk, "event": "login", "timestamp": "yesterday"},  # refused: not announced
    ]


def test_a_stored_batch_is_heard_after_its_commit_with_its_accounts_and_event_names(api_as, heard, accounts, root):
    result = api_as(root).post("/events", batch(accounts, "k")).json_body
    assert result["stored"] == 3
    a, b, _ = accounts
    assert heard == [({"account_ids": [a.pk, b.pk], "count": 3, "names": ["export", "login"]}, root.pk, False, 3)]


def test_nothing_is_heard_before_the_transaction_commits_nor_after_a_rollback(heard, accounts, root):
    with transaction.atomic():
        assert ingest(batch(accounts, "k"), root)["stored"] == 3
        assert heard == []
    assert [payload["count"] for payload, *_ in heard] == [3]
    with pytest.raises(RuntimeError), transaction.atomic():
        assert ingest(batch(accounts, "r"), root)["stored"] == 3
        raise RuntimeError("the caller's transaction fails")
    assert len(heard) == 1


def test_a_batch_that_stores_nothing_new_is_not_announced(heard, accounts, root):
    ingest(batch(accounts, "k"), root)
    ingest(batch(accounts, "k"), root)  # all duplicates
    ingest(batch(accounts, "k")[3:], root)  # all refused
    assert [payload["count"] for payload, *_ in heard] == [3]
