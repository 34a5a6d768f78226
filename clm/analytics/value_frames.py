"""Input checks shared by the value analytics (revenue, cohorts, RFM, tiers, affinity, acquisition):
each frame's columns, ids, dates, months and amounts, refused with the frame, row and column named.

A "row" in a message is the frame's index label, so a caller that indexes an import by its line
number gets line numbers back. Dates become whole days; months become pandas ``Period[M]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clv.errors import CLVInputError


class AnalyticsInputError(CLVInputError):
    """A frame or argument the value analytics cannot use: a missing column, a negative amount,
    a date after the as-of date... Subclasses ``CLVInputError`` (a ``ValueError``), so one
    ``except CLVInputError`` covers every value computation."""


def require_frame(frame, name: str, columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """``frame`` itself, after checking it is a DataFrame holding ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise AnalyticsInputError(name, type(frame).__name__, "must be a pandas DataFrame")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise AnalyticsInputError(
            f"{name} columns",
            [str(c) for c in frame.columns],
            f"missing {', '.join(missing)} (needs {', '.join(columns)})",
        )
    return frame


def ids(frame: pd.DataFrame, name: str, column: str) -> pd.Series:
    values = frame[column]
    blank = values.isna().to_numpy()
    if not blank.any() and not pd.api.types.is_numeric_dtype(values.dtype):
        # blank strings are found among the distinct values, which are few next to the rows
        spaces = [v for v in pd.unique(values) if isinstance(v, str) and not v.strip()]
        if spaces:
            blank = values.isin(spaces).to_numpy()
    _refuse(frame, name, column, blank, values, "is missing; every row needs one")
    return values


def days(frame: pd.DataFrame, name: str, column: str) -> np.ndarray:
    """The column as whole days since 1970-01-01 (int64), refusing blanks and non-dates."""
    values = frame[column]
    parsed = _to_datetime(values)
    unparsed = parsed.isna().to_numpy()
    blank = values.isna().to_numpy().copy()
    if unparsed.any():  # a blank string is a missing date, not a malformed one
        spaces = values[unparsed].map(lambda v: isinstance(v, str) and not v.strip())
        blank[np.flatnonzero(unparsed)[spaces.to_numpy(dtype=bool)]] = True
    _refuse(frame, name, column, blank, values, "is missing; every row needs a date")
    _refuse(frame, name, column, unparsed, values, "is not a date")
    return parsed.to_numpy().astype("datetime64[D]").astype(np.int64)


def months(frame: pd.DataFrame, name: str, column: str) -> np.ndarray:
    """The column as month ordinals (months since 1970-01, pandas' ``Period[M]`` ordinals)."""
    values = frame[column]
    if isinstance(values.dtype, pd.PeriodDtype):
        _refuse(frame, name, column, values.isna(), values, "is missing; every row needs a month")
        return values.dt.asfreq("M").array.asi8.astype(np.int64)
    day = days(frame, name, column).astype("datetime64[D]")
    return day.astype("datetime64[M]").astype(np.int64)


def amounts(frame: pd.DataFrame, name: str, column: str, *, what: str = "an amount") -> np.ndarray:
    """The column as finite, non-negative floats (Decimal and numeric strings accepted)."""
    values = frame[column]
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    _refuse(frame, name, column, values.isna(), values, "is missing; every row needs a number")
    _refuse(frame, name, column, ~np.isfinite(numbers), values, "is not a finite number")
    _refuse(frame, name, column, numbers < 0, values, f"{what} cannot be negative")
    return numbers.to_numpy()


def as_of_day(as_of, name: str = "as_of") -> int:
    """A date argument as whole days since 1970-01-01."""
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        raise AnalyticsInputError(name, as_of, "is not a date") from None
    if pd.isna(stamp):
        raise AnalyticsInputError(name, as_of, "is not a date")
    return int(np.datetime64(stamp.tz_localize(None) if stamp.tz else stamp, "D").astype(np.int64))


def as_month(value, name: str) -> int:
    """A month argument ('2024-03', a date, a Period) as a month ordinal."""
    if isinstance(value, pd.Period):
        return int(value.asfreq("M").ordinal)
    return int(np.datetime64(as_of_day(value, name), "D").astype("datetime64[M]").astype(np.int64))


def not_after(frame: pd.DataFrame, name: str, column: str, day: np.ndarray, limit: int) -> None:
    """Refuse dates after the as-of date: what has not happened yet cannot be analysed."""
    _refuse(frame, name, column, day > limit, frame[column], f"is after the as-of date {to_date(limit)}")


def to_date(day: int):
    return pd.Timestamp(np.datetime64(int(day), "D")).date()


def to_dates(day: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(day, dtype=np.int64).astype("datetime64[D]")).astype("datetime64[s]")


def to_periods(ordinals) -> pd.PeriodIndex:
    return pd.PeriodIndex.from_ordinals(np.asarray(ordinals, dtype=np.int64), freq="M")


def _to_datetime(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    elif pd.api.types.is_numeric_dtype(values.dtype):
        # pandas would read 20240105 as nanoseconds after 1970: a number is never a date here
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def refuse(frame: pd.DataFrame, name: str, column: str, bad, reason: str) -> None:
    """Raise for the first row where ``bad`` (a boolean mask, or a row position) holds."""
    _refuse(frame, name, column, bad, frame[column], reason)


def _refuse(frame: pd.DataFrame, name: str, column: str, bad, original: pd.Series, reason: str) -> None:
    if isinstance(bad, int | np.integer):
        position = int(bad)
    else:
        bad = np.asarray(bad, dtype=bool)
        if not bad.any():
            return
        position = int(np.flatnonzero(bad)[0])
    label = frame.index[position]
    label = label.item() if hasattr(label, "item") else label
    value = original.iloc[position]
    value = value.item() if hasattr(value, "item") else value
    raise AnalyticsInputError(f"{name} row {label}, {column}", value, reason)
