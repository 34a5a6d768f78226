"""What every chart figure is made of: a table (column keys and rows of plain values, the numbers
the chart draws, its table view and its export show), the accounts behind each part of it
(``groups``: part → account ids, for the drill-down), and why it is empty when it is.

A figure is a JSON-able dict; column keys are named for people by clm.reports.charts.labels."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..kpis.base import Scope
from ..periods import Period

TRAILING_MONTHS = 12  # monthly points shown up to the period's end: a year reads at a glance


def make(scope: Scope, period: Period, columns, rows, *, groups=None, no_data=None, **extra) -> dict:
    return {
        "period": period.label,
        "as_of": period.as_of(scope.today).isoformat(),
        "columns": list(columns),
        "rows": [[plain(v) for v in row] for row in rows],
        "groups": {str(k): sorted({int(i) for i in v}) for k, v in (groups or {}).items()},
        "no_data": None if no_data is None else str(no_data),
        **extra,
    }


def empty(scope: Scope, period: Period, columns, reason, **extra) -> dict:
    return make(scope, period, columns, [], no_data=reason, **extra)


def plain(value):
    """A cell as JSON: numbers rounded to what a chart can show, missing values as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return round(value, 4)
    return value


def months(scope: Scope, period: Period, count: int = TRAILING_MONTHS) -> pd.PeriodIndex:
    """The months drawn for ``period``: the ``count`` months up to its end (so far), or all of a
    longer period's months."""
    end = pd.Period(period.as_of(scope.today), "M")
    first = min(pd.Period(period.start, "M"), end - (count - 1))
    return pd.period_range(first, end, freq="M")


def month_period(month: pd.Period) -> Period:
    return Period.of("month", month.start_time.date())

