"""Usage event ingestion and the daily rollups it maintains, and the raw-event retention.

Every path that stores events (API batches, imports, the simulator) ends in `store_events`, which
inserts the new events and adds exactly those to the rollups, so a resent event changes nothing.
Batch loads roll up in the same transaction; the API defers it (`roll_up=False`): its events are
flagged pending and `roll_up_pending` — the task queue runs it every minute, and every reader
that needs fresh rollups calls it first — counts each pending event exactly once.
Idempotency keys are unique per account."""

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clm.core import bulk
from clm.core.models import Workspace
from clm.usage.models import UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily

EVENT_COLUMNS = [
    "account_id",
    "contact_id",
    "user_key",
    "event",
    "feature",
    "occurred_at",
    "quantity",
    "duration_seconds",
    "properties",
    "idempotency_key",
]
ROLLUP_COLUMNS = ["account_id", "contact_id", "user_key", "feature", "occurred_at", "duration_seconds"]


@dataclass
class StoreResult:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


def derive_keys(frame: pd.DataFrame) -> pd.Series:
    """Idempotency keys for events that came without one: a digest of what identifies the event,
    so the same event sent or imported twice is stored once."""
    parts = (
        frame["account_id"].astype(str)
        + "|" + frame["contact_id"].astype("string").fillna("")
        + "|" + frame["user_key"].astype(str)
        + "|" + frame["event"].astype(str)
        + "|" + frame["feature"].astype(str)
        + "|" + frame["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
        + "|" + frame["quantity"].astype(str)
        + "|" + frame["duration_seconds"].astype(str)
    )
    return "h:" + parts.map(lambda s: hashlib.blake2b(s.encode(), digest_size=16).hexdigest())


def retention_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=Workspace.current().event_retention_days)


def event_problems(frame: pd.DataFrame, now: dt.datetime | None = None) -> pd.Series:
    """Per row, the reason a well-typed event cannot be stored ('' when it can)."""
    now = now or timezone.now()
    problems = pd.Series("", index=frame.index, dtype=object)
    when = frame["occurred_at"]
    problems[when < pd.Timestamp(retention_cutoff(now))] = (
        f"occurred_at is older than the raw-event retention ({Workspace.current().event_retention_days} days)"
    )
    problems[when > pd.Timestamp(now + dt.timedelta(days=1))] = "occurred_at is in the future"
    problems[frame["quantity"] < 0] = "quantity is negative"
    problems[frame["duration_seconds"] < 0] = "duration_seconds is negative"
    problems[frame["event"].str.len() == 0] = "event is empty"
    return problems


def local_days(occurred_at: pd.Series) -> pd.Series:
    """The calendar day of each timestamp in the workspace's time zone (a Shanghai customer's
    day does not end at 08:00)."""
    return occurred_at.dt.tz_convert(settings.TIME_ZONE).dt.date


def store_events(frame: pd.DataFrame, *, roll_up: bool = True) -> StoreResult:
    """Store validated events (columns EVENT_COLUMNS; occurred_at tz-aware) and add the new ones
    to the rollups, in one transaction — or, with roll_up=False, leave them for roll_up_pending.
    Events whose idempotency key is known for their account are ignored."""
    if frame.empty:
        return StoreResult(0, 0)
    frame = frame.reset_index(drop=True)
    if frame["idempotency_key"].isna().any() or (frame["idempotency_key"] == "").any():
        missing = frame["idempotency_key"].isna() | (frame["idempotency_key"] == "")
        frame.loc[missing, "idempotency_key"] = derive_keys(frame[missing])
    received = len(frame)
    # Rows in key order: concurrent batches then take their locks in the same order (no deadlocks).
    frame = frame.drop_duplicates(["account_id", "idempotency_key"]).sort_values(["account_id", "idempotency_key"])
    stamp = frame["occurred_at"].dt.tz_convert("UTC")
    occurred = stamp.dt.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if connection.vendor == "postgresql" else "")
    contact = frame["contact_id"].astype("Int64").astype(object).where(frame["contact_id"].notna(), None)
    rows = zip(
        frame["account_id"].astype(int).tolist(),
        contact.tolist(),
        frame["user_key"].tolist(),
        frame["event"].tolist(),
        frame["feature"].tolist(),
        occurred.tolist(),
        frame["quantity"].astype(float).tolist(),
        frame["duration_seconds"].astype(float).tolist(),
        frame["properties"].tolist(),
        frame["idempotency_key"].tolist(),
        [roll_up] * len(frame),
        strict=True,
    )
    # No savepoint: inside an import's transaction a savepoint makes SQLite keep every page changed.
    with transaction.atomic(savepoint=False):
        inserted = bulk.insert(
            UsageEvent,
            [*EVENT_COLUMNS, "rolled_up"],
            rows,
            conflict=["account_id", "idempotency_key"],
            returning=["account_id", "idempotency_key"],
        )
        if not inserted or not roll_up:
            return StoreResult(received, len(inserted))
        if len(inserted) < len(frame):
            keys = pd.MultiIndex.from_frame(frame[["account_id", "idempotency_key"]].astype({"account_id": int}))
            frame = frame[keys.isin(inserted)]
        add_to_rollups(frame)
    return StoreResult(received, len(inserted))


def roll_up_pending(batch: int = 50_000) -> int:
    """Add the events stored with roll_up=False to the rollups and mark them counted; returns how
    many. Safe to run concurrently: on PostgreSQL each run claims its rows with SKIP LOCKED."""
    done = 0
    while True:
        with transaction.atomic():
            pending = UsageEvent.objects.filter(rolled_up=False).order_by("id")
            if connection.vendor == "postgresql":
                pending = pending.select_for_update(skip_locked=True)
            rows = list(pending.values_list("id", *ROLLUP_COLUMNS)[:batch])
            if not rows:
                return done
            frame = pd.DataFrame(rows, columns=["id", *ROLLUP_COLUMNS])
            frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
            add_to_rollups(frame)
            ids = frame["id"].tolist()
            for start in range(0, len(ids), 10_000):
                UsageEvent.objects.filter(id__in=ids[start : start + 10_000]).update(rolled_up=True)
            done += len(ids)


def add_to_rollups(events: pd.DataFrame) -> None:
    """Add newly stored events to the daily rollups (events and minutes add; distinct users are
    counted through UsageDailyUser, so a user seen in two batches of one day counts once).
    Upserts go in key order, so concurrent batches lock rows in the same order."""
    days = local_days(events["occurred_at"])
    minutes = events["duration_seconds"].astype(float) / 60.0
    base = pd.DataFrame({"account_id": events["account_id"].astype(int), "day": days, "minutes": minutes})

    users = events["user_key"].where(events["user_key"] != "", None)
    users = users.fillna("c:" + events["contact_id"].astype("Int64").astype("string"))
    identified = users.notna()
    pairs = pd.DataFrame(
        {"account_id": base["account_id"][identified], "day": days[identified], "user_key": users[identified]}
    ).drop_duplicates().sort_values(["account_id", "day", "user_key"])
    new_users = bulk.insert(
        UsageDailyUser,
        ["account_id", "day", "user_key"],
        pairs.itertuples(index=False, name=None),
        conflict=["account_id", "day", "user_key"],
        returning=["account_id", "day"],
    )
    daily = base.groupby(["account_id", "day"], sort=True).agg(events=("minutes", "size"), minutes=("minutes", "sum"))
    daily["active_users"] = 0
    if new_users:
        counted = pd.DataFrame(new_users, columns=["account_id", "day"])
        counted["day"] = pd.to_datetime(counted["day"]).dt.date
        daily["active_users"] = counted.groupby(["account_id", "day"]).size().reindex(daily.index, fill_value=0)
    daily = daily.reset_index()
    bulk.insert(
        UsageDaily,
        ["account_id", "day", "events", "active_users", "minutes"],
        daily[["account_id", "day", "events", "active_users", "minutes"]].itertuples(index=False, name=None),
        conflict=["account_id", "day"],
        add=["events", "active_users", "minutes"],
    )
    featured = events["feature"] != ""
    if featured.any():
        per_feature = (
            base[featured]
            .assign(feature=events["feature"][featured])
            .groupby(["account_id", "day", "feature"], sort=True)
            .agg(events=("minutes", "size"), minutes=("minutes", "sum"))
            .reset_index()
        )
        bulk.insert(
            UsageFeatureDaily,
            ["account_id", "day", "feature", "events", "minutes"],
            per_feature.itertuples(index=False, name=None),
            conflict=["account_id", "day", "feature"],
            add=["events", "minutes"],
        )


def prune_raw_events(now: dt.datetime | None = None, batch: int = 50_000) -> int:
    """Delete raw events older than the retention age; rollups stay. Returns how many went."""
    cutoff = retention_cutoff(now)
    deleted = 0
    while True:
        ids = list(UsageEvent.objects.filter(occurred_at__lt=cutoff).values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += UsageEvent.objects.filter(id__in=ids).delete()[0]


def empty_event_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS}).astype(
        {"quantity": np.float64, "duration_seconds": np.float64}
    )
