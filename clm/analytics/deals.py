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
ALL = ""  # the group of every deal together


def deal_metrics(deals: pd.DataFrame, history: pd.DataFrame, open_stages: list[str]) -> pd.DataFrame:
    """``deals``: opportunity_id, group, stage, amount, created (date), closed (date or NaT);
    ``history``: opportunity_id, to_stage, changed_at. One row per group, the row of every deal
    (group "") first, with: deals, won, lost, win_rate, avg_won, cycle_days (median, won deals),
    and for each open stage s: reached_s, conversion_s (to the next stage), days_in_s (median)."""
    order = {s: i for i, s in enumerate(open_stages)}
    furthest = (
        history.assign(o=history["to_stage"].map(order)).dropna(subset=["o"]).groupby("opportunity_id")["o"].max()
    )
    reached = deals["opportunity_id"].map(furthest).fillna(-1)
    reached = reached.where(deals["stage"] != WON, len(open_stages))
    reached = np.maximum(reached, deals["stage"].map(order).fillna(-1))
    won = deals["stage"] == WON
    frame = deals.assign(
        reached=reached.to_numpy(), won=won, lost=deals["stage"] == LOST,
        won_amount=deals["amount"].where(won),
        cycle=(pd.to_datetime(deals["closed"]) - pd.to_datetime(deals["created"])).dt.days.where(won),
    )  # fmt: skip
    for i, stage in enumerate(open_stages):
        frame[f"reached_{stage}"] = frame["reached"] >= i
    frame["reached_next"] = frame["reached"] >= len(open_stages)
    both = pd.concat([frame.assign(group=ALL), frame], ignore_index=True)
    by = both.groupby("group", sort=True)
    out = pd.DataFrame({
        "deals": by.size(), "won": by["won"].sum(), "lost": by["lost"].sum(),
        "avg_won": by["won_amount"].mean(), "cycle_days": by["cycle"].median(),
    })  # fmt: skip
    closed = out["won"] + out["lost"]
    out["win_rate"] = (out["won"] / closed).where(closed > 0)
    counts = {s: by[f"reached_{s}"].sum() for s in open_stages}
    onward = [*(counts[s] for s in open_stages[1:]), by["reached_next"].sum()]
    stay = _time_in_stage(history).merge(deals[["opportunity_id", "group"]], on="opportunity_id")
    stay = pd.concat([stay.assign(group=ALL), stay], ignore_index=True)
    days = stay.groupby(["group", "stage"])["days"].median().unstack() if len(stay) else pd.DataFrame()
    for stage, nxt in zip(open_stages, onward, strict=True):
        out[f"reached_{stage}"] = counts[stage].astype(int)
        out[f"conversion_{stage}"] = (nxt / counts[stage]).where(counts[stage] > 0)
        out[f"days_in_{stage}"] = days[stage] if stage in days else np.nan
    out[["deals", "won", "lost"]] = out[["deals", "won", "lost"]].astype(int)
    return out.reset_index().rename(columns={"index": "group"})


def _time_in_stage(history: pd.DataFrame) -> pd.DataFrame:
    h = history.sort_values(["opportunity_id", "changed_at"])
    left = h.groupby("opportunity_id")["changed_at"].shift(-1)
    days = (left - h["changed_at"]).dt.total_seconds() / 86400
    return pd.DataFrame({"opportunity_id": h["opportunity_id"], "stage": h["to_stage"], "days": days}).dropna()
