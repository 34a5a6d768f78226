"""Forecast calls and the forecast of a period: each open deal carries its owner's call (commit,
best case, pipeline, omitted), changed through the one write path (history, audit, event); the
forecast rolls the visible deals up per owner and per team (clm.analytics.forecast), with the
deals behind each figure and the gap to a target for the manager who sees every deal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, CharField, F, Value, When
from django.utils.translation import gettext as _

from clm.analytics import forecast as math
from clm.core import records
from clm.core.access import sees_everything, visible_records
from clm.core.frames import money, read_frame
from clm.sales.models import ForecastCallChange, Opportunity, PipelineStage

Category = Opportunity.ForecastCategory
NOBODY = 0  # the group of deals without an owner (or an owner without a team)


def set_call(actor, deal: Opportunity, category: str, *, via: str = "ui") -> Opportunity:
    """The owner's (or a manager's) forecast call on an open deal."""
    if category not in Category.values:
        raise ValidationError({"forecast_category": _("“%(value)s” is not a forecast category; choose one of: %(known)s.") % {
            "value": category, "known": ", ".join(Category.values)}})  # fmt: skip
    if deal.stage in Opportunity.CLOSED:
        raise ValidationError({"forecast_category": _("The deal is closed: a forecast call is for open deals.")})
    return records.save_record(actor, Opportunity, {"forecast_category": category}, instance=deal, via=via)


def call_history(deal: Opportunity) -> list[ForecastCallChange]:
    return list(ForecastCallChange.objects.filter(opportunity=deal).select_related("changed_by"))


def category_label(key: str) -> str:
    return str(Category(key).label) if key in Category.values else key


@dataclass
class Report:
    start: dt.date
    end: dt.date
    total: dict
    owners: list[dict]
    teams: list[dict]
    target: float | None = None
    gap: dict | None = None
    deals: int = 0
    owner_ids: list[int] = field(default_factory=list)


def _frame(user) -> pd.DataFrame:
    """Every visible won or open deal with what the forecast needs of it."""
    deals = visible_records(Opportunity, user).exclude(stage=Opportunity.Stage.LOST)
    state = Case(When(stage=Opportunity.Stage.WON, then=Value(math.WON)), default=Value(math.OPEN),
                 output_field=CharField())  # fmt: skip
    closes = Case(When(stage=Opportunity.Stage.WON, then=F("closed_on")), default=F("expected_close"))
    rows = deals.order_by().values_list(
        "pk", "owner_id", "owner__team_id", state, "forecast_category", money("amount"), "pipeline_id", "stage", closes,
    )
    frame = read_frame(rows, ["opportunity_id", "owner", "team", "state", "category", "amount", "pipeline", "stage",
                              "closes"])  # fmt: skip
    probability = {(p, s): pr for p, s, pr in PipelineStage.objects.values_list("pipeline_id", "key", "probability")}
    frame["probability"] = [probability.get((p, s), 0) for p, s in zip(frame["pipeline"], frame["stage"], strict=True)]
    for column in ("owner", "team"):
        frame[column] = frame[column].fillna(NOBODY).astype(int)
    return frame


def forecast(user, start: dt.date, end: dt.date, *, target: float | None = None) -> Report:
    """The forecast of ``start``–``end`` over the deals ``user`` may see: the total, per owner and
    per team; the gap to ``target`` (new ARR of the period) only for one who sees every deal."""
    if not records.may(user, "view", Opportunity):
        raise PermissionDenied(_("You may not see deals."))
    if end < start:
        raise ValidationError({"end": _("The end comes before the start.")})
    classified = math.classify(_frame(user), start, end)
    total = math.rollup(classified).iloc[0].to_dict()
    report = Report(start, end, total, math.rollup(classified, "owner").to_dict("records"),
                    math.rollup(classified, "team").to_dict("records"), deals=int(total["deals"]))  # fmt: skip
    report.owner_ids = [int(r["group"]) for r in report.owners if r["group"] != NOBODY]
    if target is not None and sees_everything(user):
        report.target, report.gap = float(target), math.gap(total, float(target))
    return report


def forecast_deals(user, start: dt.date, end: dt.date, *, measure: str, owner: int | None = None,
                   team: int | None = None):  # fmt: skip
    """The deals behind one figure of the forecast, each with its ``weighted`` amount: those
    ``classify`` puts under ``measure`` (won, a call, or weighted: every open deal not omitted
    with a probability), of one owner or team (0: none)."""
    if measure not in math.MEASURES:
        raise ValidationError({"measure": _("Unknown figure “%(value)s”.") % {"value": measure}})
    if not records.may(user, "view", Opportunity):
        raise PermissionDenied(_("You may not see deals."))
    frame = math.classify(_frame(user), start, end)
    if measure == "weighted":
        frame = frame[frame["weighted"] > 0]
    else:
        frame = frame[frame["measure"] == measure]
    if owner is not None:
        frame = frame[frame["owner"] == owner]
    if team is not None:
        frame = frame[frame["team"] == team]
    weighted = dict(zip(frame["opportunity_id"].astype(int), frame["weighted"], strict=True))
    deals = list(visible_records(Opportunity, user).filter(pk__in=list(weighted)).select_related("account", "owner")
                 .order_by("expected_close", "closed_on", "pk"))  # fmt: skip
    for deal in deals:
        deal.weighted = weighted[deal.pk]
    return deals
