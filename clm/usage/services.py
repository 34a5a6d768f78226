"""Usage event ingestion and the daily rollups it maintains, and the raw-event retention.

Every path that stores events (API batches, imports, the simulator) ends in `store_events`, which
inserts the new events and adds exactly those to the rollups, so a resent event changes nothing.
Batch loads roll up in the same transaction; the API defers it (`roll_up=False`): its events are
listed in PendingEvents and `roll_up_pending` — the task queue runs it every minute, and every
reader that needs fresh rollups calls it first — counts each listed event exactly once.
Idempotency keys are unique per account. An API batch is announced (usage.events_ingested) once
it is committed."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from clm.core import bulk
from clm.core.events import emit
from clm.core.models import Workspace
from clm.usage.models import PendingEvents, UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily

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
# The events table's defaults in the database (UsageEvent: db_default; contact_id NULL).
EVENT_DEFAULTS = {"user_key": "", "feature": "", "quantity": 1.0, "duration_seconds": 0.0, "properties": "{}"}
ROLLUP_COLUMNS = ["account_id", "contact_id", "user_key", "feature", "occurred_at", "duration_seconds"]


@dataclass
class StoreResult:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


def utc_text(occurred_at: pd.Series) -> np.ndarray:
    """Tz-aware timestamps as UTC 'YYYY-MM-DD HH:MM:SS.ffffff' text (what the events table
    holds), formatted in C."""
    stamps = occurred_at.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    text = np.datetime_as_string(stamps, unit="us")
    text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")  # ISO's "T" (UCS-4 characters)
    return text


# Two fixed SipHash-2-4 keys (pandas' hash_array): a derived idempotency key is 128 bits.
DERIVED_KEY_SEEDS = ("clm-event-key-01", "clm-event-key-02")


def derive_keys(frame: pd.DataFrame) -> list[str]:
    """Idempotency keys for events that came without one, so the same event sent or imported
    twice is stored once: "h:" and 32 hex digits, two 64-bit digests of what identifies the event.
    Each digest starts from 0 and takes in, one word at a time (`mix`), the user, the event name
    and the feature (their SipHash-2-4 under the digest's seed), the contact's id (0: none), the
    time in microseconds since 1970 (UTC), and the quantity's and duration's 64-bit floats. Keys
    are unique per account, so the account is not part of it. Vectorised: a million events take
    a fraction of a second."""
    n = len(frame)
    texts = [frame[name].to_numpy(dtype=object) for name in ("user_key", "event", "feature")]
    numbers = [
        frame["contact_id"].astype("Int64").fillna(0).to_numpy(dtype=np.int64).view(np.uint64),
        frame["occurred_at"].dt.tz_convert("UTC").to_numpy("datetime64[us]").view(np.int64).view(np.uint64),
        frame["quantity"].to_numpy(dtype=np.float64).view(np.uint64),
        frame["duration_seconds"].to_numpy(dtype=np.float64).view(np.uint64),
    ]
    coded = [pd.factorize(t) for t in texts]  # few distinct values: hashed once each
    digests = []
    for seed in DERIVED_KEY_SEEDS:
        digest = np.zeros(n, dtype=np.uint64)
        for codes, distinct in coded:
            digest = mix(digest, text_digests(np.asarray(distinct, dtype=object), seed)[codes])
        for word in numbers:
            digest = mix(digest, word)
        digests.append(digest)
    hexes = np.stack(digests, axis=1).astype(">u8").tobytes().hex()
    return ["h:" + hexes[i : i + 32] for i in range(0, len(hexes), 32)]


def mix(digest: np.ndarray, word: np.ndarray) -> np.ndarray:
    """The digest with one more 64-bit word taken in: splitmix64's finaliser of their XOR, one to
    one, so two inputs that differ in a single word never give the same digest."""
    v = digest ^ word
    v ^= v >> np.uint64(30)
    v *= np.uint64(0xBF58476D1CE4E5B9)
    v ^= v >> np.uint64(27)
    v *= np.uint64(0x94D049BB133111EB)
    return v ^ (v >> np.uint64(31))


def text_digests(texts: np.ndarray, seed: str = DERIVED_KEY_SEEDS[0]) -> np.ndarray:
    """SipHash-2-4 of each text's UTF-8 bytes under the 16-character `seed`, then pandas' final
    bit mixing (splitmix64's, one to one), as uint64: pandas.util.hash_array, computed in C."""
    try:
        return pd.util.hash_array(texts, hash_key=seed, categorize=False)
    except UnicodeEncodeError:  # a lone surrogate: hash the bytes Python would write for it
        encoded = np.array([t.encode("utf-8", "surrogatepass") for t in texts], dtype=object)
        return pd.util.hash_array(encoded, hash_key=seed, categorize=False)


def retention_cutoff(now: dt.datetime | None = None, days: int | None = None) -> dt.datetime:
    days = Workspace.current().event_retention_days if days is None else days
    return (now or timezone.now()) - dt.timedelta(days=days)


EVENT_TOO_OLD = gettext_noop("occurred_at is older than the raw-event retention (%(days)s days)")


def event_problems(frame: pd.DataFrame, now: dt.datetime | None = None, days: int | None = None) -> pd.Series:
    """Per row, the reason a well-typed event cannot be stored ('' when it can; the last check
    that fails names it), in English and led by the field (clm.io.engine translates them for a
    person). `days`: the retention age (the workspace's, read when not given)."""
    now = now or timezone.now()
    days = Workspace.current().event_retention_days if days is None else days
    problems = properties_problems(frame["properties"].to_numpy(dtype=object))
    when = frame["occurred_at"]
    checks = [
        (when < pd.Timestamp(retention_cutoff(now, days)), EVENT_TOO_OLD % {"days": days}),
        (when > pd.Timestamp(now + dt.timedelta(days=1)), gettext_noop("occurred_at is in the future")),
        (frame["quantity"] < 0, gettext_noop("quantity is negative")),
        (frame["duration_seconds"] < 0, gettext_noop("duration_seconds is negative")),
        (frame["event"].str.len() == 0, gettext_noop("event is empty")),
    ]
    for failed, reason in checks:
        problems[failed.to_numpy(dtype=bool, na_value=False)] = reason
    return pd.Series(problems, index=frame.index, dtype=object)


# The bounds of an event's properties, as the JSON text stored. Segment refuses an event over 32 KB,
# so whatever a Segment source sends fits; Mixpanel takes 255 properties and nests objects 3 deep
# inside a property (the properties object, and a list, are levels here too).
PROPERTIES_MAX_BYTES = 32 * 1024
PROPERTIES_MAX_DEPTH = 5
PROPERTIES_MAX_KEYS = 255
# Literal texts, for the catalogue (tests/usage/test_properties_bounds.py checks their numbers).
PROPERTIES_TOO_LARGE = gettext_noop("properties are larger than 32 KB (32,768 bytes as JSON)")
PROPERTIES_TOO_DEEP = gettext_noop(
    "properties nest more than 5 levels deep "
    "(the properties object is one level, and each object or list in it one more)"
)
PROPERTIES_TOO_WIDE = gettext_noop("properties hold an object of more than 255 keys")


def properties_problems(texts: np.ndarray) -> np.ndarray:
    """Per event, why its properties (the JSON text of an object) are not stored: larger, deeper
    or wider than the bounds above ('' when they are within them). The reasons are fixed texts:
    callers group the events by reason."""
    problems = np.full(len(texts), "", dtype=object)
    size, openings, colons = json_text_counts(texts.tolist())
    problems[size > PROPERTIES_MAX_BYTES] = PROPERTIES_TOO_LARGE
    # Brackets and colons inside strings count too: these only pick the texts worth parsing.
    suspect = (size <= PROPERTIES_MAX_BYTES) & ((openings > PROPERTIES_MAX_DEPTH) | (colons > PROPERTIES_MAX_KEYS))
    for i in np.flatnonzero(suspect).tolist():
        depth, keys = json_shape(json.loads(texts[i]))
        if depth > PROPERTIES_MAX_DEPTH:
            problems[i] = PROPERTIES_TOO_DEEP
        elif keys > PROPERTIES_MAX_KEYS:
            problems[i] = PROPERTIES_TOO_WIDE
    return problems


def json_text_counts(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per text, its size in UTF-8 bytes and how many opening brackets ({ and [) and colons it
    holds, counted in numpy over the texts joined by newlines (json and msgspec write none; when
    a text holds one, every text is counted in Python)."""
    n = len(texts)
    data = np.frombuffer("\n".join(texts).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    newline = data == ord("\n")
    if newline.sum() != max(n - 1, 0):
        size = np.fromiter((len(t.encode("utf-8", "surrogatepass")) for t in texts), np.int64, n)
        openings = np.fromiter((t.count("{") + t.count("[") for t in texts), np.int64, n)
        colons = np.fromiter((t.count(":") for t in texts), np.int64, n)
        return size, openings, colons
    text = np.cumsum(newline)  # which text each byte belongs to (a newline: the next one's)
    size = np.bincount(text, minlength=n) - (np.arange(n) > 0)
    openings = np.bincount(text[(data == ord("{")) | (data == ord("["))], minlength=n)
    colons = np.bincount(text[data == ord(":")], minlength=n)
    return size, openings, colons


def json_shape(value) -> tuple[int, int]:
    """The nesting depth of a JSON value (each object or list is a level) and the most keys an
    object in it has."""
    depth = keys = 0
    stack = [(value, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            keys = max(keys, len(value))
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in children)
    return depth, keys


def local_days(occurred_at: pd.Series) -> np.ndarray:
    """The calendar day of each timestamp in the workspace's time zone (a Shanghai customer's
    day does not end at 08:00), as datetime64[D]."""
    local = occurred_at.dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None)
    return local.to_numpy("datetime64[us]").astype("datetime64[D]")


def store_events(frame: pd.DataFrame, *, roll_up: bool = True, rollups: Rollups | None = None) -> StoreResult:
    """Store validated events (columns EVENT_COLUMNS; occurred_at tz-aware) and add the new ones
    to the rollups, in one transaction — or, with roll_up=False, leave them for roll_up_pending,
    or, given `rollups`, gather their increments there for the caller to write before its
    transaction ends (an import writes each rollup row once, not once per chunk).
    Events whose idempotency key is known for their account are ignored."""
    prepared = prepare_events(frame, roll_up=roll_up)
    # No savepoint: the events and their rollups go together, in the caller's transaction if any.
    with transaction.atomic(savepoint=False):
        result, new = store_prepared(prepared)
        if len(new):
            if rollups is not None:
                rollups.add(new)
            else:
                add_to_rollups(new)
    return result


def announce_ingested(frame: pd.DataFrame, stored: int, *, actor=None) -> None:
    """Say that a batch of checked events (`frame`) was stored, `stored` of them new
    (usage.events_ingested, heard once the current transaction commits, at once outside one): the
    count, the batch's distinct accounts and event names, and each event as [account, contact,
    name, properties as JSON text, idempotency key] for what reacts to a named event (playbook
    triggers). Those include the batch's duplicates: store_events counts the new events but does
    not say which they were, and the keys make a repeated one harmless."""
    if not stored:
        return
    contacts = frame["contact_id"].astype("Int64").to_numpy(dtype=object, na_value=None)
    keys = frame["idempotency_key"].to_numpy(dtype=object).copy()
    missing = pd.isna(keys) | (keys == "")
    if missing.any():
        keys[missing] = derive_keys(frame[missing])
    emit(
        "usage.events_ingested",
        actor=actor,
        account_ids=np.unique(frame["account_id"].to_numpy(dtype=np.int64)).tolist(),
        count=stored,
        names=sorted(pd.unique(frame["event"].to_numpy(dtype=object)).tolist()),
        events=[
            list(e)
            for e in zip(
                frame["account_id"].tolist(),
                contacts.tolist(),
                frame["event"].tolist(),
                frame["properties"].tolist(),
                keys.tolist(),
                strict=True,
            )
        ],
    )


@dataclass
class PreparedEvents:
    """Events ready to store: keyed, deduplicated, in store order, as the events table's columns."""

    frame: pd.DataFrame
    columns: list[str]
    rows: bulk.Columns
    received: int
    roll_up: bool


def prepare_events(frame: pd.DataFrame, *, roll_up: bool = True) -> PreparedEvents:
    """The computing half of store_events, without the database (an import runs it in one
    thread while another stores the chunk before)."""
    if frame.empty:
        return PreparedEvents(frame, [], bulk.Columns([]), 0, roll_up)
    frame = frame.reset_index(drop=True)
    keys = frame["idempotency_key"].to_numpy(dtype=object)
    missing = pd.isna(keys) | (keys == "")
    if missing.any():
        keys = keys.copy()
        keys[missing] = derive_keys(frame if missing.all() else frame[missing])
        frame["idempotency_key"] = pd.Series(keys, index=frame.index, dtype=object)
    received = len(frame)
    # Rows in the order of (account, digest of the key): concurrent batches take their locks in
    # the same order (no deadlocks on PostgreSQL), an account's index entries are written
    # together, and duplicates sit side by side. Digests sort a hundred times faster than text.
    account = frame["account_id"].to_numpy(dtype=np.int64)
    order = np.lexsort((text_digests(keys), account))
    account, sorted_keys = account[order], keys[order]
    first = np.ones(len(order), dtype=bool)  # the first of each (account, key)
    first[1:] = (account[1:] != account[:-1]) | (sorted_keys[1:] != sorted_keys[:-1])
    if not first.all():
        order = order[first]
        frame = frame.iloc[np.sort(order)]  # without the repeats (the rollups need no order)
        order = np.searchsorted(frame.index.to_numpy(), order)  # the store order, as positions in it

    # Columns left to the database's default (EVENT_DEFAULTS) when every row has it: each value
    # sent costs the client and the server time, and most event exports have no quantity,
    # contact or properties.
    at_default = {name for name, default in EVENT_DEFAULTS.items() if (frame[name].to_numpy() == default).all()}

    def column(name: str, dtype=object) -> list | None:
        """One column's values in store order, for the driver (None: left to the default)."""
        return None if name in at_default else frame[name].to_numpy(dtype=dtype)[order].tolist()

    occurred = utc_text(frame["occurred_at"])[order].tolist()
    if connection.vendor == "postgresql" and connection.timezone_name != "UTC":  # Django's is UTC
        occurred = [t + "+00:00" for t in occurred]
    contacts = frame["contact_id"]
    values = {
        "account_id": column("account_id", np.int64),
        "contact_id": contacts.astype("Int64").to_numpy(dtype=object, na_value=None)[order].tolist()
        if contacts.notna().any() else None,
        "user_key": column("user_key"),
        "event": column("event"),
        "feature": column("feature"),
        "occurred_at": occurred,
        "quantity": column("quantity", np.float64),
        "duration_seconds": column("duration_seconds", np.float64),
        "properties": column("properties"),
        "idempotency_key": column("idempotency_key"),
    }
    values = {name: v for name, v in values.items() if v is not None}
    return PreparedEvents(frame, list(values), bulk.Columns(values.values()), received, roll_up)


def store_prepared(prepared: PreparedEvents) -> tuple[StoreResult, pd.DataFrame]:
    """The database half of store_events: the result, and the events that were new (for the
    rollups; none when they are left for roll_up_pending, which finds their ids in PendingEvents)."""
    frame, columns, rows, received = prepared.frame, prepared.columns, prepared.rows, prepared.received
    none = frame.iloc[:0]
    if not len(rows):
        return StoreResult(received, 0), none
    key = ["account_id", "idempotency_key"]
    if not prepared.roll_up:
        ids = None
        if connection.vendor == "postgresql":  # ids drawn first: the rows still go straight in by COPY
            ids = bulk.allocate_ids(UsageEvent, len(rows))
            columns, rows = ["id", *columns], bulk.Columns([ids, *rows.lists])
        inserted = bulk.insert_new(UsageEvent, columns, rows, conflict=key, returning=["id"])
        new_ids = np.asarray(ids if inserted is None else [row[0] for row in inserted], dtype=np.int64)
        bulk.insert(PendingEvents, ["first_id", "last_id"], bulk.Columns(id_runs(new_ids)))
        return StoreResult(received, len(new_ids)), none
    inserted = bulk.insert_new(UsageEvent, columns, rows, conflict=key, returning=key)
    if inserted is None:  # all new
        return StoreResult(received, len(frame)), frame
    keys = pd.MultiIndex.from_frame(frame[key].astype({"account_id": int}))
    return StoreResult(received, len(inserted)), frame[keys.isin(inserted)]


def id_runs(ids: np.ndarray) -> list[list[int]]:
    """The ids as runs of consecutive ones: [first ids, last ids]."""
    ids = np.sort(ids)
    if not len(ids):
        return [[], []]
    breaks = np.flatnonzero(np.diff(ids) != 1)
    return [ids[np.r_[0, breaks + 1]].tolist(), ids[np.r_[breaks, len(ids) - 1]].tolist()]


def roll_up_pending(runs: int = 50) -> int:
    """Add the events listed in PendingEvents (stored with roll_up=False) to the rollups and strike
    their runs off, `runs` runs (API batches, mostly) per transaction; returns how many events it
    counted. Safe to run concurrently: on PostgreSQL each run claims its rows with SKIP LOCKED;
    SQLite's transactions take the write lock first. An event deleted meanwhile (its account
    was) is struck off uncounted."""
    done = 0
    while True:
        with transaction.atomic(), connection.wrap_database_errors, closing(connection.connection.cursor()) as cursor:
            claimed, events = _claim_pending(cursor, runs)
            if not claimed:
                return done
            add_to_rollups(events)
            done += len(events)


def _claim_pending(cursor, runs: int) -> tuple[int, pd.DataFrame]:
    """Up to `runs` pending runs, oldest first, struck off PendingEvents in this transaction: how
    many rows that gave (a run without events gives one), and their events (ROLLUP_COLUMNS)."""
    pending, events = bulk.table(PendingEvents), bulk.table(UsageEvent)
    columns = [f"e.{bulk.quote(c)}" for c in ROLLUP_COLUMNS]
    if connection.vendor == "postgresql":
        # Times as microseconds: the driver's datetime objects cost more than the rest of the job.
        columns[ROLLUP_COLUMNS.index("occurred_at")] = "(EXTRACT(EPOCH FROM e.occurred_at) * 1000000)::int8"
        cursor.execute(
            f"WITH claimed AS (DELETE FROM {pending} WHERE first_id IN ("
            f"SELECT first_id FROM {pending} ORDER BY first_id LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING first_id, last_id) "
            f"SELECT {', '.join(columns)} FROM claimed "
            f"LEFT JOIN {events} e ON e.id BETWEEN claimed.first_id AND claimed.last_id",
            [runs],
        )
        rows = cursor.fetchall()
    else:
        cursor.execute(
            f"SELECT p.first_id, {', '.join(columns)} FROM (SELECT * FROM {pending} ORDER BY first_id LIMIT ?) p "
            f"LEFT JOIN {events} e ON e.id BETWEEN p.first_id AND p.last_id",
            [runs],
        )
        rows = cursor.fetchall()
        if rows:  # the transaction holds the write lock: nobody listed a run in between
            cursor.execute(f"DELETE FROM {pending} WHERE first_id <= ?", [max(row[0] for row in rows)])
        rows = [row[1:] for row in rows]
    frame = pd.DataFrame(rows, columns=ROLLUP_COLUMNS).dropna(subset=["account_id"])
    when = frame["occurred_at"]
    frame["occurred_at"] = (
        pd.to_datetime(when.astype(np.int64), unit="us", utc=True) if connection.vendor == "postgresql"
        else pd.to_datetime(when, utc=True, format="ISO8601")
    )
    return len(rows), frame


def add_to_rollups(events: pd.DataFrame) -> None:
    """Add newly stored events to the daily rollups."""
    rollups = Rollups()
    rollups.add(events)
    rollups.write()


class Rollups:
    """Increments to the daily rollups, gathered from newly stored events and written by `write`:
    events and minutes add up; distinct users are counted through UsageDailyUser, so a user seen
    in two batches of one day counts once. Memory stays bounded: past `limit` gathered rows the
    increments are merged, and if that leaves more than half, written (in the caller's
    transaction) and gathering starts again."""

    def __init__(self, limit: int = 500_000):
        self.limit = limit
        self._users: list[pd.DataFrame] = []  # account_id, day, user (a code; distinct within a part)
        self._user_keys = pd.Index([], dtype=object)  # the user key of each code
        self._daily: list[pd.DataFrame] = []  # account_id, day, events, minutes
        self._features: list[pd.DataFrame] = []  # account_id, day, feature, events, minutes
        self._rows = 0

    def add(self, events: pd.DataFrame) -> None:
        if events.empty:
            return
        account = events["account_id"].to_numpy(dtype=np.int64)
        day = local_days(events["occurred_at"])
        users = events["user_key"].to_numpy(dtype=object)
        anonymous = users == ""
        if anonymous.any():  # counted by contact ("c:<id>"), or not at all without one
            users = users.copy()
            contacts = events["contact_id"].astype("Int64")[anonymous]
            users[anonymous] = ("c:" + contacts.astype("string")).to_numpy(dtype=object, na_value=None)
        identified = pd.notna(users)
        self._users.append(
            pd.DataFrame({"account_id": account[identified], "day": day[identified], "user": self._codes(users[identified])})
            .drop_duplicates()
        )
        # One grouping by feature ("" included); the day's totals are its sums.
        grouped = (
            pd.DataFrame({
                "account_id": account, "day": day, "feature": events["feature"].to_numpy(dtype=object),
                "minutes": events["duration_seconds"].to_numpy(dtype=np.float64) / 60.0,
            })
            .groupby(["account_id", "day", "feature"], sort=False)
            .agg(events=("minutes", "size"), minutes=("minutes", "sum"))
        )
        self._daily.append(grouped.groupby(level=[0, 1], sort=False).sum())
        featured = grouped[grouped.index.get_level_values(2).to_numpy(dtype=object) != ""]
        if len(featured):
            self._features.append(featured)
        self._rows += len(self._users[-1]) + len(self._daily[-1]) + len(featured)
        if self._rows > self.limit:
            self._compact()
            if self._rows > self.limit // 2:  # so compacting, which costs as much as it holds, stays rare
                self.write()

    def _codes(self, users: np.ndarray) -> np.ndarray:
        """Each user key's code (its position in _user_keys): integers group and deduplicate
        several times faster than text."""
        codes, distinct = pd.factorize(users)
        known = self._user_keys.get_indexer(distinct)
        new = known < 0
        if new.any():
            known[new] = np.arange(len(self._user_keys), len(self._user_keys) + new.sum())
            self._user_keys = self._user_keys.append(pd.Index(distinct[new], dtype=object))
        return known[codes]

    def _compact(self) -> None:
        if len(self._users) > 1:
            self._users = [pd.concat(self._users, ignore_index=True).drop_duplicates()]
        if len(self._daily) > 1:
            self._daily = [pd.concat(self._daily).groupby(level=[0, 1], sort=False).sum()]
        if len(self._features) > 1:
            self._features = [pd.concat(self._features).groupby(level=[0, 1, 2], sort=False).sum()]
        self._rows = sum(len(p[0]) for p in (self._users, self._daily, self._features) if p)

    def write(self) -> None:
        """Write the gathered increments, in key order (concurrent writers lock rows in the same
        order), and start again."""
        self._compact()
        users, daily, features = (p[0] if p else None for p in (self._users, self._daily, self._features))
        user_keys = self._user_keys
        self.__init__(self.limit)
        if daily is None:
            return
        if users is not None and len(users):
            users = users.assign(user_key=user_keys[users.pop("user").to_numpy()].to_numpy(dtype=object))
            users = users.sort_values(["account_id", "day", "user_key"])
            new_users = bulk.insert_new(
                UsageDailyUser,
                ["account_id", "day", "user_key"],
                bulk.Columns([users["account_id"].tolist(), day_text(users["day"]), users["user_key"].tolist()]),
                conflict=["account_id", "day", "user_key"],
                returning=["account_id", "day"],
            )
            if new_users is None:  # all new
                counted = users[["account_id", "day"]]
            else:
                counted = pd.DataFrame(new_users, columns=["account_id", "day"])
                counted["day"] = pd.to_datetime(counted["day"]).to_numpy("datetime64[us]").astype("datetime64[D]")
        else:
            counted = None
        daily = daily.sort_index()
        if counted is not None and len(counted):
            daily["active_users"] = counted.groupby(["account_id", "day"]).size().reindex(daily.index, fill_value=0)
        else:
            daily["active_users"] = 0
        index = daily.index
        bulk.insert(
            UsageDaily,
            ["account_id", "day", "events", "active_users", "minutes"],
            zip(
                index.get_level_values(0).tolist(),
                day_text(index.get_level_values(1)),
                daily["events"].tolist(),
                daily["active_users"].tolist(),
                daily["minutes"].tolist(),
                strict=True,
            ),
            conflict=["account_id", "day"],
            add=["events", "active_users", "minutes"],
        )
        if features is not None and len(features):
            features = features.sort_index()
            index = features.index
            bulk.insert(
                UsageFeatureDaily,
                ["account_id", "day", "feature", "events", "minutes"],
                zip(
                    index.get_level_values(0).tolist(),
                    day_text(index.get_level_values(1)),
                    index.get_level_values(2).tolist(),
                    features["events"].tolist(),
                    features["minutes"].tolist(),
                    strict=True,
                ),
                conflict=["account_id", "day", "feature"],
                add=["events", "minutes"],
            )


def day_text(days) -> list[str]:
    """datetime64 days as 'YYYY-MM-DD' (what both databases take for a date), formatted once per
    distinct day."""
    codes, distinct = pd.factorize(np.asarray(days, dtype="datetime64[D]"))
    text = np.datetime_as_string(np.asarray(distinct, dtype="datetime64[D]"), unit="D")
    return text[codes].tolist()


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
