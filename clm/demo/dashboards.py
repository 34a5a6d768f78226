"""What the demo company needs for the manager's dashboards beyond the daily run: one backtest of
the early warning, stored as `clm backtest` stores it, so that the early-warning quality page
shows how far ahead the warnings saw and how often they were right on first start."""

from __future__ import annotations

import datetime as dt

from clm.lifecycle import backtest

STEP_DAYS = 28  # four-weekly, as the demo replays its history: about 8 s of CPU on 600 accounts
SPAN_DAYS = 336  # the past year of replayed history (twelve steps, the last four weeks before today)


def store_backtest(as_of: dt.date) -> str:
    """Replay the past year every four weeks (churn judged 90 days ahead, within 180) and keep
    the report; the step's name for the build's summary."""
    start = as_of - dt.timedelta(days=SPAN_DAYS)
    report = backtest.run(start, as_of - dt.timedelta(days=STEP_DAYS), STEP_DAYS)
    backtest.store(report)
    return "early-warning backtest"
