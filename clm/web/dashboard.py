"""The manager's dashboard as a read model: the KPI table of clm.reports grouped by stage, with
each tile's figure formatted for the page, and customers and ARR by lifecycle stage — read from
the same rows as the tiles, so the page cannot contradict itself, the API or the export."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from clm.core.models import User
from clm.core.money import money
from clm.customers.models import LifecycleStage
from clm.reports import figures, snapshots
from clm.reports import services as reports
from clm.reports.catalogue import STAGES, TEAMS
from clm.reports.formats import change, figure, read_against_target
from clm.reports.kpis.base import Scope, Segment
from clm.reports.overview import BANDS, CHURN_MODEL, LOGO_RETENTION, UNKNOWN
from clm.reports.periods import Period
from clm.web.labels import BAND_LABELS
from clm.web.templatetags.workspace import display_name

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
    stored: snapshots.Stored | None = None  # as of when the numbers were computed, when read from a snapshot
    health: dict | None = None  # the bands' distribution, its weekly trend, the red accounts by owner
    renewals: dict | None = None


def drill_down(kpi_key: str, period: Period, segment: Segment, part: str = "") -> str:
    query = {"kpi": kpi_key, "period": period.label, **({"part": part} if part else {}), **segment.as_query()}
    return f"{reverse('web:accounts')}?{urlencode(query)}"


def tile(row: reports.Row, period: Period, segment: Segment) -> Tile:
    unit, delta = row.kpi.unit, row.change
    good = None if not delta else (delta > 0) == row.kpi.up_is_good
    read = read_against_target(row)
    return Tile(
        row=row,
        value=read["value"] if row.result.has_value else figure(None, unit),
        previous=figure(row.previous.value if row.previous.has_value else None, unit),
        change=change(delta, unit),
        change_class="" if good is None else ("good" if good else "bad"),
        target=read["target"],
        status=str(reports.STATUS_LABELS[row.status]),
        status_class=STATUS_CLASS[row.status],
        team=str(TEAMS[row.kpi.team]),
        link=drill_down(row.kpi.key, period, segment),
    )


def dashboard(user, period: Period, segment: Segment) -> Dashboard:
    scope = Scope(user, segment)
    rows = reports.kpi_table(user, period, segment, scope=scope)
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
    return Dashboard(
        period, segment, stages, by_stage, missed, stored=snapshots.stored(scope, period),
        health=health(by_key["healthy_share"], scope, period, segment),
        renewals=renewals(scope, period, segment),
    )


def health(row: reports.Row, scope: Scope, period: Period, segment: Segment) -> dict | None:
    """The healthy-share KPI's bands (the distribution), their weekly trend and the red accounts
    by sales owner: one scoring day behind all three, so they add up to the same counts."""
    result = row.result
    if not result.has_value:
        return None
    bands = [
        {"band": band, "label": str(BAND_LABELS[band]), "accounts": int(result.breakdown.get(band, 0)),
         "share_text": f"{result.breakdown.get(band, 0) / result.denominator * 100:.1f}%",
         "link": drill_down("healthy_share", period, segment, part=band)}
        for band in BANDS
    ]
    trend = figures.read("health_trend", scope, period)["points"]
    owners = figures.read("red_by_owner", scope, period)
    people = {u.pk: u for u in User.objects.filter(pk__in=[o["owner"] for o in owners["owners"] if o["owner"]])}
    by_owner = []
    for entry in owners["owners"]:
        person = people.get(entry["owner"])
        by_owner.append({
            **entry,
            "name": display_name(person.username, person.first_name, person.last_name) if person else _("No owner"),
            "share_text": f"{entry['share'] * 100:.1f}%",
            "link": drill_down("healthy_share", period, _with_owner(segment, entry["owner"]), part="red")
            if person else "",
        })
    labels = {band: str(BAND_LABELS[band]) for band in BANDS}
    return {"bands": bands, "trend": trend, "labels": labels, "by_owner": by_owner, "red": owners["red"]}


def _with_owner(segment: Segment, owner: int) -> Segment:
    return replace(segment, owner=owner)


RULE_LABELS = {
    CHURN_MODEL: lambda data: _("1 − the churn model's predicted risk (predictions of %(day)s)")
    % {"day": data["prediction_day"]},
    LOGO_RETENTION: lambda data: _("no prediction: the logo retention of %(period)s, %(rate)s")
    % {"period": data["fallback"]["period"], "rate": figure(data["fallback"]["rate"], "percent")},
    UNKNOWN: lambda data: _("no prediction and no retention history: not counted in the expected ARR"),
}


def renewals(scope: Scope, period: Period, segment: Segment) -> dict:
    """Renewals due in 30, 90 and 180 days, each with its expected renewal ARR and the rules
    behind the probabilities, linked to the accounts page's renewal filter."""
    data = figures.read("renewals", scope, period)
    windows = []
    for w in data["windows"]:
        query = {"renewal": w["days"], **_account_filters(segment)}
        windows.append({
            **w, "arr_text": money(w["arr"], compact=True),
            # no contract with a probability: nothing is expected, not ¥0
            "expected_text": "–" if w["rules"].get(UNKNOWN, 0) == w["contracts"] else money(w["expected_arr"], compact=True),
            "rules_text": [(n, RULE_LABELS[rule](data)) for rule, n in sorted(w["rules"].items())],
            "link": f"{reverse('web:accounts')}?{urlencode(query)}",
        })
    return {"as_of": data["as_of"], "windows": windows}


def _account_filters(segment: Segment) -> dict:
    """The segment as the accounts page's filters."""
    return segment.as_query()
