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

from clm.core.parsers import parse_iso_datetimes
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

    @property
    def error_count(self) -> int:
        return sum(len(where) for where, _, _ in self.errors)

    def report(self, limit: int | None = None) -> list[dict]:
        """The errors by event index (per event, in the order of the checks): the first `limit`."""
        if not self.errors:
            return []
        indexes = np.concatenate([where for where, _, _ in self.errors])
        entry = np.repeat(np.arange(len(self.errors)), [len(where) for where, _, _ in self.errors])
        position = np.concatenate([np.arange(len(where)) for where, _, _ in self.errors])
        rows = []
        for k in np.argsort(indexes, kind="stable")[:limit].tolist():
            _, field, message = self.errors[entry[k]]
            if not isinstance(message, str):
                message = message[position[k]]
            rows.append({"index": int(indexes[k]), "field": field, "message": message})
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
        stamps, reasons = parse_iso_datetimes(text, settings.TIME_ZONE)
        refused = reasons != ""
        if refused.any():
            self.fail(refused, name, reasons)
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
