"""The rules of the success programmes as plain functions (no database): when a usage milestone is
reached, how far an objective has come, and whether a success plan is on track, behind or stuck."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

STUCK_AFTER_DAYS = 30  # a milestone this many days past due, and the plan is stuck, not just behind
BEHIND_GAP = 0.25  # objectives this far (25 points) behind the share of the plan's time gone: behind

ON_TRACK, BEHIND, STUCK = "on_track", "behind", "stuck"


def first_reached(usage: pd.DataFrame, steps: pd.DataFrame) -> pd.Series:
    """The day each step's usage first adds up to its count, counting from its start.

    ``usage``: rows (account_id, key, day, amount); ``steps``: rows (step_id, account_id, key,
    start, count). A step is reached on the first day d ≥ start where the sum of ``amount`` over
    its key's rows from start to d is at least count. Returns step_id → day for the steps reached."""
    if usage.empty or steps.empty:
        return pd.Series(dtype=object)
    rows = steps.merge(usage, on=["account_id", "key"])
    rows = rows[rows["day"] >= rows["start"]].sort_values(["step_id", "day"], kind="stable")
    if rows.empty:
        return pd.Series(dtype=object)
    per_day = rows.groupby(["step_id", "day"], sort=True).agg(amount=("amount", "sum"), count=("count", "first"))
    per_day["total"] = per_day.groupby(level="step_id")["amount"].cumsum()
    hit = per_day[per_day["total"] >= per_day["count"]].reset_index()
    return hit.groupby("step_id")["day"].min()


def reached_on_one_day(usage: pd.DataFrame, steps: pd.DataFrame) -> pd.Series:
    """Like ``first_reached``, for a count that must be met on one day (N active users at once)."""
    if usage.empty or steps.empty:
        return pd.Series(dtype=object)
    rows = steps.merge(usage, on=["account_id", "key"])
    rows = rows[(rows["day"] >= rows["start"]) & (rows["amount"] >= rows["count"])]
    return rows.groupby("step_id")["day"].min()


def progress(baseline: float, target: float, current: float | None) -> float | None:
    """How far an objective has come from its baseline to its target, 0–1 (None without a value).
    A target below the baseline (fewer tickets, less time) counts the fall."""
    if current is None:
        return None
    if target == baseline:
        return 1.0 if current == target else 0.0
    return max(0.0, min(1.0, (current - baseline) / (target - baseline)))


@dataclass(frozen=True)
class Milestone:
    due_on: dt.date
    done_on: dt.date | None


@dataclass(frozen=True)
class Goal:
    baseline: float
    target: float
    current: float | None


def plan_status(
    today: dt.date, starts_on: dt.date, ends_on: dt.date | None, milestones: list[Milestone], goals: list[Goal]
) -> tuple[str, dict]:
    """On track, behind or stuck, with the facts the rule saw.

    - stuck: a milestone is open more than STUCK_AFTER_DAYS past its due date;
    - behind: a milestone is open past its due date, or the objectives' mean progress trails the
      share of the plan's time gone by more than BEHIND_GAP;
    - on track otherwise."""
    overdue = [(today - m.due_on).days for m in milestones if m.done_on is None and m.due_on < today]
    done = sum(1 for m in milestones if m.done_on is not None)
    values = [p for g in goals if (p := progress(g.baseline, g.target, g.current)) is not None]
    mean_progress = sum(values) / len(values) if values else None
    elapsed = None
    if ends_on is not None and ends_on > starts_on:
        elapsed = max(0.0, min(1.0, (today - starts_on).days / (ends_on - starts_on).days))
    facts = {
        "milestones": len(milestones),
        "done": done,
        "overdue": len(overdue),
        "most_overdue_days": max(overdue, default=0),
        "progress": None if mean_progress is None else round(mean_progress, 4),
        "time_elapsed": None if elapsed is None else round(elapsed, 4),
    }
    if overdue and max(overdue) > STUCK_AFTER_DAYS:
        return STUCK, {**facts, "rule": "milestone_overdue_long"}
    if overdue:
        return BEHIND, {**facts, "rule": "milestone_overdue"}
    if mean_progress is not None and elapsed is not None and elapsed - mean_progress > BEHIND_GAP:
        return BEHIND, {**facts, "rule": "progress_trails_time"}
    return ON_TRACK, {**facts, "rule": "on_track"}


def activation_rate(starts: pd.Series, activated: pd.Series, today: dt.date, days: int) -> tuple[int, int, list]:
    """Of the onboardings started at least ``days`` days before today (index: onboarding id), how
    many were activated within ``days`` days of their start: (activated, observed, ids)."""
    starts = pd.to_datetime(starts)
    observed = starts[starts + pd.Timedelta(days=days) <= pd.Timestamp(today)]
    done = pd.to_datetime(activated.reindex(observed.index))
    within = done.notna() & ((done - observed).dt.days <= days)
    return int(within.sum()), len(observed), list(observed.index[within])


def days_to(starts: pd.Series, reached: pd.Series) -> pd.Series:
    """Whole days from each start to the day reached, for those reached."""
    both = pd.DataFrame({"start": pd.to_datetime(starts), "reached": pd.to_datetime(reached)}).dropna()
    return (both["reached"] - both["start"]).dt.days
