"""Writing the day's CLV estimates and tier assignments back in bulk (replacing the date's rows,
so a day can be run again), and thinning the older daily rows to one a month."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
from django.db import connection

from clm.core import bulk
from clm.value.models import CLVEstimate, TierAssignment

DAILY_HISTORY_DAYS = 90  # older daily CLV and tier rows are thinned to the first of each month


PLAUSIBLE = 1e12  # a customer lifetime value above this is a failed fit (the column holds up to 1e14)


def write_estimates(table: pd.DataFrame, as_of: dt.date) -> int:
    CLVEstimate.objects.filter(as_of=as_of).delete()
    if table.empty:
        return 0
    # A model fitted on too little history can give a value no company has (1e44 was seen on a
    # ten-account demo): such an estimate is left out, not written, and the day's count says so.
    total = table["historical"].astype(float) + table["future"].astype(float)
    table = table[np.isfinite(total) & (total.abs() < PLAUSIBLE)]
    historical = table["historical"].to_numpy(dtype=float)
    future = table["future"].to_numpy(dtype=float)
    day = connection.ops.adapt_datefield_value(as_of)
    rows = [
        (
            int(a),
            day,
            str(m),
            _text_cents(h + f),
            _text_cents(h),
            _text_cents(f),
            json.dumps(i, ensure_ascii=False),
        )
        for a, m, h, f, i in zip(
            table.index.tolist(),
            table["method"].tolist(),
            historical,
            future,
            table["inputs"].tolist(),
            strict=True,
        )
    ]
    columns = ["account_id", "as_of", "method", "value", "historical_value", "future_value", "inputs"]
    bulk.insert(CLVEstimate, columns, rows)
    return len(rows)


def write_tiers(table: pd.DataFrame, as_of: dt.date) -> int:
    TierAssignment.objects.filter(as_of=as_of).delete()
    if table.empty:
        return 0
    n = len(table)
    has_rfm = "rfm_code" in table.columns

    def column(name, cast, blank=None):
        if not has_rfm:
            return [blank] * n
        return [blank if pd.isna(v) else cast(v) for v in table[name].tolist()]

    day = connection.ops.adapt_datefield_value(as_of)
    rows = list(
        zip(
            [int(a) for a in table.index.tolist()],
            [day] * n,
            table["tier"].tolist(),
            table["tier_label"].tolist(),
            [round(float(v), 4) for v in table["tenure_years"].tolist()],
            [_text_cents(v) for v in table["total_revenue"].tolist()],
            column("recency_days", int),
            column("frequency", int),
            column("monetary", _text_cents),
            column("rfm_code", str, ""),
            column("segment", str, ""),
            column("value_class", str, ""),
            strict=True,
        )
    )
    columns = [
        "account_id", "as_of", "tier", "tier_label", "tenure_years", "total_revenue",
        "recency_days", "frequency", "monetary", "rfm_code", "segment", "value_class",
    ]  # fmt: skip
    bulk.insert(TierAssignment, columns, rows)
    return n


def _text_cents(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"a value to store is not finite: {value}")
    return f"{value:.2f}"


def thin_history(as_of: dt.date) -> None:
    """Keep every day of the last DAILY_HISTORY_DAYS, and the first of each month before."""
    cutoff = as_of - dt.timedelta(days=DAILY_HISTORY_DAYS)
    for model in (CLVEstimate, TierAssignment):
        model.objects.filter(as_of__lt=cutoff).exclude(as_of__day=1).delete()
