"""Win-back and reactivation arithmetic, pure: the priority of a churned account on the win-back
list, the reactivation potential of a dormant customer (with its reasons), and the success of
win-back cases grouped by cause or offer.

Reactivation potential (0–100) = 100 × (0.5 × alive + 0.3 × value + 0.2 × recency) × reason, where
alive is P(alive) from BG/NBD (Fader, Hardie & Lee 2005, eq. 11) for order-based customers and the
recency decay for others, value is the account's percentile of past value among the dormant,
recency = 0.5 ** (days quiet / 180), and reason is the factor of why they went quiet (a detractor
answer, complaints, the champion leaving, or nothing known)."""

from __future__ import annotations

import numpy as np
import pandas as pd

HALF_LIFE_DAYS = 180.0
WEIGHTS = {"alive": 0.5, "value": 0.3, "recency": 0.2}
# Why a customer went quiet, and how much it lowers the chance to wake them (1 = not at all).
REASON_FACTORS = {"none_known": 1.0, "champion_left": 0.8, "complaints": 0.7, "detractor": 0.6}


def decay(days) -> np.ndarray:
    """0.5 ** (days / 180): 1 today, ½ after 180 days, ¼ after a year."""
    return np.power(0.5, np.asarray(days, dtype=float) / HALF_LIFE_DAYS)


def winback_priority(value, days_since_left) -> np.ndarray:
    """Value at stake weighted by how recently the account left: value × 0.5 ** (days / 180)."""
    return np.asarray(value, dtype=float) * decay(days_since_left)


def reactivation_potential(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``: one row per dormant account with ``p_alive`` (NaN when no BG/NBD estimate),
    ``past_value``, ``days_quiet`` and ``reason`` (a key of REASON_FACTORS). Returns the components
    (alive, value, recency, factor), ``alive_source`` ("bgnbd" or "recency") and ``score``."""
    out = pd.DataFrame(index=frame.index)
    recency = decay(frame["days_quiet"].to_numpy(dtype=float))
    p_alive = frame["p_alive"].to_numpy(dtype=float)
    known = np.isfinite(p_alive)
    out["alive"] = np.where(known, np.clip(p_alive, 0.0, 1.0), recency)
    out["alive_source"] = np.where(known, "bgnbd", "recency")
    past = frame["past_value"].astype(float)
    out["value"] = past.rank(method="max", pct=True).fillna(0.0).to_numpy() if len(past) else []
    out["recency"] = recency
    unknown = set(frame["reason"]) - set(REASON_FACTORS)
    if unknown:
        raise ValueError(f"unknown reasons: {sorted(unknown)}")
    out["factor"] = frame["reason"].map(REASON_FACTORS).to_numpy(dtype=float)
    blend = sum(WEIGHTS[k] * out[k] for k in WEIGHTS)
    out["score"] = (100.0 * blend * out["factor"]).round(1)
    return out


def success_by(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """``frame``: one row per evaluated win-back with ``key``, ``won`` (bool) and ``arr_won_back``.
    Per value of ``key``: cases, won, success rate (won ÷ cases) and ARR won back."""
    if frame.empty:
        return pd.DataFrame(columns=["cases", "won", "rate", "arr_won_back"])
    grouped = frame.groupby(key, sort=True).agg(
        cases=("won", "size"), won=("won", "sum"), arr_won_back=("arr_won_back", "sum")
    )
    grouped["won"] = grouped["won"].astype(int)
    grouped["rate"] = grouped["won"] / grouped["cases"]
    return grouped[["cases", "won", "rate", "arr_won_back"]].sort_values(["cases", "won"], ascending=False)
