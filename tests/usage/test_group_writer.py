"""Group commit of the event endpoint: concurrent batches share a transaction, each request gets
its own answer, and a failing batch fails only its own request."""

import threading

import pandas as pd
import pytest
from django.utils import timezone

from clm.core.models import User
from clm.customers.models import Account
from clm.usage.ingest import ingest
from clm.usage.ingest import writer as ingest_writer
from clm.usage.models import UsageEvent


def frame(n: int, tag: str) -> pd.DataFrame:
    return pd.DataFrame({"idempotency_key": [f"{tag}{i}" for i in range(n)]})


class FakeStore:
    """Stands in for store_alone: records the groups; the first write blocks until released, so
    the batches sent meanwhile queue up behind it."""

    def __init__(self, bad: str | None = None):
        self.groups: list[list[str]] = []
        self.release = threading.Event()
        self.first_started = threading.Event()
        self.bad = bad

    def __call__(self, frames):
        tags = [f["idempotency_key"].iloc[0][0] for f in frames]
        self.groups.append(tags)
        if len(self.groups) == 1:
            self.first_started.set()
            self.release.wait(5)
        if self.bad in tags:
            raise ValueError(f"batch {self.bad} is refused")
        return [len(f) for f in frames]


def run_concurrently(writer, frames, fake):
    results, threads = {}, []

    def send(f):
        tag = f["idempotency_key"].iloc[0][0]
        try:
            results[tag] = writer.store(f)
        except ValueError as exc:
            results[tag] = str(exc)

    first = threading.Thread(target=send, args=(frames[0],))
    first.start()
    assert fake.first_started.wait(5)
    for f in frames[1:]:
        threads.append(threading.Thread(target=send, args=(f,)))
        threads[-1].start()
    while len(writer._queue) < len(frames) - 1:  # all the others wait behind the first write
        threading.Event().wait(0.01)
    fake.release.set()
    for t in [first, *threads]:
        t.join(5)
    return results


def test_batches_sent_during_a_write_are_stored_together(monkeypatch):
    fake = FakeStore()
    monkeypatch.setattr(ingest_writer, "store_alone", fake)
    writer = ingest_writer.GroupWriter()
    results = run_concurrently(writer, [frame(3, "a"), frame(1, "b"), frame(2, "c"), frame(5, "d")], fake)
    assert results == {"a": 3, "b": 1, "c": 2, "d": 5}
    assert fake.groups[0] == ["a"]
    assert sorted(fake.groups[1]) == ["b", "c", "d"]


def test_a_group_is_limited_in_events(monkeypatch):
    fake = FakeStore()
    monkeypatch.setattr(ingest_writer, "store_alone", fake)
    writer = ingest_writer.GroupWriter(max_events=4)
    results = run_concurrently(writer, [frame(1, "a"), frame(3, "b"), frame(3, "c"), frame(1, "d")], fake)
    assert results == {"a": 1, "b": 3, "c": 3, "d": 1}
    assert all(sum({"a": 1, "b": 3, "c": 3, "d": 1}[t] for t in g) <= 4 for g in fake.groups)


def test_a_failing_batch_fails_only_its_own_request(monkeypatch):
    fake = FakeStore(bad="c")
    monkeypatch.setattr(ingest_writer, "store_alone", fake)
    writer = ingest_writer.GroupWriter()
    results = run_concurrently(writer, [frame(1, "a"), frame(2, "b"), frame(3, "c")], fake)
    assert results == {"a": 1, "b": 2, "c": "batch c is refused"}
    assert sorted(fake.groups[1]) == ["b", "c"]  # the group failed, then each batch went alone
    assert sorted(g[0] for g in fake.groups[2:]) == ["b", "c"]


@pytest.mark.django_db
def test_the_endpoint_stores_through_the_group_writer(monkeypatch):
    seen = []
    real = ingest_writer.store_alone
    monkeypatch.setattr(ingest_writer, "store_alone", lambda frames: seen.append(len(frames)) or real(frames))
    account = Account.objects.create(name="云帆")
    stamp = timezone.now().isoformat()
    events = [{"account": account.pk, "event": "login", "timestamp": stamp, "idempotency_key": f"k{i}"} for i in range(3)]
    user = User.objects.create_superuser("root", password="x")
    assert ingest(events, user)["stored"] == 3
    assert ingest(events, user) == {
        "received": 3,
        "stored": 0,
        "duplicates": 3,
        "errors": [],
        "errors_omitted": 0,
    }
    assert seen == [1, 1]
    assert UsageEvent.objects.count() == 3
