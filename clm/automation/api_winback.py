"""REST resources for win-back (/winbacks): the four steps on a win-back case, the offer library,
the churned-accounts list and the KPIs. Reads follow the case's visibility (a win-back the caller
cannot see is a 404); every step goes through clm.automation.winback with via="api"."""

import datetime as dt
from decimal import Decimal

from ninja import Router, Schema, Status
from pydantic import Field

from clm.automation import winback, winback_lists
from clm.automation.api import _account, _user
from clm.automation.models import Case, WinBack, WinBackOffer
from clm.core.access import visible_records
from clm.core.crud import (
    DEFAULT_LIMIT,
    Id,
    InputSchema,
    Limit,
    Offset,
    Text,
    choice,
    invalid,
    one_or_404,
    paginate,
    require,
)
from clm.core.schemas import Json

router = Router(tags=["win-back"])


class WinBackOut(Schema):
    id: int
    case: int = Field(validation_alias="case_id")
    account: int = Field(validation_alias="account_id")
    step: str = Field(description="signal, cause, plan or evaluated (the steps go in this order)")
    signal_kind: str
    signal_values: dict
    arr_at_risk: Decimal
    cause: str | None = Field(None, description="the root cause's code")
    cause_note: str
    offer: str | None = Field(None, description="the offer's code")
    discount_percent: Decimal | None
    approved_by: int | None = Field(validation_alias="approved_by_id")
    plan_note: str
    evaluate_on: dt.date | None
    result: str = Field(description="retained, renewed or churned once evaluated")
    result_note: str
    arr_won_back: Decimal
    created_at: dt.datetime

    @staticmethod
    def resolve_cause(obj):
        return obj.cause.code if obj.cause_id else None

    @staticmethod
    def resolve_offer(obj):
        return obj.offer.code if obj.offer_id else None


class WinBackPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[WinBackOut]


class WinBackCreate(InputSchema):
    account: Id
    signal: Text = Field(..., min_length=1, max_length=60, description="the warning signal, e.g. login_drop")
    values: Json = Field(None, description="what the signal saw, {name: value}")
    reason: Text = Field("", max_length=200, description="the case's reason; the signal when left out")
    owner: Id | None = None


class CauseIn(InputSchema):
    cause: Text = Field(..., description="a root cause code: product, service, price, business_budget, competitor, other")
    note: Text = ""


class PlanIn(InputSchema):
    offer: Text = Field(..., description="an offer code of the library, for the recorded cause")
    discount_percent: Decimal | None = Field(None, description="a discount offer's percent")
    approver: Id | None = Field(None, description="the manager who approved a discount above the offer's limit")
    evaluate_on: dt.date | None = Field(None, description="when the result is evaluated; 90 days on when left out")
    note: Text = ""


class EvaluationIn(InputSchema):
    result: choice(WinBack.Result)
    note: Text = ""


class OfferOut(Schema):
    code: str
    kind: str
    name_en: str
    name_zh: str
    causes: list[str]
    approval_limit_percent: Decimal | None
    max_percent: Decimal | None
    tasks: list[dict]

    @staticmethod
    def resolve_causes(obj):
        return [c.code for c in obj.causes.all()]


class ChurnedOut(Schema):
    account: int
    account_name: str
    left_on: dt.date | None
    days_since: int
    value: Decimal
    reason: str
    priority: float = Field(description="value × 0.5 ** (days since they left / 180)")
    open_winback_case: int | None


class GroupOut(Schema):
    key: str
    cases: int
    won: int
    rate: float
    arr_won_back: float


class WinBackKpis(Schema):
    evaluated: int
    success_rate: float | None = Field(description="won back (retained or renewed) ÷ evaluated; null with none")
    revenue_won_back: float
    by_cause: list[GroupOut]
    by_offer: list[GroupOut]


def _winback(request, id: int) -> WinBack:
    require(request.user, "view", Case)
    return one_or_404(visible_records(WinBack, request.user).select_related("case", "cause", "offer"), id)


@router.get("/winbacks", operation_id="list_winbacks", response=WinBackPage, summary="List win-backs")
def list_winbacks(request, step: choice(WinBack.Step) | None = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    require(request.user, "view", Case)
    rows = visible_records(WinBack, request.user).select_related("cause", "offer").order_by("-created_at", "-id")
    if step:
        rows = rows.filter(step=step)
    return paginate(rows, limit, offset)


@router.post("/winbacks", operation_id="start_winback", response={201: WinBackOut}, summary="Start a win-back case")
def start_winback(request, payload: WinBackCreate):
    user = request.user
    if payload.values is not None and not isinstance(payload.values, dict):
        raise invalid({"values": "must be an object of {name: value}"})
    values = payload.values or {}
    found = winback.open_winback(
        user, account=_account(user, payload.account), signal=payload.signal, values=values, reason=payload.reason,
        owner=_user(payload.owner, "owner") if payload.owner else None, via="api",
    )
    return Status(201, found)


@router.get("/winbacks/offers", operation_id="list_winback_offers", response=list[OfferOut], summary="The offer library")
def list_winback_offers(request):
    require(request.user, "view", Case)
    return list(WinBackOffer.objects.filter(active=True).prefetch_related("causes"))


@router.get("/winbacks/churned", operation_id="list_churned_accounts", response=list[ChurnedOut],
            summary="Churned accounts to win back, ranked")
def list_churned_accounts(request, limit: Limit = DEFAULT_LIMIT):
    require(request.user, "view", Case)
    return [
        {"account": r.account.pk, "account_name": r.account.name, "left_on": r.left_on, "days_since": r.days_since,
         "value": r.value, "reason": r.reason, "priority": r.priority, "open_winback_case": r.open_winback}
        for r in winback_lists.churned_list(request.user, limit=limit)
    ]


@router.get("/winbacks/kpis", operation_id="get_winback_kpis", response=WinBackKpis, summary="Win-back KPIs")
def get_winback_kpis(request, start: dt.date | None = None, end: dt.date | None = None):
    require(request.user, "view", Case)
    frame = winback_lists.evaluated(winback_lists.visible_winbacks(request.user), start=start, end=end)

    def groups(table):
        return [{"key": str(k), **{c: float(v) if c in ("rate", "arr_won_back") else int(v) for c, v in row.items()}}
                for k, row in table.iterrows()]

    return {
        "evaluated": len(frame), "success_rate": winback_lists.success_rate(frame),
        "revenue_won_back": winback_lists.revenue_won_back(frame),
        "by_cause": groups(winback_lists.by_cause(frame)), "by_offer": groups(winback_lists.by_offer(frame)),
    }


@router.get("/winbacks/{int:id}", operation_id="get_winback", response=WinBackOut, summary="One win-back")
def get_winback(request, id: int):
    return _winback(request, id)


@router.post("/winbacks/{int:id}/cause", operation_id="set_winback_cause", response=WinBackOut,
             summary="Step 2: record the root cause")
def set_winback_cause(request, id: int, payload: CauseIn):
    return winback.record_cause(request.user, _winback(request, id), cause=payload.cause, note=payload.note, via="api")


@router.post("/winbacks/{int:id}/plan", operation_id="set_winback_plan", response=WinBackOut,
             summary="Step 3: choose the plan from the offer library")
def set_winback_plan(request, id: int, payload: PlanIn):
    return winback.choose_plan(
        request.user, _winback(request, id), offer=payload.offer, discount_percent=payload.discount_percent,
        approver=_user(payload.approver, "approver") if payload.approver else None,
        evaluate_on=payload.evaluate_on, note=payload.note, via="api",
    )


@router.post("/winbacks/{int:id}/evaluation", operation_id="complete_winback", response=WinBackOut,
             summary="Step 4: evaluate the result (closes the case)")
def complete_winback(request, id: int, payload: EvaluationIn):
    return winback.evaluate(request.user, _winback(request, id), result=payload.result, note=payload.note, via="api")
