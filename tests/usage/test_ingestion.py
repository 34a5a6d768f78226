"""Event storage and the daily rollups it maintains: exact, idempotent, in the workspace's days."""

import datetime as dt
import struct

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from clm.customers.models import Account, Contact
from clm.usage.models import PendingEvents, UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily
from clm.usage.services import (
    DERIVED_KEY_SEEDS,
    Rollups,
    derive_keys,
    event_problems,
    id_runs,
    prepare_events,
    prune_raw_events,
    roll_up_pending,
    store_events,
    text_digests,
)

pytestmark = pytest.mark.django_db


def events(account, rows):
    """rows: (user_key, feature, local 'YYYY-MM-DD HH:MM' in Shanghai, seconds, key)."""
    frame = pd.DataFrame(rows, columns=["user_key", "feature", "local", "duration_seconds", "idempotency_key"])
    return frame.assign(
        account_id=account.pk,
        contact_id=None,
        event="use",
        occurred_at=pd.to_datetime(frame["local"]).dt.tz_localize("Asia/Shanghai"),
        quantity=1.0,
        properties="{}",
    ).drop(columns="local")


def recent(days_ago, hour="10:00"):
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return f"{day} {hour}"


def rollup(account):
    return {
        (r.day, r.events, r.active_users, round(r.minutes, 2))
        for r in UsageDaily.objects.filter(account=account)
    }


def test_it_rolls_events_up_per_local_day(account):
    result = store_events(events(account, [
        ("u1", "report", recent(2, "00:30"), 120, "a"),  # 16:30 UTC the day before: still day -2 locally
        ("u1", "report", recent(2, "23:50"), 60, "b"),
        ("u2", "", recent(2, "12:00"), 0, "c"),
        ("u1", "dashboard", recent(1), 30, "d"),
    ]))
    assert (result.received, result.stored, result.duplicates) == (4, 4, 0)
    two, one = timezone.localdate() - dt.timedelta(days=2), timezone.localdate() - dt.timedelta(days=1)
    assert rollup(account) == {(two, 3, 2, 3.0), (one, 1, 1, 0.5)}
    features = set(UsageFeatureDaily.objects.values_list("day", "feature", "events", "minutes"))
    assert features == {(two, "report", 2, 3.0), (one, "dashboard", 1, 0.5)}


def test_resending_events_changes_nothing(account):
    batch = events(account, [("u1", "report", recent(1), 60, "k1"), ("u2", "report", recent(1), 60, "k2")])
    store_events(batch)
    before = rollup(account)
    again = store_events(batch)
    assert (again.stored, again.duplicates) == (0, 2)
    assert rollup(account) == before
    assert UsageEvent.objects.count() == 2


def test_distinct_users_stay_exact_across_batches(account):
    store_events(events(account, [("u1", "", recent(1), 0, "1"), ("u2", "", recent(1), 0, "2")]))
    store_events(events(account, [("u1", "", recent(1, "18:00"), 0, "3"), ("u3", "", recent(1), 0, "4")]))
    (row,) = UsageDaily.objects.filter(account=account)
    assert (row.events, row.active_users) == (4, 3)
    assert UsageDailyUser.objects.filter(account=account).count() == 3


def test_a_partly_new_batch_adds_only_the_new_events(account):
    store_events(events(account, [("u1", "", recent(1), 60, "1")]))
    result = store_events(events(account, [("u1", "", recent(1), 60, "1"), ("u2", "", recent(1), 120, "2")]))
    assert (result.stored, result.duplicates) == (1, 1)
    (row,) = UsageDaily.objects.filter(account=account)
    assert (row.events, row.active_users, row.minutes) == (2, 2, 3.0)


def test_events_without_keys_get_a_stable_derived_key(account):
    batch = events(account, [("u1", "", recent(1), 60, None), ("u1", "", recent(1, "11:00"), 60, "")])
    assert store_events(batch).stored == 2
    assert store_events(batch).stored == 0
    assert all(k.startswith("h:") for k in UsageEvent.objects.values_list("idempotency_key", flat=True))


def test_contacts_count_as_users_when_there_is_no_user_key(account):
    contact = Contact.objects.create(account=account, name="李雷")
    batch = events(account, [("", "", recent(1), 0, "1"), ("", "", recent(1), 0, "2"), ("", "", recent(1), 0, "3")])
    batch["contact_id"] = [contact.pk, contact.pk, None]
    store_events(batch)
    (row,) = UsageDaily.objects.filter(account=account)
    assert (row.events, row.active_users) == (3, 1)  # the anonymous event counts, but not as a user


def test_it_names_what_cannot_be_stored(account):
    batch = events(account, [
        ("u", "", recent(1), 0, "ok"),
        ("u", "", recent(500), 0, "old"),
        ("u", "", recent(-3), 0, "future"),
        ("u", "", recent(1), -5, "negative"),
    ])
    assert event_problems(batch).tolist() == [
        "",
        "occurred_at is older than the raw-event retention (400 days)",
        "occurred_at is in the future",
        "duration_seconds is negative",
    ]


def test_pruning_deletes_old_raw_events_and_keeps_rollups(account):
    store_events(events(account, [("u", "", recent(10), 60, "a"), ("u", "", recent(1), 60, "b")]))
    later = timezone.now() + dt.timedelta(days=395)
    assert prune_raw_events(now=later) == 1
    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["b"]
    assert UsageDaily.objects.filter(account=account).count() == 2


def test_deferred_events_are_counted_once_by_the_roll_up(account):
    batch = events(account, [("u1", "report", recent(1), 60, "a"), ("u2", "report", recent(1), 60, "b")])
    assert store_events(batch, roll_up=False).stored == 2
    assert rollup(account) == set()
    assert PendingEvents.objects.count() == 1  # a run of two ids
    assert roll_up_pending() == 2
    assert roll_up_pending() == 0
    store_events(events(account, [("u1", "", recent(1, "20:00"), 30, "c")]), roll_up=False)
    assert roll_up_pending() == 1
    day = timezone.localdate() - dt.timedelta(days=1)
    assert rollup(account) == {(day, 3, 2, 2.5)}
    assert not PendingEvents.objects.exists()


def test_a_resent_deferred_batch_lists_only_its_new_events(account):
    """On PostgreSQL the events' ids are drawn before the COPY; a batch that repeats stored
    events takes the careful path, and only the events it stored wait for the roll-up."""
    store_events(events(account, [("u1", "", recent(1), 60, "a")]), roll_up=False)
    again = events(account, [("u1", "", recent(1), 60, "a"), ("u2", "", recent(1), 60, "b")])
    assert store_events(again, roll_up=False).stored == 1
    listed = {i for first, last in PendingEvents.objects.values_list("first_id", "last_id") for i in range(first, last + 1)}
    assert set(UsageEvent.objects.values_list("id", flat=True)) <= listed
    assert roll_up_pending() == 2
    assert {(r[1], r[2]) for r in rollup(account)} == {(2, 2)}


def test_a_pending_event_deleted_meanwhile_is_struck_off_uncounted(account):
    other = Account.objects.create(name="远山")
    store_events(events(account, [("u1", "", recent(1), 60, "a")]), roll_up=False)
    store_events(events(other, [("u9", "", recent(1), 60, "z")]), roll_up=False)
    other.delete()
    assert roll_up_pending() == 1
    assert not PendingEvents.objects.exists()
    assert UsageDaily.objects.count() == 1 and {(r[1], r[2]) for r in rollup(account)} == {(1, 1)}


def test_the_roll_up_works_in_batches(account):
    rows = [(f"u{i % 7}", "", recent(1 + i % 3), 60, f"k{i}") for i in range(25)]
    for start in range(0, 25, 5):
        store_events(events(account, rows[start : start + 5]), roll_up=False)
    assert PendingEvents.objects.count() == 5
    assert roll_up_pending(runs=2) == 25
    assert sum(r[1] for r in rollup(account)) == 25
    assert sum(r[2] for r in rollup(account)) == 21  # 7 users on each of 3 days


def test_deleting_an_account_or_contact_reaches_its_events(account):
    """The events and rollup tables have no foreign keys in the database (for ingestion speed):
    Django carries out the CASCADE and SET_NULL, so no event or rollup is left pointing at nothing."""
    other = Account.objects.create(name="远山")
    contact = Contact.objects.create(account=account, name="李雷")
    batch = events(account, [("u1", "reports", recent(1), 0, "a"), ("", "", recent(1), 0, "b")])
    batch["contact_id"] = [None, contact.pk]
    store_events(batch)
    store_events(events(other, [("u9", "reports", recent(1), 0, "c")]))
    contact.delete()
    assert list(UsageEvent.objects.filter(account=account).order_by("idempotency_key").values_list("idempotency_key", "contact_id")) == [
        ("a", None), ("b", None)
    ]
    account.delete()
    assert list(UsageEvent.objects.values_list("account_id", flat=True)) == [other.pk]
    for rollup_model in (UsageDaily, UsageDailyUser, UsageFeatureDaily):  # no constraints either
        assert rollup_model.objects.exists()
        assert not rollup_model.objects.exclude(account=other).exists(), rollup_model


def test_derived_keys_stay_the_same_across_versions():
    """Re-importing a file stored by an earlier version must find its events: the digest's input
    (and so the key) is fixed. The account is not in it (keys are unique per account)."""
    frame = pd.DataFrame({
        "account_id": [42], "contact_id": pd.array([7], dtype="Int64"), "user_key": ["u1"], "event": ["login"],
        "feature": ["reports"], "occurred_at": pd.to_datetime(["2024-03-01T09:30:00.5+08:00"], utc=True),
        "quantity": [1.0], "duration_seconds": [12.5],
    })
    assert derive_keys(frame) == ["h:a426e4187450f9cd2c6255587ea511e5"]
    shanghai = frame.assign(occurred_at=frame["occurred_at"].dt.tz_convert("Asia/Shanghai"))
    assert derive_keys(shanghai) == derive_keys(frame)  # the same instant, whatever its zone
    assert derive_keys(frame.assign(account_id=[43])) == derive_keys(frame)
    for change in ({"user_key": ["u2"]}, {"event": ["logout"]}, {"feature": [""]}, {"quantity": [2.0]},
                   {"duration_seconds": [12.6]}, {"contact_id": pd.array([None], dtype="Int64")},
                   {"occurred_at": frame["occurred_at"] + pd.Timedelta(microseconds=1)}):
        assert derive_keys(frame.assign(**change)) != derive_keys(frame), change
    assert derive_keys(frame.assign(user_key=["u\ud800"]))[0].startswith("h:")  # a lone surrogate hashes too


def test_a_derived_key_is_what_its_definition_says():
    """derive_keys' docstring, computed one event at a time with Python's integers."""

    def mix(digest, word):  # splitmix64's finaliser of the XOR
        v = digest ^ word
        v ^= v >> 30
        v = (v * 0xBF58476D1CE4E5B9) % 2**64
        v ^= v >> 27
        v = (v * 0x94D049BB133111EB) % 2**64
        return v ^ (v >> 31)

    def bits(x: float) -> int:
        return struct.unpack("<Q", struct.pack("<d", x))[0]

    when = dt.datetime(2024, 3, 1, 1, 30, 0, 500000, tzinfo=dt.UTC)
    micros = (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    halves = []
    for seed in DERIVED_KEY_SEEDS:
        digest = 0
        for text in ("u1", "login", "reports"):
            digest = mix(digest, int(text_digests(np.array([text], dtype=object), seed)[0]))
        for word in (7, micros, bits(1.0), bits(12.5)):
            digest = mix(digest, word)
        halves.append(f"{digest:016x}")
    frame = pd.DataFrame({
        "account_id": [1], "contact_id": pd.array([7], dtype="Int64"), "user_key": ["u1"], "event": ["login"],
        "feature": ["reports"], "occurred_at": pd.Series([when]), "quantity": [1.0], "duration_seconds": [12.5],
    })
    assert derive_keys(frame) == ["h:" + "".join(halves)]


def test_the_digest_is_siphash_2_4():
    """SipHash-2-4 with the reference test vectors of Aumasson & Bernstein, "SipHash: a fast
    short-input PRF" (2012), key 00 01 .. 0f: the empty message gives 0x726fdb47dd0e0e31 and the
    message 00 01 .. 0e gives 0xa129ca6149be45e5; pandas then applies splitmix64's final mixing."""

    def mix(v):  # splitmix64's finaliser, as pandas.util.hash_array applies it
        v ^= v >> 30
        v = (v * 0xBF58476D1CE4E5B9) % 2**64
        v ^= v >> 27
        v = (v * 0x94D049BB133111EB) % 2**64
        return v ^ (v >> 31)

    key = "".join(map(chr, range(16)))
    messages = np.array(["", "".join(map(chr, range(15)))], dtype=object)
    assert text_digests(messages, key).tolist() == [mix(0x726FDB47DD0E0E31), mix(0xA129CA6149BE45E5)]


def test_an_import_sized_batch_rolls_up_like_many_small_ones(account):
    """Rollups gathered over several batches (as an import does) equal rollups written per batch."""
    other = Account.objects.create(name="远山")
    rows = [(f"u{i % 5}", ["", "report", "export"][i % 3], recent(1 + i % 4, f"{i % 24:02d}:15"), i % 7 * 30, f"k{i}")
            for i in range(60)]
    for start in range(0, 60, 7):
        store_events(events(account, rows[start : start + 7]))
    rollups = Rollups(limit=10)  # small: forces intermediate writes
    for start in range(0, 60, 7):
        store_events(events(other, rows[start : start + 7]), rollups=rollups)
    rollups.write()

    def state(acc):
        daily = {(r.day, r.events, r.active_users, round(r.minutes, 2)) for r in UsageDaily.objects.filter(account=acc)}
        features = set(UsageFeatureDaily.objects.filter(account=acc).values_list("day", "feature", "events", "minutes"))
        return daily, features

    assert state(other) == state(account)
    assert sum(r[1] for r in state(account)[0]) == 60


def test_idempotency_keys_compare_as_bytes_on_postgresql():
    """Migration usage/0005: the unique index on (account, key) compares keys as bytes, whatever
    the database's locale (cheaper at every insert; keys are opaque)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite compares text as bytes already")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'usage_usageevent' AND column_name = 'idempotency_key'"
        )
        assert cursor.fetchone() == ("C",)


def test_columns_at_their_default_in_every_row_are_left_to_the_database(account):
    """A batch whose rows all have a column's default (no quantity, contact or properties: most
    exports) leaves the column out of the insert; the database's default fills it, the same
    value. A batch with one other value sends the column whole."""
    plain = events(account, [("", "", recent(1, f"10:0{i}"), 0, f"p{i}") for i in range(3)])
    assert set(prepare_events(plain).columns) == {"account_id", "event", "occurred_at", "idempotency_key"}
    store_events(plain)
    mixed = events(account, [("u1", "reports", recent(1, "11:00"), 30, "m1"), ("", "", recent(1, "11:01"), 0, "m2")])
    mixed["quantity"] = [2.5, 1.0]
    mixed["properties"] = ['{"plan": "pro"}', "{}"]
    prepared = prepare_events(mixed)
    assert {"user_key", "feature", "quantity", "duration_seconds", "properties"} <= set(prepared.columns)
    store_events(mixed)
    stored = {
        e.idempotency_key: (e.user_key, e.feature, e.quantity, e.duration_seconds, e.properties, e.contact_id)
        for e in UsageEvent.objects.filter(account=account)
    }
    assert stored == {
        "p0": ("", "", 1.0, 0.0, {}, None), "p1": ("", "", 1.0, 0.0, {}, None), "p2": ("", "", 1.0, 0.0, {}, None),
        "m1": ("u1", "reports", 2.5, 30.0, {"plan": "pro"}, None), "m2": ("", "", 1.0, 0.0, {}, None),
    }


def test_id_runs():
    assert id_runs(np.array([7, 3, 4, 5, 9, 10], dtype=np.int64)) == [[3, 7, 9], [5, 7, 10]]
    assert id_runs(np.array([], dtype=np.int64)) == [[], []]
