"""The daily value recomputation: CLV, value tiers with RFM, cross-sell recommendations and
purchase/referral points for every account at once, as of a date.

It reads only what was known on its as-of date (``loading``), computes with the pure core on
frames (``computing``), and writes back in bulk in one transaction (``writing``,
``recommendations``, ``loyalty``). It is idempotent for a date.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import numpy as np
from django.db import transaction

from . import loyalty, recommendations, referrals, upsell, writing
from .computing import compute
from .loading import Known

log = logging.getLogger("clm.value")


def recompute(as_of: dt.date, *, churned=None) -> dict:
    """CLV, value tiers with RFM, recommendations and loyalty earnings of every account as of a
    date, written back in bulk; running it twice for one date leaves the same rows. Returns counts
    (and any part that could not be computed, under "problems", with the reason). ``churned``:
    the accounts churned on the date (the lifecycle run's stages; the stored stages otherwise),
    which get no future value, no tier and no offer."""
    as_of = _as_date(as_of)
    began = time.perf_counter()
    known = Known.load(as_of, churned)
    loaded = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite results are handled
        outcome = compute(known)
    upsells = upsell.prepare(known)
    computed = time.perf_counter()
    with transaction.atomic():
        written = writing.write_estimates(outcome.clv, as_of)
        assigned = writing.write_tiers(outcome.tiers, as_of)
        recommended = recommendations.sync(outcome.offers, known)
        upsold = upsell.sync(upsells, known)
        referrals.attribute_imported()
        points = loyalty.earn_points(known, outcome.since)
        writing.thin_history(as_of)
    for problem in outcome.problems:
        log.warning("value recompute %s: %s", as_of, problem)
    methods = outcome.clv["method"].value_counts().to_dict() if len(outcome.clv) else {}
    return {
        "as_of": as_of.isoformat(),
        "clv_estimates": written,
        "clv_by_method": {str(k): int(v) for k, v in sorted(methods.items())},
        "churned_without_future": len(known.churned),
        "tier_assignments": assigned,
        "recommendations": recommended,
        "upsell_recommendations": upsold,
        "loyalty_entries": points,
        "models": outcome.models,
        "problems": outcome.problems,
        "seconds": {
            "load": round(loaded - began, 3),
            "compute": round(computed - loaded, 3),
            "write": round(time.perf_counter() - computed, 3),
        },
    }


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"as_of must be a date, not {type(value).__name__}")
