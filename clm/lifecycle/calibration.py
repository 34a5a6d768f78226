"""Health calibrated against history: replayed health scores beside what happened next.

For every replayed date and every account with a live contract and a score, the label is whether
the account churned (contract ledger) within the horizon after that date; dates whose horizon has
not been observed yet are left out, unless the account did churn. The measures come from
clm.analytics.health.calibrate: churn rate per band and the score's ROC AUC for churn.
Used by `clm backtest` and by `clm health_calibration`.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from clm.analytics import health
from clm.lifecycle import services
from clm.lifecycle.metrics import today


def step_rows(result: services.Assessment, live: pd.Series) -> pd.DataFrame:
    """One replayed date's scored accounts with a live contract: account, as_of, score."""
    scores = result.health["score"].reindex(result.metrics.index)
    kept = scores[live & scores.notna()]
    return pd.DataFrame({"account": kept.index, "as_of": pd.Timestamp(result.as_of), "score": kept.to_numpy()})


def labelled(rows: pd.DataFrame, churns: pd.DataFrame, horizon_days: int, observed_until: dt.date) -> pd.DataFrame:
    """``rows`` with ``churned`` (1 when a churn followed within the horizon), judged rows only."""
    if rows.empty:
        return rows.assign(churned=pd.Series(dtype=int))
    horizon = pd.Timedelta(days=horizon_days)
    merged = rows.merge(churns[["account", "date"]], on="account", how="left")
    merged["hit"] = (merged["date"] > merged["as_of"]) & (merged["date"] <= merged["as_of"] + horizon)
    hit = merged.groupby(["account", "as_of"])["hit"].any().rename("churned").reset_index()
    out = rows.merge(hit, on=["account", "as_of"], how="left")
    observed = out["as_of"] + horizon <= pd.Timestamp(observed_until)
    return out[observed | out["churned"]].assign(churned=lambda f: f["churned"].astype(int))


def report(
    rows: pd.DataFrame, churns: pd.DataFrame, *, horizon_days: int = 180, observed_until: dt.date | None = None
) -> health.HealthCalibration:
    """The calibration of the default health model's bands over replayed ``rows``."""
    judged = labelled(rows, churns, horizon_days, observed_until or today())
    default = services.health_models()[-1]
    return health.calibrate(judged["score"], judged["churned"], green=default.green, yellow=default.yellow)


def replay(start: dt.date, end: dt.date, step_days: int = 7, *, horizon_days: int = 180, progress=None):
    """Replay health alone over [start, end] every ``step_days`` and calibrate it."""
    from clm.lifecycle.backtest import step_dates

    config = (services.health_models(), services.stage_rules(), services.signal_set())
    parts = []
    for day in step_dates(start, end, step_days):
        result = services.assess(day, with_stages=False, with_risk=False, config=config,
                                 open_since=pd.DataFrame(columns=["account", "kind", "opened_on"]))
        parts.append(step_rows(result, result.metrics["subscriptions_active"] > 0))
        if progress:
            progress(day)
    events = services.churn_events()
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["account", "as_of", "score"])
    return report(rows, events[events["event"] == "churn"], horizon_days=horizon_days)
