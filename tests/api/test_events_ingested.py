"""A stored batch of usage events is announced (usage.events_ingested) once the transaction that
stored it has committed: its distinct accounts and event names and how many events were new."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clm.core import events
from clm.core.models import User
from clm.customers.models import Account
from clm.usage.ingest import ingest
from clm.usage.ingest import writer as ingest_writer
from clm.usage.models import UsageEvent
from tests.usage.test_group_writer_lock import OtherProcessWriting

pytestmark = pytest.mark.django_db(transaction=True)

WHEN = (timezone.now() - dt.timedelta(hours=2)).isoformat()


@pytest.fixture
def threads():
    """The thread each announcement was heard in."""
    return []


@pytest.fixture
def heard(threads):
    got = []

    def listener(event):
        # what the listener can see: the committed events, from outside any transaction
        got.append((event.payload, event.actor_id, connection.in_atomic_block, UsageEvent.objects.count()))
        threads.append(threading.current_thread().name)

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


def test_a_stored_batch_is_heard_after_its_commit_with_its_accounts_and_event_names(
    api_as, heard, accounts, root
):
    result = api_as(root).post("/events", batch(accounts, "k")).json_body
    assert result["stored"] == 3
    a, b, _ = accounts
    ((payload, *rest),) = heard
    assert rest == [root.pk, False, 3]
    assert {k: payload[k] for k in ("account_ids", "count", "names")} == {
        "account_ids": [a.pk, b.pk],
        "count": 3,
        "names": ["export", "login"],
    }
    # each event, for playbook triggers that filter on a name and properties
    assert sorted((e[0], e[2], e[4]) for e in payload["events"]) == [
        (a.pk, "login", "k1"),
        (a.pk, "login", "k3"),
        (b.pk, "export", "k2"),
    ]


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


def test_each_batch_of_a_group_is_heard_by_its_own_request_after_the_groups_commit(
    monkeypatch, heard, threads, accounts, root
):
    """Three requests whose batches one of them writes in one transaction (group commit): each
    request announces its own batch, in its own thread, once that transaction has committed."""
    lock = OtherProcessWriting()
    groups = []
    real = ingest_writer.store_alone
    monkeypatch.setattr(ingest_writer, "write_lock", lock)
    monkeypatch.setattr(
        ingest_writer, "store_alone", lambda frames: groups.append(len(frames)) or real(frames)
    )
    monkeypatch.setattr(ingest_writer, "GROUP_WRITER", ingest_writer.GroupWriter())
    requests = {}

    def send(tag):
        try:
            ingest(batch(accounts, tag)[: {"a": 1, "b": 2, "c": 3}[tag]], root)
        finally:
            connection.close()

    for tag in "abc":
        requests[tag] = threading.Thread(target=send, args=(tag,), name=f"request-{tag}")
        requests[tag].start()
        if tag == "a":
            assert lock.waiting.wait(5)  # "a" holds the writer: "b" and "c" queue behind it
    while len(ingest_writer.GROUP_WRITER._queue) < 3:
        threading.Event().wait(0.01)
    lock.release.set()
    for thread in requests.values():
        thread.join(10)
    assert groups == [3]  # one transaction for the three
    assert sorted(
        (payload["count"], committed, thread)
        for (payload, _, _, committed), thread in zip(heard, threads, strict=True)
    ) == [(1, 6, "request-a"), (2, 6, "request-b"), (3, 6, "request-c")]
