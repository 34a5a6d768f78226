"""REST resources for pipelines (their stages, the board of deals by stage, a deal's move to another
stage with the fields its stage requires, the weighted forecast of a period) and for quotes and
their approvals: every action the workspace offers, through the same clm.sales operations."""

import datetime as dt
from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from clm.core.access import visible_records
from clm.core.crud import Text
from clm.sales import amendments, forecast, pipelines, process, quotes, scripts
from clm.sales.models import Approval, Opportunity, Pipeline, Quote, TalkTrack

router = Router(tags=["pipelines"])


class StageOut(Schema):
    key: str
    label: str
    order: int
    probability: int
    required_fields: list[str]


class PipelineOut(Schema):
    key: str
    label: str
    type: str
    is_default: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(pipeline):
        return list(pipeline.stages.all())


class DealOut(Schema):
    id: int
    name: str
    account: int = Field(alias="account_id")
    account_name: str = Field(alias="account.name")
    owner: int | None = Field(None, alias="owner_id")
    amount: Decimal
    expected_close: dt.date | None
    stage: str
    forecast_category: str


class BoardDealOut(Schema):
    deal: DealOut = Field(alias="opportunity")
    days_in_stage: int


class ColumnOut(Schema):
    stage: StageOut
    count: int
    amount: Decimal
    weighted: Decimal
    deals: list[BoardDealOut] = Field(description="the first 20 by close date; count and amount cover all")


class BoardOut(Schema):
    pipeline: PipelineOut
    closed_since: dt.date
    columns: list[ColumnOut]


class MoveIn(Schema):
    stage: Text = Field(max_length=15, description="the stage's key in the deal's pipeline")
    amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    expected_close: dt.date | None = None
    lost_reason: Text | None = Field(None, max_length=200)


class FiguresOut(Schema):
    group: int | str = Field(description="the owner's or team's id (0: none), or \"all\"")
    deals: int
    won: float = Field(description="closed-won in the period")
    commit: float
    best_case: float
    pipeline: float
    omitted: float
    weighted: float = Field(description="open deals not omitted: amount × stage probability")
    expected: float = Field(description="won + commit")
    upside: float = Field(description="won + commit + best case")


class GapOut(Schema):
    target: float
    to_expected: float
    to_upside: float
    attainment: float | None


class ForecastOut(Schema):
    start: dt.date
    end: dt.date
    total: FiguresOut
    owners: list[FiguresOut]
    teams: list[FiguresOut]
    gap: GapOut | None = Field(None, description="to the target given, for a caller who sees every deal")


class CallIn(Schema):
    forecast_category: Text = Field(max_length=10, description="commit, best_case, pipeline or omitted")


@router.get("/pipelines", response=list[PipelineOut], operation_id="list_pipelines", summary="List pipelines")
def list_pipelines(request):
    return list(pipelines.pipelines_for(request.user))


@router.get(
    "/pipelines/{key}/board",
    response=BoardOut,
    operation_id="get_pipeline_board",
    summary="A pipeline's deals by stage",
    description="Open deals, and those closed in the last 30 days, that the caller may see.",
)
def get_board(request, key: str, owner: int | None = None, close_before: dt.date | None = None):
    pipeline = get_object_or_404(Pipeline, key=key, active=True)
    return pipelines.board(request.user, pipeline, owner=owner, close_before=close_before)


@router.post(
    "/opportunities/{opportunity_id}/move",
    response=DealOut,
    operation_id="move_opportunity",
    summary="Move a deal to another stage",
    description="Fields the stage requires may be sent along; a missing one is answered 422 naming it.",
)
def move_opportunity(request, opportunity_id: int, body: MoveIn):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=opportunity_id)
    fields = {k: v for k, v in body.dict(exclude={"stage"}).items() if v is not None}
    return pipelines.move(request.user, deal, body.stage, via="api", **fields)


@router.get(
    "/pipelines/forecast",
    response=ForecastOut,
    operation_id="get_pipeline_forecast",
    summary="The forecast of a period",
    description="Deals won or expected to close from start to end (inclusive), per owner and team: "
    "closed-won, each forecast call, and open deals weighted by stage probability; with a target "
    "(new ARR), the gap to it.",
)
def get_forecast(request, start: dt.date, end: dt.date, target: float | None = None):
    return forecast.forecast(request.user, start, end, target=target)


@router.post(
    "/opportunities/{opportunity_id}/forecast",
    response=DealOut,
    operation_id="set_opportunity_forecast_call",
    summary="Set the forecast call of an open deal",
)
def set_forecast_call(request, opportunity_id: int, body: CallIn):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=opportunity_id)
    return forecast.set_call(request.user, deal, body.forecast_category, via="api")


class ProcessStageOut(Schema):
    stage: str
    reached: int
    conversion: float | None = Field(description="share of the deals that reached the stage which reached the next")
    days: float | None = Field(description="median days in the stage before the next move")

    @staticmethod
    def resolve_stage(cell):
        return cell["stage"].key


class ProcessRowOut(Schema):
    group: str = Field(description="the owner's id, the region...; empty for every deal together")
    label: str
    deals: int
    won: int
    lost: int
    win_rate: float | None
    avg_won: float | None
    cycle_days: float | None
    stages: list[ProcessStageOut]

    @staticmethod
    def resolve_group(row):
        return "" if row["group"] == process.NOT_SET else row["group"]


@router.get(
    "/pipelines/{key}/analytics",
    response=list[ProcessRowOut],
    operation_id="get_pipeline_analytics",
    summary="Win rate, deal size, cycle, stage conversion and time in stage",
    description="For the deals of the pipeline created from start to end that the caller may see; the first row "
    "is every deal together, then one per owner, region, industry or source (by).",
)
def get_analytics(request, key: str, start: dt.date, end: dt.date, by: str = "owner"):
    pipeline = get_object_or_404(Pipeline, key=key, active=True)
    if by not in process.GROUPS:
        raise HttpError(400, _("Group by one of: %(choices)s.") % {"choices": ", ".join(process.GROUPS)})
    return process.report(request.user, pipeline, by=by, start=start, end=end).rows


# -- quotes and approvals ----------------------------------------------------------------------

class QuoteLineIn(Schema):
    product: int = Field(description="a product id of the catalogue (an active one)")
    quantity: Decimal = Field(Decimal(1), gt=0, max_digits=12, decimal_places=2)
    discount: Decimal = Field(Decimal(0), ge=0, le=1, max_digits=5, decimal_places=4, description="0.15 for 15% off")
    list_price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2, description="the catalogue's when empty")
    description: Text | None = Field(None, max_length=200)


class QuoteIn(Schema):
    opportunity: int
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=200)
    valid_until: dt.date | None = None
    term_months: int = Field(12, ge=1, le=120)
    tax_rate: Decimal = Field(Decimal("0.06"), ge=0, le=1, max_digits=5, decimal_places=4)
    language: str = Field("zh-hans", pattern="^(zh-hans|en)$")
    notes: Text = Field("", max_length=5000)
    amends: int | None = Field(None, description="a live contract of the account the quote upgrades")


class QuoteLineOut(Schema):
    line_no: int
    product: int = Field(alias="product_id")
    description: str
    list_price: Decimal
    quantity: Decimal
    discount: Decimal
    recurring: bool
    net: Decimal


class ApprovalOut(Schema):
    id: int
    approver: int = Field(alias="approver_id")
    status: str
    reason: str
    comment: str
    requested_at: dt.datetime
    decided_at: dt.datetime | None


class QuoteOut(Schema):
    id: int
    number: str
    version: int
    status: str
    opportunity: int = Field(alias="opportunity_id")
    amends: int | None = Field(None, alias="amends_id")
    valid_until: dt.date | None
    term_months: int
    tax_rate: Decimal
    language: str
    monthly: Decimal
    one_off: Decimal
    list_total: Decimal
    discount_total: Decimal
    net_total: Decimal
    tax_total: Decimal
    total: Decimal
    lines: list[QuoteLineOut]
    approvals: list[ApprovalOut]

    @staticmethod
    def resolve_lines(quote):
        return list(quote.lines.all())

    @staticmethod
    def resolve_approvals(quote):
        return list(quote.approvals.all())


class DecisionIn(Schema):
    approve: bool
    comment: Text = Field("", max_length=2000)


class AcceptIn(Schema):
    start: dt.date | None = Field(None, description="the contracts' start; today when empty")


class DeclineIn(Schema):
    reason: Text = Field(min_length=1, max_length=500)


def _quote(request, quote_id: int) -> Quote:
    return get_object_or_404(visible_records(Quote, request.user), pk=quote_id)


@router.get("/quotes", response=list[QuoteOut], operation_id="list_quotes", summary="List quotes",
            description="The quotes of the deals the caller may see, newest first; filter by deal or status.")
def list_quotes(request, opportunity: int | None = None, status: str | None = None):
    quotes_ = visible_records(Quote, request.user).order_by("-created_at", "-pk")
    if opportunity:
        quotes_ = quotes_.filter(opportunity_id=opportunity)
    if status:
        quotes_ = quotes_.filter(status=status)
    return list(quotes_.prefetch_related("lines", "approvals")[:500])


@router.post("/quotes", response={201: QuoteOut}, operation_id="create_quote", summary="Create a draft quote")
def create_quote(request, body: QuoteIn):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=body.opportunity)
    fields = body.dict(exclude={"opportunity", "lines", "amends"})
    if body.amends is not None:
        fields["amends"] = amendments.contract_of(deal, body.amends)
    lines = [line.dict() for line in body.lines]
    return Status(201, quotes.create_quote(request.user, deal, lines, via="api", **fields))


@router.get("/quotes/{quote_id}", response=QuoteOut, operation_id="get_quote", summary="One quote")
def get_quote(request, quote_id: int):
    return _quote(request, quote_id)


@router.post("/quotes/{quote_id}/submit", response=QuoteOut, operation_id="submit_quote",
             summary="Ask for the approvals a quote needs",
             description="Approved at once when no rule applies; 422 names a discount no rule may approve "
             "or an approver who is absent.")
def submit_quote(request, quote_id: int):
    return quotes.submit(request.user, _quote(request, quote_id), via="api")


@router.post("/quotes/{quote_id}/send", response=QuoteOut, operation_id="send_quote",
             summary="Mark a quote as sent", description="Refused (422) while an approval is pending.")
def send_quote(request, quote_id: int):
    return quotes.send(request.user, _quote(request, quote_id), via="api")


@router.post("/quotes/{quote_id}/accept", response=QuoteOut, operation_id="accept_quote",
             summary="Record the customer's acceptance",
             description="Recurring lines become contracts for the quote's term, one-off lines an order; the deal is won.")
def accept_quote(request, quote_id: int, body: AcceptIn):
    return quotes.accept(request.user, _quote(request, quote_id), start=body.start, via="api")["quote"]


@router.post("/quotes/{quote_id}/decline", response=QuoteOut, operation_id="decline_quote",
             summary="Record that the customer declined")
def decline_quote(request, quote_id: int, body: DeclineIn):
    return quotes.decline(request.user, _quote(request, quote_id), reason=body.reason, via="api")


@router.post("/approvals/{approval_id}/decide", response=ApprovalOut, operation_id="decide_approval",
             summary="Approve or reject", description="Only the approval's approver (or an administrator); "
             "a rejection needs a comment.")
def decide_approval(request, approval_id: int, body: DecisionIn):
    approval = get_object_or_404(visible_records(Approval, request.user), pk=approval_id)
    return quotes.decide(request.user, approval, approve=body.approve, comment=body.comment, via="api")


# -- talk tracks -------------------------------------------------------------------------------

class TalkTrackOut(Schema):
    id: int
    title: str
    kind: str
    body: str
    won: int = Field(description="closed deals and leads that used it and were won (a lead: became a customer)")
    closed: int = Field(description="closed deals and leads that used it (a lead: customer or disqualified)")
    score: float = Field(description="(won + 1) / (closed + 2)")
    reasons: list[str]
    used: bool

    @staticmethod
    def resolve_id(s):
        return s.track.pk

    @staticmethod
    def resolve_title(s):
        return s.track.title

    @staticmethod
    def resolve_kind(s):
        return s.track.kind

    @staticmethod
    def resolve_body(s):
        return s.track.body


@router.get("/opportunities/{opportunity_id}/talk-tracks", response=list[TalkTrackOut],
            operation_id="list_opportunity_talk_tracks", summary="The talk tracks that fit a deal, best first")
def list_talk_tracks(request, opportunity_id: int, limit: int = 5):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=opportunity_id)
    return scripts.suggestions(request.user, deal, limit=max(1, min(limit, 50)))


@router.post("/opportunities/{opportunity_id}/talk-tracks/{track_id}/uses", response={201: dict},
             operation_id="create_talk_track_use", summary="Record that a talk track was used on a deal")
def use_talk_track(request, opportunity_id: int, track_id: int):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=opportunity_id)
    track = get_object_or_404(TalkTrack, pk=track_id, active=True)
    use = scripts.mark_used(request.user, deal, track, via="api")
    return Status(201, {"track": track.pk, "opportunity": deal.pk, "used_at": use.used_at.isoformat()})
