"""The manager's dashboard as a read model: the KPI table of clm.reports grouped by stage, with
each tile's figure formatted for the page, and customers and ARR by lifecycle stage — read from
the same rows as the tiles, so the page cannot contradict itself, the API or the export."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from clm.core.money import money
from clm.customers.models import LifecycleStage
from clm.reports import services as reports
from clm.reports.catalogue import STAGES, TEAMS
from clm.reports.kpis.base import Segment
from clm.reports.periods import Period

STATUS_CLASS = {reports.MET: "green", reports.MISSED: "red", reports.NO_TARGET: "", reports.NO_DATA: ""}


@dataclass
class Tile:
    row: reports.Row
    value: str
    previous: str
    change: str
    change_class: str  # good, bad or '' (no change known)
    target: str
    status: str
    status_class: str
    team: str
    link: str


@dataclass
class Dashboard:
    period: Period
    segment: Segment
    stages: list[tuple[str, list[Tile]]]
    by_stage: list[dict]
    missed: list[Tile]


def figure(value, unit: str) -> str:
    """A KPI's value as read on the page, in the user's language."""
    if value is None:
        return "–"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return money(value, compact=True)
    if unit in ("days", "months"):
        return _("%(n)s days") % {"n": f"{value:,.1f}"} if unit == "days" else _("%(n)s months") % {"n": f"{value:,.1f}"}
    if unit == "multiple":
        return f"{value:,.1f}×"
    return f"{value:,.0f}" if float(value).is_integer() or unit == "score" else f"{value:,.1f}"


def change(value, unit: str) -> str:
    if value is None:
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    if unit == "percent":
        return _("%(sign)s%(n)s pts") % {"sign": sign, "n": f"{abs(value) * 100:.1f}"}
    return sign + figure(abs(value), unit)


def drill_down(kpi_key: str, period: Period, segment: Segment, part: str = "") -> str:
    query = {"kpi": kpi_key, "period": period.label, **({"part": part} if part else {}), **segment.as_query()}
    return f"{reverse('web:accounts')}?{urlencode(query)}"


def tile(row: reports.Row, period: Period, segment: Segment) -> Tile:
    unit, delta = row.kpi.unit, row.change
    good = None if not delta else (delta > 0) == row.kpi.up_is_good
    return Tile(
        row=row,
        value=figure(row.result.value if row.result.has_value else None, unit),
        previous=figure(row.previous.value if row.previous.has_value else None, unit),
        change=change(delta, unit),
        change_class="" if good is None else ("good" if good else "bad"),
        target=figure(row.target, unit) if row.target is not None else "",
        status=str(reports.STATUS_LABELS[row.status]),
        status_class=STATUS_CLASS[row.status],
        team=str(TEAMS[row.kpi.team]),
        link=drill_down(row.kpi.key, period, segment),
    )


def dashboard(user, period: Period, segment: Segment) -> Dashboard:
    rows = reports.kpi_table(user, period, segment)
    tiles = [tile(row, period, segment) for row in rows]
    stages = [(str(label), [t for t in tiles if t.row.kpi.stage == key]) for key, label in STAGES.items()]
    by_key = {t.row.kpi.key: t.row for t in tiles}
    customers, arr = by_key["customers"].result, by_key["arr"].result
    by_stage = [
        {
            "stage": stage, "label": str(label), "customers": int(customers.breakdown.get(stage, 0)),
            "arr": arr.breakdown.get(stage, 0.0), "arr_text": money(arr.breakdown.get(stage, 0.0), compact=True),
            "link": drill_down("customers", period, segment, part=stage),
        }
        for stage, label in LifecycleStage.choices
    ] if customers.has_value else []
    missed = [t for t in tiles if t.row.status == reports.MISSED]
    return Dashboard(period, segment, stages, by_stage, missed)
