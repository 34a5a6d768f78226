"""The checks of a batch of events, column by column with numpy and pandas (no model object per
event): types, lengths, Unicode, numbers, ids, timestamps and properties. An event with any error
is reported by index and field and not stored."""

import math
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from django.conf import settings
from pandas.api.types import infer_dtype

from clm.usage.ingest.decode import FIELDS, TypedEvent, encode_json, encode_plain

MAX_ID = 2**63 - 1
STRING_LIMITS = {
    "account_external_id": 100,
    "contact_external_id": 100,
    "user_id": 100,
    "event": 100,
    "feature": 100,
    "idempotency_key": 100,
    "timestamp": 64,
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
