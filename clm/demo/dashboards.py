"""What the demo company needs for the manager's dashboards beyond the daily run: the value
history (CLV and value tiers as of the first of each past month — the days the product keeps
after thinning) so that the value page shows its distribution and tiers over time, and one
backtest of the early warning, stored as `clm backtest` stores it, so that the early-warning
page shows how far ahead the warnings saw and how often they were right on first start."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.db import transaction

from clm.lifecycle import backtest
from clm.value.services import writing
from clm.value.services.computing import compute
from clm.value.services.loading import Known

STEP_DAYS = 28  # four-weekly, as the demo replays its history: about 8 s of CPU on 600 accounts
SPAN_DAYS = 336  # the past year of replayed history (twelve steps, the last four weeks before today)
VALUE_MONTHS = 12


def prepare(as_of: dt.date) -> str:
    """The dashboards' history; the step's name for the build's summary."""
    value_history(as_of)
    store_backtest(as_of)
    return "dashboards (value history, early-warning backtest)"


def value_history(as_of: dt.date) -> int:
    """CLV and value tiers as of the first of each of the past twelve months (what the daily value
    run writes, without its recommendations and loyalty points, which belong to their day)."""
    first = as_of.replace(day=1)
    days = [_months_before(first, k) for k in range(VALUE_MONTHS, -1, -1)]
    written = 0
    for day in (d for d in days if d < as_of):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            outcome = compute(Known.load(day))
        with transaction.atomic():
            written += writing.write_estimates(outcome.clv, day)
            writing.write_tiers(outcome.tiers, day)
    return written


def store_backtest(as_of: dt.date) -> None:
    """Replay the past year every four weeks (churn judged 90 days ahead, within 180) and keep
    the report."""
    start = as_of - dt.timedelta(days=SPAN_DAYS)
    backtest.store(backtest.run(start, as_of - dt.timedelta(days=STEP_DAYS), STEP_DAYS))


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)
