"""REST resources for usage: batched event ingestion (POST /events) and the feature catalogue.

Ingestion is built for throughput: the body is parsed once (by msgspec, with json as the
reference), checked column by column with numpy and pandas (no model object per event), accounts
and contacts are resolved with one query each per batch, and the valid events go to
clm.usage.services.store_events, concurrent batches in one transaction (GroupWriter). Invalid
events are reported by index and field while the valid ones are stored; known idempotency keys
are counted as duplicates, not stored twice."""

import json
import math
import os
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import numpy as np
import pandas as pd
import psycopg
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError, connection, transaction
from django.db.models.expressions import RawSQL
from ninja import FilterLookup, FilterSchema, Router, Schema
from pandas.api.types import infer_dtype
from pydantic import Field

from clm.core.access import visible_accounts
from clm.core.crud import ApiError, Resource, Text, register, require
from clm.customers.models import Contact
from clm.usage.models import Feature, UsageEvent
from clm.usage.services import EVENT_COLUMNS, event_problems, store_events

try:
    import fcntl
except ImportError:  # Windows: threads still queue; processes fall back on SQLite's busy handler
    fcntl = None

router = Router()

MAX_EVENTS = 10_000
MAX_ID = 2**63 - 1
FIELDS = {
    "account": "the account's id in CLM",
    "account_external_id": "or the account's id in your system",
    "contact": "optional: the contact's id in CLM",
    "contact_external_id": "optional: or the contact's id in your system",
    "user_id": "the product's id of the user (string or integer)",
    "event": "the event name, e.g. login",
    "feature": "the product feature used",
    "timestamp": "ISO 8601; without an offset it is in the workspace's time zone",
    "quantity": "a number, default 1",
    "duration_seconds": "a number, default 0",
    "properties": "an object of anything else",
    "idempotency_key": "an event sent twice with the same key is stored once",
}
STRING_LIMITS = {
    "account_external_id": 100,
    "contact_external_id": 100,
    "user_id": 100,
    "event": 100,
    "feature": 100,
    "idempotency_key": 100,
    "timestamp": 64,
}
RETRYABLE = ("40P01", "40001")  # PostgreSQL: deadlock detected, serialization failure
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class TypedEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An event whose every field has one of the types the checks accept (absent or null: None).
    Not tracked by the garbage collector: a batch of these costs it nothing."""

    account: int | None = None
    account_external_id: str | None = None
    contact: int | None = None
    contact_external_id: str | None = None
    user_id: str | int | None = None
    event: str | None = None
    feature: str | None = None
    timestamp: str | None = None
    quantity: float | None = None
    duration_seconds: float | None = None
    properties: dict[str, Any] | None = None
    idempotency_key: str | None = None


class TypedBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[TypedEvent]


assert TypedEvent.__struct_fields__ == tuple(FIELDS)
decode_typed = msgspec.json.Decoder(list[TypedEvent] | TypedBatch).decode
decode_plain = msgspec.json.Decoder().decode
encode_plain = msgspec.json.Encoder().encode


class EventIn(Schema):
    """One usage event (documentation of the body; the endpoint checks events column-wise)."""

    account: int | None = Field(None, description=FIELDS["account"])
    account_external_id: str | None = Field(None, max_length=100, description=FIELDS["account_external_id"])
    contact: int | None = Field(None, description=FIELDS["contact"])
    contact_external_id: str | None = Field(None, max_length=100, description=FIELDS["contact_external_id"])
    user_id: str | int | None = Field(None, description=FIELDS["user_id"])
    event: str = Field(..., min_length=1, max_length=100, description=FIELDS["event"])
    feature: str | None = Field(None, max_length=100, description=FIELDS["feature"])
    timestamp: str = Field(..., description=FIELDS["timestamp"], examples=["2024-03-01T09:30:00+08:00"])
    quantity: float = Field(1, ge=0, description=FIELDS["quantity"])
    duration_seconds: float = Field(0, ge=0, description=FIELDS["duration_seconds"])
    properties: dict[str, Any] | None = Field(None, description=FIELDS["properties"])
    idempotency_key: str | None = Field(None, max_length=100, description=FIELDS["idempotency_key"])


class EventError(Schema):
    index: int
    field: str | None
    message: str


class IngestResult(Schema):
    received: int = Field(description="events in the request")
    stored: int = Field(description="new events stored")
    duplicates: int = Field(description="valid events already stored (or repeated in the batch)")
    errors: list[EventError]


EVENT_SCHEMA = EventIn.model_json_schema()
BATCH_SCHEMA = {"type": "array", "maxItems": MAX_EVENTS, "items": EVENT_SCHEMA}
BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        BATCH_SCHEMA,
                        {"type": "object", "required": ["events"], "properties": {"events": BATCH_SCHEMA}},
                    ]
                }
            }
        },
    }
}


class Batch:
    """The events of one request, checked column by column; an event with any error is not stored.

    `plain` says the events were decoded by msgspec (see decode_body): their strings are valid
    Unicode and their floats finite; so are those of TypedEvents, which have no unknown field
    either. `raw` is the request body: NUL characters can only come from \\u0000 escapes, so
    strings are searched for them only when the body has one."""

    def __init__(self, events: list, raw: bytes | None = None, plain: bool = False):
        self.n = len(events)
        typed = self.n > 0 and type(events[0]) is TypedEvent  # decode_body gives all or none
        self.plain = plain or typed
        self.surrogates = not self.plain
        self.nul = not self.plain or raw is None or b"\\u0000" in raw
        self.bad = np.zeros(self.n, dtype=bool)
        self.errors: list[tuple[np.ndarray, str | None, Any]] = []
        self.flagged: dict[str | None, np.ndarray] = {}
        if typed:
            self.is_object = np.ones(self.n, dtype=bool)
            rows = map(msgspec.structs.astuple, events)
            self.columns = dict(zip(FIELDS, map(list, zip(*rows, strict=True)), strict=True))
            return
        self.columns = {}
        self.is_object = np.fromiter((type(e) is dict for e in events), dtype=bool, count=self.n)
        self.errors.append((np.flatnonzero(~self.is_object), None, "an event must be a JSON object"))
        self.bad |= ~self.is_object
        self.objects = events if self.is_object.all() else [e if type(e) is dict else {} for e in events]
        unknown = set().union(*self.objects) - FIELDS.keys() if self.objects else set()
        for name in sorted(unknown, key=str):
            has = np.fromiter((name in e for e in self.objects), dtype=bool, count=self.n)
            self.fail(has, name, f"unknown field (known: {', '.join(FIELDS)})")

    def column(self, name: str) -> list:
        if name not in self.columns:
            self.columns[name] = [e.get(name) for e in self.objects]
        return self.columns[name]

    def fail(self, mask, field: str | None, message) -> None:
        """Mark events as invalid; message is one text or one per event (aligned with mask)."""
        mask = np.asarray(mask, dtype=bool) & self.is_object
        if field in self.flagged:
            mask &= ~self.flagged[field]  # one error per event and field: the first found
        if not mask.any():
            return
        where = np.flatnonzero(mask)
        if not isinstance(message, str):
            message = np.asarray(message, dtype=object)[where]
        self.errors.append((where, field, message))
        self.bad |= mask
        self.flagged[field] = self.flagged[field] | mask if field in self.flagged else mask

    def failed(self, field: str | None) -> np.ndarray:
        """Which events have an error on `field`."""
        return self.flagged.get(field, np.zeros(self.n, dtype=bool))

    def flag(self, test, values: list) -> np.ndarray:
        return np.fromiter((test(v) for v in values), dtype=bool, count=self.n)

    def report(self) -> list[dict]:
        rows = []
        for where, field, message in self.errors:
            if isinstance(message, str):
                rows.extend({"index": i, "field": field, "message": message} for i in where.tolist())
            else:
                rows.extend(
                    {"index": i, "field": field, "message": m}
                    for i, m in zip(where.tolist(), message, strict=True)
                )
        rows.sort(key=lambda r: r["index"])  # stable: per event, in the order of the checks
        return rows

    # -- typed columns: the common case (every value of the right type) is checked in C -----------

    def strings(self, name: str, *, required: bool = False, integers: bool = False) -> list:
        """A column of strings (None where absent). Integers are accepted as text when allowed."""
        values = self.column(name)
        kind = infer_dtype(values, skipna=True)
        if kind not in ("string", "empty"):
            allowed = (str, int) if integers else (str,)
            wrong = self.flag(
                lambda v: v is not None and (type(v) not in allowed or type(v) is int and abs(v) > MAX_ID),
                values,
            )
            self.fail(wrong, name, "must be a string or an integer" if integers else "must be a string")
            values = [
                None if w else v if v is None or type(v) is str else str(v)
                for v, w in zip(values, wrong, strict=True)
            ]
        if required and (None in values or "" in values):
            self.fail(self.flag(lambda v: not v, values), name, "is required")
        limit = STRING_LIMITS[name]
        if kind != "empty" and max(map(len, filter(None, values)), default=0) > limit:
            self.fail(
                self.flag(lambda v: v is not None and len(v) > limit, values),
                name,
                f"is longer than {limit} characters",
            )
        if self.nul and kind != "empty":
            self.fail(
                self.flag(lambda v: v is not None and "\x00" in v, values),
                name,
                "must not contain NUL characters",
            )
        if self.surrogates and kind != "empty":
            self.fail(
                self.flag(lambda v: v is not None and _lone_surrogate(v), values),
                name,
                "is not valid Unicode (a lone surrogate)",
            )
        return values

    def numbers(self, name: str, default: float) -> np.ndarray:
        values = self.column(name)
        out = None
        if infer_dtype(values, skipna=True) in ("integer", "floating", "mixed-integer-float", "empty"):
            try:
                out = np.array([default if v is None else v for v in values], dtype=np.float64)
            except (OverflowError, TypeError, ValueError):
                out = None
        if out is None:
            out = np.fromiter((_number(v, default) for v in values), dtype=np.float64, count=self.n)
        self.fail(np.isnan(out), name, "must be a number")
        self.fail(np.isinf(out), name, "is too large")
        return out

    def ids(self, name: str) -> np.ndarray:
        """Positive integer ids (0 where absent)."""
        values = self.column(name)
        out = None
        if infer_dtype(values, skipna=True) in ("integer", "empty"):
            try:
                out = np.array([0 if v is None else v for v in values], dtype=np.int64)
            except OverflowError:
                out = None
        if out is None:
            out = np.fromiter((_id(v) for v in values), dtype=np.int64, count=self.n)
        self.fail(out < 0, name, "must be a positive integer id")
        return np.maximum(out, 0)

    def timestamps(self, name: str) -> pd.Series:
        """UTC timestamps; ISO 8601 without an offset is in the workspace's time zone."""
        values = self.strings(name, required=True)
        text = ["" if v is None else v for v in values] if None in values else values
        micros, common, aware = iso_common(text)
        stamps = micros.view("datetime64[us]")  # NaT where not common
        local = common & ~aware
        unread = np.zeros(self.n, dtype=bool)
        if local.any():
            wall = pd.DatetimeIndex(stamps[local])
            utc = wall.tz_localize(settings.TIME_ZONE, ambiguous="NaT", nonexistent="NaT").tz_convert(None)
            stamps[local] = utc.to_numpy()
            unread[local] = utc.isna()  # a local time that does not exist, or occurs twice
        rest = np.flatnonzero(~common)
        if len(rest):  # other shapes of ISO 8601, and what is not ISO 8601: pandas decides
            others = [text[i] for i in rest.tolist()]
            read = pandas_timestamps(others)
            stamps[rest] = read.dt.tz_convert(None).to_numpy()
            # pandas also reads words such as "now" and "today"; ISO 8601 starts with the year.
            unread[rest] = read.isna().to_numpy() | ~np.array([t[:4].isdigit() for t in others])
            unread[rest] &= np.array([t != "" for t in others])  # an empty one "is required"
        if unread.any():
            self.fail(unread, name, "is not an ISO 8601 date-time (e.g. 2024-03-01T09:30:00+08:00)")
        return pd.Series(stamps, dtype="datetime64[us, UTC]")

    def properties(self) -> list[str]:
        """Each event's properties as JSON text (what the events table stores)."""
        values = self.column("properties")
        out = ["{}"] * self.n
        messages = np.full(self.n, None, dtype=object)
        for i, v in enumerate(values):
            if not v and (v is None or v == {}):
                continue
            if type(v) is not dict:
                messages[i] = "must be an object"
                continue
            try:
                # msgspec writes NaN as null: only plain events, which have none, are written by it.
                out[i] = text = encode_plain(v).decode() if self.plain else encode_json(v)
            except (ValueError, RecursionError):
                messages[i] = "numbers must be finite (no NaN or Infinity)"
                continue
            if self.nul and "\\u0000" in text:
                messages[i] = "must not contain NUL characters"
            elif self.surrogates and _lone_surrogate(text):
                messages[i] = "is not valid Unicode (a lone surrogate)"
        self.fail(messages != None, "properties", messages)  # noqa: E711 (elementwise)
        return out


def pandas_timestamps(text: list[str]) -> pd.Series:
    """UTC timestamps as pandas reads any shape of ISO 8601 (NaT where it cannot); a text
    without an offset is in the workspace's time zone."""
    stamps = _utc(pd.Series(text, dtype=object))  # one call: texts without an offset read as UTC
    local = ~np.fromiter(map(_has_offset, text), dtype=bool, count=len(text))
    if local.any():
        wall = stamps[local].dt.tz_convert(None)
        stamps[local] = wall.dt.tz_localize(
            settings.TIME_ZONE, ambiguous="NaT", nonexistent="NaT"
        ).dt.tz_convert("UTC")
    return stamps


def _utc(text: pd.Series) -> pd.Series:
    """ISO 8601 texts as UTC timestamps in microseconds (what the databases keep); NaT where
    unreadable. A text without an offset is read as UTC."""
    stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    return stamps.dt.floor("us").dt.as_unit("us")


NAT = np.datetime64("NaT", "us").view(np.int64)
ISO_WIDTH = 35  # YYYY-MM-DDTHH:MM:SS.fffffffff+HH:MM
DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # of YYYY-MM-DDTHH:MM:SS
DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def iso_common(text: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The common shape of ISO 8601 date-times read in numpy, column-wise: YYYY-MM-DD, T or a
    space, HH:MM:SS, an optional fraction of 1 to 9 digits, then Z, ±HH:MM or nothing (a local
    time). Returns the microseconds since 1970 (UTC for the aware ones, wall-clock for the local
    ones), which texts have that shape with plausible fields (years 1970-2200, offsets up to
    14 hours; pandas reads the rest), and which are aware."""
    n = len(text)
    lengths = np.fromiter(map(len, text), dtype=np.int32, count=n)
    # c[k]: the k-th character of every text (0 past its end), d[k] its digit value
    c = np.array(text, dtype=f"<U{ISO_WIDTH}").view(np.int32).reshape(n, ISO_WIDTH).T.copy()
    d = c - ord("0")
    digit = (d >= 0) & (d <= 9)
    ok = (lengths >= 19) & (lengths <= ISO_WIDTH) & digit[DIGITS].all(axis=0)
    ok &= (c[4] == ord("-")) & (c[7] == ord("-")) & (c[13] == ord(":")) & (c[16] == ord(":"))
    ok &= (c[10] == ord("T")) | (c[10] == ord(" "))
    fraction = c[19] == ord(".")
    places = np.where(fraction, np.cumprod(digit[20:29], axis=0).sum(axis=0), 0)
    ok &= ~fraction | (places > 0)
    start = 19 + np.where(fraction, 1 + places, 0)  # of the offset
    zone = np.take_along_axis(c, np.minimum(start + np.arange(6)[:, None], ISO_WIDTH - 1), axis=0)
    zd = zone[[1, 2, 4, 5]] - ord("0")
    tail = lengths - start
    zulu = (tail == 1) & (zone[0] == ord("Z"))
    offset = (tail == 6) & ((zone[0] == ord("+")) | (zone[0] == ord("-"))) & (zone[3] == ord(":"))
    offset &= ((zd >= 0) & (zd <= 9)).all(axis=0) & (zd[0] * 10 + zd[1] <= 14) & (zd[2] * 10 + zd[3] <= 59)
    ok &= zulu | offset | (tail == 0)
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    month, day = d[5] * 10 + d[6], d[8] * 10 + d[9]
    hour, minute, second = d[11] * 10 + d[12], d[14] * 10 + d[15], d[17] * 10 + d[18]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = DAYS_IN_MONTH[np.clip(month - 1, 0, 11)] + (leap & (month == 2))
    ok &= (year >= 1970) & (year <= 2200) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    # days since 1970-01-01 of the proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
    # Date Algorithms", days_from_civil)
    y = year - (month <= 2)
    era, year_of_era = y // 400, y % 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468
    seconds = days.astype(np.int64) * 86400 + hour * 3600 + minute * 60 + second
    seconds -= np.where(
        offset, np.where(zone[0] == ord("-"), -60, 60) * ((zd[0] * 10 + zd[1]) * 60 + zd[2] * 10 + zd[3]), 0
    )
    micros = np.zeros(n, dtype=np.int64)
    for place in range(6):  # the fraction's first six digits; finer ones are cut (floored)
        micros = micros * 10 + np.where(places > place, d[20 + place], 0)
    micros += seconds * 1_000_000
    return np.where(ok, micros, NAT), ok, ok & (zulu | offset)


def _has_offset(text: str) -> bool:
    return text.rstrip().endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _number(value, default: float) -> float:
    if value is None:
        return default
    if type(value) not in (int, float):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _id(value) -> int:
    if value is None:
        return 0
    if type(value) is not int or not 0 < value <= MAX_ID:
        return -1
    return value


def decode_body(body: bytes) -> tuple[Any, bool]:
    """The body's JSON value, and whether it is plain: read by msgspec, which gives what json
    gives but reads only UTF-8 and refuses NaN, Infinity, numbers beyond a double and lone
    surrogates (escaped or encoded). Anything else is read by json, the reference: its errors
    are the client's (ValueError, RecursionError). A batch of well-typed events (the usual case)
    is read straight into TypedEvents; any other value is read as plain JSON."""
    try:
        return decode_typed(body), True
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        pass
    try:
        return decode_plain(body), True
    except (ValueError, RecursionError):
        return json.loads(body), False


def parse_body(request) -> tuple[list, bool]:
    try:
        body = request.body
    except RequestDataTooBig:
        raise ApiError(
            413, "too_large", f"The body is too large; send at most {MAX_EVENTS:,} events per request."
        ) from None
    try:
        data, plain = decode_body(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "bad_request", f"The body is not valid JSON: {exc}") from None
    if isinstance(data, TypedBatch):
        data = data.events
    elif isinstance(data, dict) and set(data) == {"events"}:
        data = data["events"]
    if not isinstance(data, list):
        raise ApiError(
            422,
            "invalid_request",
            'The body must be a JSON array of events (or {"events": [...]}).',
            [{"loc": ["body"], "message": f"got {type(data).__name__ if data is not None else 'null'}"}],
        )
    if len(data) > MAX_EVENTS:
        raise ApiError(
            413, "too_large", f"At most {MAX_EVENTS:,} events per request; this one has {len(data):,}."
        )
    return data, plain


def id_list(ids: np.ndarray) -> RawSQL:
    """A subquery of these ids, for `pk__in`: one text parameter however many there are (Django
    binds and converts each id of a list, and psycopg adapting a list as an array costs more
    than PostgreSQL parsing the array's text)."""
    text = ",".join(map(str, ids.tolist()))
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", ["{" + text + "}"])
    return RawSQL("SELECT value FROM json_each(%s)", ["[" + text + "]"])


def resolve_accounts(batch: Batch, user, ids: np.ndarray, external: list) -> np.ndarray:
    """Account ids of the events, by id or by external id, among the accounts the user can see:
    an invisible account is as unknown as a missing one. One query for each kind of reference.
    An external id that is itself invalid (a lone surrogate...) is not looked up: no driver sends it."""
    has_external = np.fromiter((v is not None for v in external), dtype=bool, count=batch.n)
    both = (ids > 0) & has_external
    batch.fail(both, "account", "send account or account_external_id, not both")
    batch.fail((ids == 0) & ~has_external, "account", "is required (account or account_external_id)")
    wanted = np.unique(ids[ids > 0])
    if len(wanted):
        visible = visible_accounts(user).filter(pk__in=id_list(wanted)).order_by()
        known = np.fromiter(visible.values_list("pk", flat=True), np.int64)
        batch.fail((ids > 0) & ~both & ~np.isin(ids, known), "account", "unknown account")
    resolved = ids.copy()
    by_external = np.flatnonzero(has_external & ~both & ~batch.failed("account_external_id"))
    if len(by_external):
        keys = list(dict.fromkeys(external[i] for i in by_external))
        pks: dict[str, int] = {}
        ambiguous = set()
        for key, pk in visible_accounts(user).filter(external_id__in=keys).values_list("external_id", "pk"):
            if key in pks:
                ambiguous.add(key)
            pks[key] = pk
        several = np.zeros(batch.n, dtype=bool)
        unknown = np.zeros(batch.n, dtype=bool)
        for i in by_external.tolist():
            key = external[i]
            if key in ambiguous:
                several[i] = True
            elif key in pks:
                resolved[i] = pks[key]
            else:
                unknown[i] = True
        batch.fail(
            several,
            "account_external_id",
            "names accounts of several source systems; send account (the id in CLM)",
        )
        batch.fail(unknown & ~batch.bad, "account_external_id", "unknown account")
    return resolved


def resolve_contacts(batch: Batch, accounts: np.ndarray, ids: np.ndarray, external: list) -> np.ndarray:
    """Contact ids of the events (0 where absent); a contact must belong to the event's account,
    so it is visible exactly when the account is. One query for each kind of reference."""
    contact = np.zeros(batch.n, dtype=np.int64)
    has_external = np.fromiter((v is not None for v in external), dtype=bool, count=batch.n)
    if not ids.any() and not has_external.any():
        return contact
    has_id = ids > 0
    batch.fail(has_id & has_external, "contact", "send contact or contact_external_id, not both")
    if has_id.any():
        rows = Contact.objects.filter(pk__in=np.unique(ids[has_id]).tolist()).values_list("pk", "account_id")
        owners = pd.Series(ids).map(pd.Series(dict(rows), dtype="Int64")).fillna(0).to_numpy(dtype=np.int64)
        batch.fail(has_id & (owners != accounts) & ~batch.bad, "contact", "unknown contact of this account")
        contact[has_id] = ids[has_id]
    by_external = np.flatnonzero(has_external & ~has_id & ~batch.failed("contact_external_id"))
    if len(by_external):
        rows = Contact.objects.filter(
            account_id__in=np.unique(accounts[by_external]).tolist(),
            external_id__in=list(dict.fromkeys(external[i] for i in by_external)),
        ).values_list("account_id", "external_id", "pk")
        pks: dict[tuple[int, str], int] = {}
        ambiguous = set()
        for account, key, pk in rows:
            if (account, key) in pks:
                ambiguous.add((account, key))
            pks[account, key] = pk
        missing = np.zeros(batch.n, dtype=bool)
        for i in by_external.tolist():
            pk = pks.get((int(accounts[i]), external[i]))
            if pk is None or (int(accounts[i]), external[i]) in ambiguous:
                missing[i] = True
            else:
                contact[i] = pk
        batch.fail(missing & ~batch.bad, "contact_external_id", "unknown contact of this account")
    return contact


@router.post(
    "/events",
    response=IngestResult,
    tags=["usage"],
    summary="Ingest a batch of usage events",
    description=(
        f'Up to {MAX_EVENTS:,} events per request, as a JSON array (or {{"events": [...]}}). '
        "Invalid events are reported by index and field while the valid ones are stored; an event "
        "whose idempotency_key (or, without one, whose content) is already stored counts as a duplicate."
    ),
    openapi_extra=BODY_SCHEMA,
)
@transaction.non_atomic_requests  # batches are stored in groups, retried by store_alone
def ingest_events(request):
    require(request.user, "add", UsageEvent)
    events, plain = parse_body(request)
    return ingest(events, request.user, request.body, plain)


def ingest(events: list, user, raw: bytes | None = None, plain: bool = False) -> dict:
    """Check a batch of decoded events and store the valid ones; the answer of POST /events."""
    frame, batch = check_events(events, user, raw, plain)
    stored = store(frame) if len(frame) else 0
    return {
        "received": batch.n,
        "stored": stored,
        "duplicates": len(frame) - stored,
        "errors": batch.report(),
    }


class SqliteWriter:
    """SQLite has one writer at a time. The server's threads queue for it on a lock, and its
    processes (clm serve --workers) on a lock file beside the database: SQLite's own busy handler
    sleeps and polls, which halved the throughput of two concurrent clients."""

    def __init__(self):
        self._thread = threading.Lock()
        self._pid = None
        self._fd = None

    def _file(self) -> int | None:
        if self._pid != os.getpid():  # a forked worker opens its own (flock is per open file)
            self._pid, self._fd = os.getpid(), None
            name = str(connection.settings_dict["NAME"])
            if fcntl is not None and os.path.isfile(name):
                self._fd = os.open(name + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def __enter__(self):
        self._thread.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise
        return self

    def __exit__(self, *exc):
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()


SQLITE_WRITER = SqliteWriter()


def store(frame: pd.DataFrame) -> int:
    """Store a checked batch (events are rolled up later); returns how many were new."""
    return GROUP_WRITER.store(frame)


def write_lock():
    """What a process holds while it writes events: on SQLite the database's one writer
    (SQLITE_WRITER); PostgreSQL needs none."""
    return SQLITE_WRITER if connection.vendor == "sqlite" else nullcontext()


def store_alone(frames: list[pd.DataFrame], attempts: int = 4) -> list[int]:
    """store_events for each frame, all in one transaction, retried when PostgreSQL picks it as
    a deadlock victim (concurrent batches insert the same keys). Retrying is safe: the
    transaction is idempotent. The caller holds write_lock() (GroupWriter does)."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return [store_events(frame, roll_up=False).stored for frame in frames]
        except (OperationalError, psycopg.OperationalError) as exc:
            sqlstate = getattr(exc, "sqlstate", None) or getattr(exc.__cause__, "sqlstate", None)
            if attempt == attempts - 1 or sqlstate not in RETRYABLE:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


@dataclass
class _Pending:
    frame: pd.DataFrame
    stored: int = 0
    error: BaseException | None = None
    done: bool = False


class GroupWriter:
    """Group commit: the batches that concurrent requests of one process bring while a write is
    under way are stored together, in one transaction. A commit writes every index page the
    batch touched, and a batch of events for hundreds of accounts touches hundreds of pages: in
    one transaction, batches share them (on SQLite, a commit of one batch into a table of 200,000
    events cost 20 ms, of four batches 7 ms each). The first waiting request writes the group
    and the others wait for it; each answers only after its events are committed. The group is
    taken once the writer holds write_lock(), so the batches that arrive while another process
    writes join it. If the group's transaction fails, each batch is retried alone, so one batch
    cannot fail another."""

    def __init__(self, max_events: int = MAX_EVENTS, max_batches: int = 8):
        self.max_events, self.max_batches = max_events, max_batches
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False

    def store(self, frame: pd.DataFrame) -> int:
        mine = _Pending(frame)
        with self._cond:
            self._queue.append(mine)
            while not mine.done:
                if self._writing:
                    self._cond.wait()
                    continue
                self._writing = True
                self._cond.release()
                try:
                    with write_lock():
                        with self._cond:
                            group = self._take()
                        self._write(group)
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.stored

    def _take(self) -> list[_Pending]:
        group, events = [], 0
        while self._queue and len(group) < self.max_batches:
            if group and events + len(self._queue[0].frame) > self.max_events:
                break
            group.append(self._queue.pop(0))
            events += len(group[-1].frame)
        return group

    def _write(self, group: list[_Pending]) -> None:
        try:
            stored = store_alone([p.frame for p in group])
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:
                for pending in group:
                    try:
                        (pending.stored,) = store_alone([pending.frame])
                    except Exception as alone:  # noqa: BLE001 (handed to its own request)
                        pending.error = alone
        else:
            for pending, count in zip(group, stored, strict=True):
                pending.stored = count
        for pending in group:
            pending.done = True


GROUP_WRITER = GroupWriter()


def check_events(
    events: list, user, raw: bytes | None = None, plain: bool = False
) -> tuple[pd.DataFrame, Batch]:
    """The valid events as a frame for store_events, and the batch holding the errors of the rest
    (raw and plain: see Batch)."""
    batch = Batch(events, raw, plain)
    if batch.n == 0:
        return pd.DataFrame(columns=EVENT_COLUMNS), batch
    account_ids = batch.ids("account")
    account_external = batch.strings("account_external_id")
    contact_ids = batch.ids("contact")
    contact_external = batch.strings("contact_external_id")
    user_key = batch.strings("user_id", integers=True)
    event = batch.strings("event", required=True)
    feature = batch.strings("feature")
    key = batch.strings("idempotency_key")
    occurred = batch.timestamps("timestamp")
    quantity = batch.numbers("quantity", 1.0)
    duration = batch.numbers("duration_seconds", 0.0)
    properties = batch.properties()
    accounts = resolve_accounts(batch, user, account_ids, account_external)
    contacts = resolve_contacts(batch, accounts, contact_ids, contact_external)
    # Only valid events go into the frame: pandas may back its strings with Arrow, which cannot
    # hold what the checks refused (a lone surrogate).
    good = ~batch.bad
    if not good.any():
        return pd.DataFrame(columns=EVENT_COLUMNS), batch
    pick = slice(None) if good.all() else good

    def column(values: list, missing: str | None = None) -> np.ndarray:
        picked = np.fromiter(values, dtype=object, count=batch.n)[pick]
        if missing is not None and None in values:
            picked[picked == None] = missing  # noqa: E711 (elementwise)
        return picked

    frame = pd.DataFrame(
        {
            "account_id": accounts[pick],
            "contact_id": pd.arrays.IntegerArray(contacts[pick], contacts[pick] == 0),  # NA where absent
            "user_key": column(user_key, ""),
            "event": column(event, ""),
            "feature": column(feature, ""),
            "occurred_at": occurred.array[pick],
            "quantity": quantity[pick],
            "duration_seconds": duration[pick],
            "properties": column(properties),
            "idempotency_key": column(key),
        },
        columns=EVENT_COLUMNS,
        copy=False,
    )
    problems = event_problems(frame).to_numpy()
    refused = problems != ""
    if refused.any():
        refuse(batch, np.flatnonzero(good)[refused], problems[refused])
        frame = frame[~refused]
    return frame, batch


def refuse(batch: Batch, indexes: np.ndarray, reasons: np.ndarray) -> None:
    """Record event_problems' reasons, which start with the column they are about."""
    groups: dict[tuple, list[int]] = {}
    for i, reason in zip(indexes.tolist(), reasons.tolist(), strict=True):
        column, _, rest = reason.partition(" ")
        field = "timestamp" if column == "occurred_at" else column if column in FIELDS else None
        groups.setdefault((field, rest if field else reason), []).append(i)
    for (field, message), where in groups.items():
        mask = np.zeros(batch.n, dtype=bool)
        mask[where] = True
        batch.fail(mask, field, message)


class FeatureFilters(FilterSchema):
    q: Annotated[Text | None, FilterLookup(["key__icontains", "name__icontains"])] = None
    is_core: Annotated[bool | None, FilterLookup("is_core")] = None


register(router, Resource(Feature, "features", FeatureFilters))
