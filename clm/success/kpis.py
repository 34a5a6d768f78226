"""The activation KPIs, one function each, over onboarding records: the 7-day and 30-day activation
rates and the median time to first value, with a breakdown by signup cohort (month of the contract
start) or by segment (industry). clm.reports.kpis.activation puts them in the KPI catalogue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from clm.success import rules
from clm.success.models import Onboarding

COHORT, SEGMENT = "cohort", "segment"
COLUMNS = ["id", "account_id", "started_on", "activated_on", "first_value_on", "segment"]


@dataclass
class Figure:
    value: float | None
    numerator: float
    denominator: float
    account_ids: list[int] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)
    groups: dict[str, list[int]] = field(default_factory=dict)


def onboarding_frame(onboardings) -> pd.DataFrame:
    """The onboardings (a queryset) as rows: dates, and the account's industry as its segment.
    Cancelled onboardings are left out: they never had the chance to activate."""
    rows = (onboardings.exclude(status=Onboarding.Status.CANCELLED).order_by()
            .values_list("pk", "account_id", "started_on", "activated_on", "first_value_on", "account__industry"))
    frame = pd.DataFrame.from_records(list(rows), columns=COLUMNS)
    return frame.set_index("id") if not frame.empty else pd.DataFrame(columns=COLUMNS).set_index("id")


def _keys(frame: pd.DataFrame, by: str | None) -> pd.Series:
    if by == COHORT:
        return pd.to_datetime(frame["started_on"]).dt.strftime("%Y-%m")
    return frame["segment"].fillna("").replace("", "—")


def _rate(frame: pd.DataFrame, today: dt.date, days: int, by: str | None) -> Figure:
    hit, observed, ids = rules.activation_rate(frame["started_on"], frame["activated_on"], today, days)
    accounts = sorted({int(frame.at[i, "account_id"]) for i in ids})
    figure = Figure(hit / observed if observed else None, hit, observed, accounts)
    if by and observed:
        seen = frame[pd.to_datetime(frame["started_on"]) + pd.Timedelta(days=days) <= pd.Timestamp(today)]
        keys = _keys(seen, by)
        for key in sorted(keys.unique()):
            part = seen[keys == key]
            h, n, part_ids = rules.activation_rate(part["started_on"], part["activated_on"], today, days)
            figure.breakdown[key] = h / n
            figure.groups[key] = sorted({int(part.at[i, "account_id"]) for i in part_ids})
    return figure


def activation_rate_7d(frame: pd.DataFrame, today: dt.date, by: str | None = None) -> Figure:
    """Share of the onboardings started at least 7 days ago whose checklist was complete within 7
    days of the contract start."""
    return _rate(frame, today, 7, by)


def activation_rate_30d(frame: pd.DataFrame, today: dt.date, by: str | None = None) -> Figure:
    """Share of the onboardings started at least 30 days ago activated within 30 days."""
    return _rate(frame, today, 30, by)


def median_time_to_first_value(frame: pd.DataFrame, today: dt.date, by: str | None = None) -> Figure:
    """Median whole days from the contract start to first value (the milestone marked first value,
    else the first milestone done), over the onboardings that reached it by ``today``."""
    reached = frame[frame["first_value_on"].notna()]
    reached = reached[pd.to_datetime(reached["first_value_on"]) <= pd.Timestamp(today)]
    days = rules.days_to(reached["started_on"], reached["first_value_on"])
    figure = Figure(float(days.median()) if len(days) else None, float(days.sum()), float(len(days)),
                    sorted({int(a) for a in reached["account_id"]}))
    if by and len(days):
        keys = _keys(reached, by)
        for key in sorted(keys.unique()):
            figure.breakdown[key] = float(days[keys == key].median())
            figure.groups[key] = sorted({int(a) for a in reached.loc[keys == key, "account_id"]})
    if not by:
        figure.breakdown = {"reached": float(len(days)), "not_yet": float(len(frame) - len(days))}
    return figure
