"""The lead funnel (线索中心): engagement with decay, stage entry criteria, and the funnel's
conversion rates, median days between stages and CAC per converted customer.

* **Engagement** (``engagement``): each activity (an email open or click, a form, a web or product
  event) is worth its kind's points, halved every ``half_life_days`` of age:
  points × 0.5^(age / half-life). A lead's engagement is the sum, capped at 100; the components
  per kind are kept so the score can be explained.
* **Criteria** (``reached``): a stage's entry criteria are a minimum fit, a minimum engagement and
  optionally explicit actions (any one of them must have happened). A lead moves as far forward
  as consecutive stages' criteria hold; it never moves back by itself.
* **Funnel** (``funnel``): of the leads that came in, how many reached each stage, the rate from
  each stage to the next, and the median days between them; grouped by any column (source,
  channel). ``cac_per_customer`` divides spend by the customers each channel converted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

STAGES = ("mal", "mql", "sql", "opportunity", "customer")
ACTIVITY_COLUMNS = ("lead_id", "kind", "at")
MAX_ENGAGEMENT = 100.0


def engagement(
    activities: pd.DataFrame, points: Mapping[str, float], half_life_days: float, as_of
) -> pd.DataFrame:
    """Per lead: ``score`` (0–100) and one column per kind (its decayed points). Activities after
    ``as_of`` do not count; kinds without points count nothing."""
    if half_life_days <= 0:
        raise ValueError("half_life_days must be above 0")
    kinds = list(points)
    if not len(activities):
        return pd.DataFrame(columns=["score", *kinds], index=pd.Index([], name="lead_id"), dtype=float)
    at = pd.to_datetime(activities["at"], utc=True)
    now = pd.Timestamp(as_of)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    age = (now - at).dt.total_seconds().to_numpy() / 86400
    worth = activities["kind"].map(points).fillna(0).to_numpy(float) * np.power(0.5, age / half_life_days)
    worth[age < 0] = 0
    frame = pd.DataFrame({"lead_id": activities["lead_id"].to_numpy(), "kind": activities["kind"].to_numpy(), "w": worth})
    table = frame.pivot_table(index="lead_id", columns="kind", values="w", aggfunc="sum", fill_value=0.0)
    table = table.reindex(columns=kinds, fill_value=0.0)
    table.insert(0, "score", np.minimum(MAX_ENGAGEMENT, table.sum(axis=1)).round(1))
    return table


def reached(
    stage: Sequence[str],
    fit: Sequence[float],
    engagement_score: Sequence[float],
    actions: Sequence[set],
    criteria: Mapping[str, Mapping],
) -> np.ndarray:
    """The furthest stage each lead qualifies for, never behind its current ``stage``: from the
    current stage, the next is entered while its criteria ({"min_fit", "min_engagement",
    "actions"}) hold. Stages without criteria (opportunity, customer) are entered by hand or by
    the deal, not here."""
    out = np.array(stage, dtype=object)
    fit = np.nan_to_num(np.asarray(fit, dtype=float), nan=0.0)
    eng = np.nan_to_num(np.asarray(engagement_score, dtype=float), nan=0.0)
    for i, stage_name in enumerate(STAGES[1:], start=1):
        rule = criteria.get(stage_name)
        if not rule:
            break
        before = STAGES[i - 1]
        ok = (out == before) & (fit >= rule.get("min_fit", 0)) & (eng >= rule.get("min_engagement", 0))
        wanted = set(rule.get("actions") or ())
        if wanted:
            ok &= np.array([bool(wanted & set(a or ())) for a in actions], dtype=bool)
        out[ok] = stage_name
    return out


def funnel(leads: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """``leads``: one row per lead with ``<stage>_at`` timestamps (NaT when not reached) for each
    of ``STAGES``, and the ``by`` column. Rows: group, stage, reached, rate (from the previous
    stage; the first stage's is 1), overall (from MAL), median_days (from the previous stage, over
    the leads that reached both). A lead with a later stage's date and not an earlier one's (a
    deal converted straight from SQL, an import) passed the earlier stage on the later date."""
    leads = leads.copy()
    for later, earlier in zip(STAGES[:0:-1], STAGES[-2::-1], strict=True):
        # a lead that reached a stage passed the ones before it: a date left empty takes the next one's
        column, after = f"{earlier}_at", pd.to_datetime(leads[f"{later}_at"], utc=True)
        before = pd.to_datetime(leads[column], utc=True)
        leads[column] = before.where(before.notna(), after.astype(before.dtype))
    groups = [(None, leads)] if by is None else list(leads.groupby(by, dropna=False, sort=True))
    rows = []
    for key, part in groups:
        previous_count, previous_at, first = None, None, len(part)
        for stage in STAGES:
            at = pd.to_datetime(part[f"{stage}_at"], utc=True)
            count = int(at.notna().sum())
            rate = 1.0 if previous_count is None else (count / previous_count if previous_count else None)
            days = None
            if previous_at is not None:
                # a stage recorded a little before the one before it (same-day entries) took 0 days
                gap = ((at - previous_at).dt.total_seconds() / 86400).clip(lower=0)
                gap = gap[at.notna() & previous_at.notna()]
                days = None if gap.empty else round(float(gap.median()), 1)
            rows.append({"group": key, "stage": stage, "reached": count, "rate": _round(rate),
                         "overall": _round(count / first if first else None), "median_days": days})
            previous_count, previous_at = count, at
    table = pd.DataFrame(rows, columns=["group", "stage", "reached", "rate", "overall", "median_days"])
    return table.astype(object).where(table.notna(), None)


def cac_per_customer(spend: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Per channel: spend, customers converted (from leads of that channel), CAC = spend /
    customers (None when no customer). ``spend``: channel, amount; ``customers``: channel."""
    spent = spend.groupby("channel")["amount"].sum().astype(float)
    won = customers.groupby("channel").size()
    table = pd.concat([spent.rename("spend"), won.rename("customers")], axis=1).fillna(0)
    table["customers"] = table["customers"].astype(int)
    cac = [round(s / c, 2) if c else None for s, c in zip(table["spend"], table["customers"], strict=True)]
    table["cac"] = pd.Series(cac, index=table.index, dtype=object)
    return table.reset_index(names="channel").sort_values("channel", ignore_index=True)


def _round(value):
    return None if value is None else round(float(value), 4)
