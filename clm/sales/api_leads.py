"""REST endpoints of the lead funnel: engagement, moves, explicit actions, assignment, conversion
with its preview, scores with their reasons, the funnel report, the fit report and the scoring
settings. ICPs and assignment rules are resources of clm.sales.api."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from clm.core.crud import Id, LocalDatetime, Text
from clm.sales import assignment, conversion, funnel, reports, scoring, scripts
from clm.sales.api_deals import TalkTrackOut
from clm.sales.models import Lead, LeadActivity, TalkTrack

router = Router(tags=["leads"])


class ActivityIn(Schema):
    kind: Annotated[Literal[tuple(LeadActivity.Kind.values)], Field(description="what the lead did")]  # type: ignore[valid-type]
    name: Annotated[Text | None, Field(None, max_length=200, description="the form, page, event or email")] = None
    at: LocalDatetime | None = None
    key: Annotated[Text | None, Field(None, max_length=200, description="idempotency key: sent twice, kept once")] = None


class ActivityOut(Schema):
    id: int
    lead: int = Field(alias="lead_id")
    kind: str
    name: str
    at: dt.datetime


class MoveIn(Schema):
    to: Annotated[Literal["mal", "mql", "sql", "disqualified"], Field(description="the stage to move to")]
    reason: Annotated[Text | None, Field(None, max_length=300, description="needed past unmet criteria, back, or out")] = None


class StageChangeOut(Schema):
    id: int
    lead: int = Field(alias="lead_id")
    from_status: str
    to_status: str
    changed_at: dt.datetime
    changed_by: int | None = Field(None, alias="changed_by_id")
    reason: str


class ActionsIn(Schema):
    actions: list[Literal[funnel.ACTIONS]]  # type: ignore[valid-type]


class AssignIn(Schema):
    leads: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    owner: Id | None = Field(None, description="the rep; null puts the leads back in the pool")


class AssignOut(Schema):
    assigned: int


class ConvertIn(Schema):
    account: Id | None = Field(None, description="merge into this account (one the preview matched, or any you may see)")
    new_account: bool = Field(False, description="create a new account: refused when an account matches")
    amount: Annotated[float, Field(0, ge=0, le=1e12, description="the new-business opportunity's amount")] = 0


class MatchOut(Schema):
    account: int
    name: str
    by: str = Field(description="domain | name | pinyin")
    fills: dict = Field(description="the account's empty fields the lead would fill")
    contact: int | None = Field(None, description="the existing contact with the lead's email")


class PreviewOut(Schema):
    matches: list[MatchOut]
    hidden: int = Field(description="matching accounts you may not see")


class ConvertOut(Schema):
    lead: int
    status: str
    account: int
    contact: int


class ScoreOut(Schema):
    lead: int
    icp: str | None
    icp_score: float | None
    icp_reasons: list[str]
    fit_score: float | None
    fit_reasons: list[str]
    engagement_score: float
    engagement_reasons: list[str]
    next_step: str


class FunnelRow(Schema):
    group: str | None
    stage: str
    reached: int
    rate: float | None
    overall: float | None
    median_days: float | None


class CacRow(Schema):
    channel: str
    spend: float
    customers: int
    cac: float | None


class FunnelOut(Schema):
    since: dt.date
    until: dt.date
    by: str | None
    rows: list[FunnelRow] = Field(description="per group when split by, else the whole funnel")
    overall: list[FunnelRow]
    cac: list[CacRow]


class ScoringIO(Schema):
    half_life_days: Annotated[int, Field(ge=1, le=365)]
    points: dict[str, float]
    criteria: dict[str, dict]
    stale_days: Annotated[int, Field(ge=0, le=365)]


def _lead(request, pk: int) -> Lead:
    return funnel.visible_lead(request.user, pk)


@router.post("/leads/{int:id}/activities", operation_id="create_lead_activity", response={201: ActivityOut, 200: ActivityOut},
             summary="Record an engagement of a lead (email, form, web or product event, meeting)")
def record_activity(request, id: int, body: ActivityIn):
    lead = _lead(request, id)
    activity = funnel.record_activity(request.user, lead, kind=body.kind, name=body.name or "", at=body.at,
                                      key=body.key or "", via="api")
    if activity is None:
        return Status(200, LeadActivity.objects.get(key=body.key))
    return Status(201, activity)


class ActivityPage(Schema):
    count: int
    items: list[ActivityOut]


@router.get("/leads/{int:id}/activities", operation_id="list_lead_activities", response=ActivityPage,
            summary="A lead's engagement, newest first")
def list_activities(request, id: int, limit: Annotated[int, Field(ge=1, le=500)] = 100, offset: Annotated[int, Field(ge=0)] = 0):
    activities = _lead(request, id).activities.order_by("-at", "-id")
    return {"count": activities.count(), "items": list(activities[offset: offset + limit])}


@router.post("/leads/{int:id}/move", operation_id="move_lead", response=StageChangeOut,
             summary="Move a lead through the funnel by hand (with a reason when its criteria do not hold)")
def move(request, id: int, body: MoveIn):
    return funnel.move_lead(request.user, _lead(request, id), body.to, reason=body.reason or "", via="api")


@router.put("/leads/{int:id}/actions", operation_id="set_lead_actions", response=list[str],
            summary="The explicit actions a lead has taken (demo requested, meeting held ...)")
def set_actions(request, id: int, body: ActionsIn):
    return funnel.set_actions(request.user, _lead(request, id), list(body.actions), via="api").actions


@router.post("/leads/assign", operation_id="assign_leads", response=AssignOut, summary="Assign leads to a rep, or back to the pool")
def assign(request, body: AssignIn):
    return {"assigned": assignment.assign_by_hand(request.user, list(body.leads), body.owner, via="api")}


@router.get("/leads/{int:id}/conversion", operation_id="get_lead_conversion_preview", response=PreviewOut,
            summary="What converting the lead would do: matching accounts (by domain, name, pinyin)")
def conversion_preview(request, id: int):
    found = conversion.preview(request.user, _lead(request, id))
    return {"hidden": found["hidden"], "matches": [
        {"account": m["account"].pk, "name": m["account"].name, "by": m["by"], "fills": m["fills"],
         "contact": m["contact"].pk if m["contact"] else None} for m in found["matches"]]}


@router.post("/leads/{int:id}/convert", operation_id="convert_lead", response=ConvertOut,
             summary="Convert a lead to an account (merged or new), a contact and an opportunity")
def convert(request, id: int, body: ConvertIn):
    lead = conversion.convert_lead(request.user, _lead(request, id), account_id=body.account,
                                   new_account=body.new_account, amount=body.amount, via="api")
    return {"lead": lead.pk, "status": lead.status, "account": lead.account_id, "contact": lead.contact_id}


@router.get("/leads/{int:id}/score", operation_id="get_lead_score", response=ScoreOut,
            summary="A lead's fit (rules and lookalike) and engagement, with the reasons in words")
def score(request, id: int):
    return reports.explain(_lead(request, id))


@router.get("/leads/funnel", operation_id="get_lead_funnel", response=FunnelOut,
            summary="Conversion rates and median days between stages, by source or channel, with CAC per customer")
def funnel_report(request, since: dt.date | None = None, until: dt.date | None = None,
                  by: Literal["source_channel", "icp", "owner"] | None = None):
    return reports.funnel_report(request.user, since=since, until=until, by=by)


@router.get("/fit/report", operation_id="get_fit_report", response=dict,
            summary="How well the ICP rules and the lookalike separated good customers from poor ones on held-out history")
def fit_report(request):
    return reports.fit_report()


@router.get("/leads/scoring", operation_id="get_lead_scoring", response=ScoringIO, summary="Engagement points, half-life and stage criteria")
def get_scoring(request):
    return scoring.scoring_settings()


@router.put("/leads/scoring", operation_id="set_lead_scoring", response=ScoringIO, summary="Change the lead scoring settings (managers)")
def set_scoring(request, body: ScoringIO):
    if not request.user.has_perm("sales.view_leadscoring"):
        raise PermissionDenied
    return funnel.save_scoring(request.user, half_life_days=body.half_life_days, points=body.points,
                               criteria=body.criteria, stale_days=body.stale_days, via="api")


@router.get("/leads/{int:id}/talk-tracks", operation_id="list_lead_talk_tracks", response=list[TalkTrackOut],
            summary="The talk tracks that fit a lead (stage, industry, its contact's role), best first")
def list_talk_tracks(request, id: int, limit: Annotated[int, Field(ge=1, le=50)] = 5):
    return scripts.lead_suggestions(request.user, _lead(request, id), limit=limit)


@router.post("/leads/{int:id}/talk-tracks/{int:track_id}/uses", operation_id="create_lead_talk_track_use",
             response={201: dict}, summary="Record that a talk track was used on an open lead")
def use_talk_track(request, id: int, track_id: int):
    lead = _lead(request, id)
    track = get_object_or_404(TalkTrack, pk=track_id, active=True)
    use = scripts.mark_used(request.user, lead, track, via="api")
    return Status(201, {"track": track.pk, "lead": lead.pk, "used_at": use.used_at.isoformat()})
