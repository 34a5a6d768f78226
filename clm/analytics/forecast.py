"""The sales forecast of a period from deals and their owners' forecast calls.

A deal counts in the period when it was won in it (closed-won) or is open and expected to close
in it; an open deal counts under its owner's call: commit, best case, pipeline or omitted. The
weighted pipeline is every open, not omitted deal's amount × its stage's probability. Rolled up,
"expected" is closed-won + commit and "upside" adds best case (Salesforce's forecast categories
roll up the same way: Closed ⊂ Commit ⊂ Best Case). The gap to a target is what the expected
figure (and the upside) still lack."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

WON, OPEN = "won", "open"
CALLS = ("commit", "best_case", "pipeline", "omitted")
MEASURES = ("won", *CALLS, "weighted")
ALL = "all"


def classify(deals: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """``deals``: opportunity_id, state ("won", "lost" or "open"), category, amount, probability
    (0–100), closes (the close date: when won, or expected). The deals of the period with their
    ``measure`` (won or the call) and ``weighted`` amount (0 for won and omitted deals)."""
    closes = pd.to_datetime(deals["closes"], errors="coerce")
    inside = (closes >= pd.Timestamp(start)) & (closes <= pd.Timestamp(end))
    frame = deals[inside & deals["state"].isin([WON, OPEN])].copy()
    frame["amount"] = frame["amount"].astype(float)
    frame["measure"] = np.where(frame["state"] == WON, WON, frame["category"])
    counted = (frame["state"] == OPEN) & (frame["category"] != "omitted")
    frame["weighted"] = np.where(counted, frame["amount"] * frame["probability"].astype(float) / 100, 0.0)
    return frame


def rollup(classified: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """One row per value of ``by`` (one row, group "all", without): deals, the amount of each
    measure (won, commit, best_case, pipeline, omitted), weighted, expected and upside."""
    frame = classified.assign(group=ALL if by is None else classified[by])
    amounts = frame.pivot_table(index="group", columns="measure", values="amount", aggfunc="sum", fill_value=0.0)
    out = pd.DataFrame(index=pd.Index(sorted(frame["group"].unique(), key=str), name="group"))
    for measure in (WON, *CALLS):
        out[measure] = amounts[measure] if measure in amounts else 0.0
    out = out.fillna(0.0)
    by_group = frame.groupby("group")
    out["weighted"] = by_group["weighted"].sum()
    out["deals"] = by_group.size()
    out["expected"] = out[WON] + out["commit"]
    out["upside"] = out["expected"] + out["best_case"]
    if out.empty and by is None:
        out.loc[ALL] = 0.0
    out["deals"] = out["deals"].fillna(0).astype(int)
    return out.reset_index()


def gap(row: dict, target: float) -> dict:
    """What closed-won + commit, and closed-won + commit + best case, lack of ``target`` (0 when
    reached), and the share of the target won so far."""
    return {
        "target": target,
        "to_expected": max(target - row["expected"], 0.0),
        "to_upside": max(target - row["upside"], 0.0),
        "attainment": row[WON] / target if target else None,
    }
