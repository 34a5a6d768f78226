"""The figures behind the dashboards' charts (lifecycle flows, cohorts, revenue, value, early-warning
quality, teams): each one a function of a Scope and a Period that gives a JSON-able dict, registered
under a key. Pages, the API and exports read every figure through `read`, so a chart, its table and
its export show the same numbers; company-wide figures can be stored by the daily run as snapshots
so that a page does not recompute a year of history per request."""

from __future__ import annotations

import time
from collections.abc import Callable

from .kpis.base import Scope
from .periods import Period

Compute = Callable[[Scope, Period], dict]

FIGURES: dict[str, Compute] = {}


def figure(key: str) -> Callable[[Compute], Compute]:
    """Register ``compute(scope, period) -> dict`` as the figure ``key``."""

    def register(compute: Compute) -> Compute:
        if key in FIGURES:
            raise ValueError(f"figure {key!r} is registered twice")
        FIGURES[key] = compute
        return compute

    return register


def read(key: str, scope: Scope, period: Period, *, stored: bool = True) -> dict:
    """The figure ``key`` for the scope and period (KeyError for an unknown key): the snapshot
    stored for the scope's day and the period when there is one (the daily run's for the company,
    a segment's first view's), computed live otherwise, and then kept for a segment's later views
    (``stored`` False: always live, nothing kept)."""
    from . import snapshots

    compute = FIGURES[key]
    found = snapshots.figure(scope, key, period) if stored else None
    if found is not None:
        return found
    started = time.perf_counter()
    data = compute(scope, period)
    if stored:
        snapshots.keep_figure(scope, key, period, data, time.perf_counter() - started)
    return data
