"""Sales-process analytics from deals and their stage history: win rate, average won deal,
sales cycle, stage-to-stage conversion and time in each stage, per group (owner, region, ...).

A deal *reached* a stage when it entered it or any later open stage, or was won (a won deal went
through every stage); a lost deal reached the furthest open stage it entered. Conversion from a
stage is the share of the deals that reached it which reached the next one. Time in a stage is the
days from entering it to the next move, for the moves recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd

WON, LOST = "won", "lost"


def deal_metrics(deals: pd.DataFrame, history: pd.DataFrame, open_stages: list[str]) -> pd.DataFrame:
    """``deals``: opportunity_id, group, stage, amount, created (date), closed (date or NaT);
    ``history``: opportunity_id, to_stage, changed_at (ordered moves). One row per group (and
    "" for all deals) with: deals, won, lost, win_rate, avg_won, cycle_days (median, won deals),
    and for each open stage s: reached_s, conversion_s (to the next stage), days_in_s (median)."""
    order = {s: i for i, s in enumerate(open_stages)}
    last = len(open_stages)  # a won deal reached every stage
    furthest = (
        history.assign(o=history["to_stage"].map(order)).dropna(subset=["o"]).groupby("opportunity_id")["o"].max()
    )
    reached = deals["opportunity_id"].map(furthest).fillna(-1)
    reached = reached.where(deals["stage"] != WON, last)
    current = deals["stage"].map(order)
    reached = np.maximum(reached, current.fillna(-1))
    frame = deals.assign(reached=reached.to_numpy())
    stay = _time_in_stage(history)
    rows = []
    for group, part in [("", frame), *frame.groupby("group", sort=True)]:
        rows.append(_row(group, part, stay, open_stages))
    return pd.DataFrame(rows)


def _time_in_stage(history: pd.DataFrame) -> pd.DataFrame:
    h = history.sort_values(["opportunity_id", "changed_at"])
    left = h.groupby("opportunity_id")["changed_at"].shift(-1)
    days = (left - h["changed_at"]).dt.total_seconds() / 86400
    return pd.DataFrame({"opportunity_id": h["opportunity_id"], "stage": h["to_stage"], "days": days}).dropna()


def _row(group, part: pd.DataFrame, stay: pd.DataFrame, open_stages: list[str]) -> dict:
    won = part[part["stage"] == WON]
    lost = part[part["stage"] == LOST]
    closed = len(won) + len(lost)
    cycle = (pd.to_datetime(won["closed"]) - pd.to_datetime(won["created"])).dt.days
    row = {
        "group": group, "deals": len(part), "won": len(won), "lost": len(lost),
        "win_rate": len(won) / closed if closed else None,
        "avg_won": float(won["amount"].mean()) if len(won) else None,
        "cycle_days": float(cycle.median()) if len(cycle.dropna()) else None,
    }  # fmt: skip
    mine = stay[stay["opportunity_id"].isin(part["opportunity_id"])]
    for i, stage in enumerate(open_stages):
        at = int((part["reached"] >= i).sum())
        onward = int((part["reached"] >= i + 1).sum())
        days = mine.loc[mine["stage"] == stage, "days"]
        row[f"reached_{stage}"] = at
        row[f"conversion_{stage}"] = onward / at if at else None
        row[f"days_in_{stage}"] = float(days.median()) if len(days) else None
    return row
