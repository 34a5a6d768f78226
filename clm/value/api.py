"""REST endpoints of the value analytics, under /api/v1/value: CLV per account with its inputs,
cohort matrices, MRR movements with NRR/GRR, CAC and LTV:CAC per channel, value tiers with RFM,
cross-sell recommendations, and the loyalty ledger.

Visibility is clm.core.access's: every per-account answer is limited to the accounts the user may
see (another account is a 404), and the aggregates are computed over those accounts only."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from django.db.models import Count, Max
from django.http import Http404
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from clm.analytics.clv import CLVInputError
from clm.commerce.models import Order, SubscriptionChange
from clm.core import workspace
from clm.core.access import sees_everything, visible_accounts, visible_records
from clm.core.crud import (
    DEFAULT_LIMIT,
    ApiError,
    Id,
    InputSchema,
    Limit,
    Offset,
    Text,
    choice,
    one_or_404,
    require,
)
from clm.customers.models import Account
from clm.value import services
from clm.value.models import CLVEstimate, LoyaltyEntry, Recommendation, TierAssignment

router = Router(tags=["value"])

Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", description="a month, YYYY-MM")]


# ---------------------------------------------------------------------------------------------
# Helpers


def _account(request, id: int) -> Account:
    return one_or_404(visible_accounts(request.user), id)


def _as_of(value: dt.date | None) -> dt.date:
    today = timezone.localdate()
    if value is None:
        return today
    if value > today:
        raise ApiError(
            400, "bad_request", f"as_of {value} is in the future; the figures only exist up to today."
        )
    return value


def _month(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not 1 <= int(value[5:7]) <= 12:
        raise ApiError(
            422,
            "invalid_request",
            f"{name} {value} is not a month.",
            [{"loc": ["query", name], "message": "YYYY-MM"}],
        )
    return value


def _analysis(fn, *args, **kwargs):
    """Run a report; input the analytics refuse is the caller's 400, never a 500."""
    try:
        return fn(*args, **kwargs)
    except CLVInputError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None


def _latest_day(queryset) -> dt.date | None:
    return queryset.aggregate(day=Max("as_of"))["day"]


# ---------------------------------------------------------------------------------------------
# CLV


class EstimateOut(Schema):
    account_id: int
    account: str
    as_of: dt.date
    method: str
    value: float = Field(description="historical_value + future_value")
    historical_value: float = Field(description="gross margin earned so far (revenue − cost)")
    future_value: float = Field(description="expected discounted gross margin still to come")
    inputs: dict = Field(description="the model, its parameters and the account's own figures")


class HistoryPoint(Schema):
    as_of: dt.date
    method: str
    value: float


class AccountCLV(Schema):
    account_id: int
    current: EstimateOut | None
    history: list[HistoryPoint]


class EstimatePage(Schema):
    as_of: dt.date | None
    count: int
    limit: int
    offset: int
    items: list[EstimateOut]


def _estimate(e: CLVEstimate) -> dict:
    return {
        "account_id": e.account_id,
        "account": e.account.name,
        "as_of": e.as_of,
        "method": e.method,
        "value": float(e.value),
        "historical_value": float(e.historical_value),
        "future_value": float(e.future_value),
        "inputs": e.inputs,
    }


@router.get("/accounts/{int:id}/clv", operation_id="get_account_clv", response=AccountCLV, summary="An account's CLV, its inputs and trend")
def account_clv(request, id: int, as_of: dt.date | None = None):
    require(request.user, "view", CLVEstimate)
    account = _account(request, id)
    estimates = CLVEstimate.objects.filter(account=account)
    if as_of is not None:
        estimates = estimates.filter(as_of__lte=as_of)
    current = estimates.order_by("-as_of").first()
    history = estimates.order_by("-as_of").values("as_of", "method", "value")[:120]
    return {
        "account_id": account.pk,
        "current": _estimate(current) if current else None,
        "history": [{**h, "value": float(h["value"])} for h in reversed(list(history))],
    }


class EstimateFilters(Schema):
    method: choice(CLVEstimate.Method) | None = None
    min_value: float | None = Field(None, allow_inf_nan=False)
    as_of: dt.date | None = Field(None, description="the run's date (default: the latest run)")
    order: Literal["value", "-value", "account"] = "-value"


@router.get("/clv", operation_id="list_clv_estimates", response=EstimatePage, summary="CLV estimates of the visible accounts")
def list_clv(
    request, filters: Query[EstimateFilters], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
):  # fmt: skip
    require(request.user, "view", CLVEstimate)
    visible = visible_records(CLVEstimate, request.user)
    day = filters.as_of or _latest_day(CLVEstimate.objects.all())
    rows = visible.filter(as_of=day).exclude(inputs__has_key="churned").select_related("account")  # no future
    if filters.method:
        rows = rows.filter(method=filters.method)
    if filters.min_value is not None:
        rows = rows.filter(value__gte=filters.min_value)
    rows = rows.order_by(
        {"value": "value", "-value": "-value", "account": "account_id"}[filters.order], "account_id"
    )
    return {
        "as_of": day,
        "count": rows.count(),
        "limit": limit,
        "offset": offset,
        "items": [_estimate(e) for e in rows[offset : offset + limit]],
    }


class ContractCohort(Schema):
    cohort: str
    accounts: int
    active: int
    future_value: float = Field(description="expected discounted margin still to come from the cohort")
    mean_clv: float


class ContractCohortsOut(Schema):
    as_of: dt.date | None
    cohorts: list[ContractCohort]


@router.get("/contract-cohorts", operation_id="get_contract_cohorts", response=ContractCohortsOut, summary="sBG value per contract cohort")
def contract_cohorts(request, as_of: dt.date | None = None):
    require(request.user, "view", CLVEstimate)
    day = as_of or _latest_day(CLVEstimate.objects.all())
    estimates = visible_records(CLVEstimate, request.user).filter(as_of=day)
    return {"as_of": day, "cohorts": services.contract_cohort_values(estimates)}


# ---------------------------------------------------------------------------------------------
# Cohorts, MRR movements, CAC


class CohortOut(Schema):
    as_of: dt.date
    basis: str
    cohorts: list[str]
    accounts: list[int]
    months_since_start: list[int]
    logo_retention: list[list[float | None]]
    revenue_retention: list[list[float | None]]
    repurchase: list[list[float | None]] | None = None


@router.get("/cohorts", operation_id="get_cohorts", response=CohortOut, summary="Logo and revenue retention by start month (heat map)")
def cohorts(request, basis: Literal["contracts", "orders"] = "contracts", as_of: dt.date | None = None):
    require(request.user, "view", SubscriptionChange)
    day = _as_of(as_of)
    changes = visible_records(SubscriptionChange, request.user)
    orders = visible_records(Order, request.user)
    return _analysis(services.cohort_report, changes, orders, day, basis=basis)


class MovementMonth(Schema):
    month: str
    opening_mrr: float
    new: float
    expansion: float
    reactivation: float
    contraction: float
    churn: float
    net_new_mrr: float
    closing_mrr: float
    nrr: float | None
    grr: float | None


class MovementsOut(Schema):
    as_of: dt.date
    window_months: int
    months: list[MovementMonth]


@router.get("/mrr-movements", operation_id="get_mrr_movements", response=MovementsOut, summary="MRR movements per month, NRR and GRR")
def mrr_movements(
    request,
    start: Month | None = None,
    end: Month | None = None,
    window: Annotated[
        int, Field(ge=1, le=36, description="months NRR/GRR compare over (12: trailing year)")
    ] = 1,
    as_of: dt.date | None = None,
):
    require(request.user, "view", SubscriptionChange)
    day = _as_of(as_of)
    start, end = _month(start, "start"), _month(end, "end")
    if start and end and start > end:
        raise ApiError(400, "bad_request", f"start {start} is after end {end}.")
    if end and end > day.strftime("%Y-%m"):
        end = day.strftime("%Y-%m")
    changes = visible_records(SubscriptionChange, request.user)
    return _analysis(services.mrr_report, changes, day, start=start, end=end, window=window)


class CacRow(Schema):
    channel: str
    period: str | None
    spend: float
    new_customers: int
    status: str
    cac: float | None
    ltv: float | None
    monthly_margin: float | None
    ltv_to_cac: float | None
    cac_share_of_ltv: float | None
    payback_months: float | None
    health: str | None = Field(description="healthy (CAC < 30% of LTV), warning (30–50%), alarm (> 50%)")


class CacOut(Schema):
    as_of: dt.date
    period: str
    clv_as_of: dt.date | None
    warning_share: float
    alarm_share: float
    rows: list[CacRow]


@router.get("/cac", operation_id="get_cac", response=CacOut, summary="CAC per channel and period, LTV:CAC, payback, health")
def cac(
    request, period: Literal["month", "quarter", "year", "all"] = "quarter", as_of: dt.date | None = None
):  # fmt: skip
    # Spend is the company's, not an account's: CAC over part of the customers would be wrong.
    if not sees_everything(request.user):
        raise ApiError(
            403,
            "forbidden",
            "CAC divides the company's spend by all new customers; it needs access to every account.",
        )
    day = _as_of(as_of)
    return _analysis(services.cac_report, day, period=None if period == "all" else period)


# ---------------------------------------------------------------------------------------------
# Tiers and RFM


class TierOut(Schema):
    account_id: int
    account: str
    as_of: dt.date
    tier: str
    tier_label: str
    tenure_years: float
    total_revenue: float
    recency_days: int | None
    frequency: int | None
    monetary: float | None
    rfm_code: str
    segment: str
    value_class: str

    @staticmethod
    def resolve_account(obj):
        return obj.account.name


class TierPage(Schema):
    as_of: dt.date | None
    count: int
    limit: int
    offset: int
    counts_by_tier: dict[str, int]
    items: list[TierOut]


class TierFilters(Schema):
    tier: Annotated[Text, Field(max_length=30)] | None = None
    segment: Annotated[Text, Field(max_length=30)] | None = None
    value_class: Annotated[Text, Field(max_length=30)] | None = None
    as_of: dt.date | None = None


@router.get("/tiers", operation_id="list_account_tiers", response=TierPage, summary="Value tiers and RFM segments of the visible accounts")
def list_tiers(request, filters: Query[TierFilters], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    require(request.user, "view", TierAssignment)
    day = filters.as_of or _latest_day(TierAssignment.objects.all())
    rows = visible_records(TierAssignment, request.user).filter(as_of=day).select_related("account")
    counts = {r["tier"]: r["n"] for r in rows.order_by().values("tier").annotate(n=Count("id"))}
    for name in ("tier", "segment", "value_class"):
        if getattr(filters, name):
            rows = rows.filter(**{name: getattr(filters, name)})
    rows = rows.order_by("-total_revenue", "account_id")
    return {
        "as_of": day,
        "count": rows.count(),
        "limit": limit,
        "offset": offset,
        "counts_by_tier": counts,
        "items": list(rows[offset : offset + limit]),
    }


@router.get("/accounts/{int:id}/tier", operation_id="get_account_tier", response=TierOut, summary="An account's value tier and RFM")
def account_tier(request, id: int):
    require(request.user, "view", TierAssignment)
    account = _account(request, id)
    row = TierAssignment.objects.filter(account=account).order_by("-as_of").first()
    if row is None:
        raise Http404(f"Account {id} has no value tier yet (not a customer, or the daily run has not run).")
    return row


# ---------------------------------------------------------------------------------------------
# Recommendations


class RecommendationOut(Schema):
    id: int
    account_id: int
    account: str
    product_id: int
    product: str
    because_of_id: int | None
    kind: str = Field(description="cross_sell (a product the account has not bought) or up_sell (the next plan or more seats)")
    kind_label: str
    rank: int
    score: float
    confidence: float
    lift: float
    due_from: dt.date
    due_to: dt.date
    due_status: str
    reason: str
    reason_zh: str
    status: str
    computed_on: dt.date
    evidence: dict = Field(description="up-sell: seats, seats_used, utilisation, growth, breadth, signals, potential_mrr")
    offered_on: dt.date | None
    baseline_mrr: Decimal | None = Field(description="up-sell: the account's MRR on the family when first offered")
    converted_on: dt.date | None
    expansion_mrr: Decimal | None = Field(description="up-sell: the MRR the conversion added")

    @staticmethod
    def resolve_kind_label(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_product(obj):
        return obj.product.name

    @staticmethod
    def resolve_account(obj):
        return obj.account.name

    @staticmethod
    def resolve_due_status(obj):
        today = timezone.localdate()
        return "upcoming" if today < obj.due_from else "overdue" if today > obj.due_to else "due"


class RecommendationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[RecommendationOut]


class RecommendationFilters(Schema):
    account: Id | None = None
    kind: choice(Recommendation.Kind) | None = None
    status: choice(Recommendation.Status) | None = None
    due_before: dt.date | None = Field(None, description="window opens before this day")


@router.get("/recommendations", operation_id="list_recommendations", response=RecommendationPage, summary="Next-best offers for sales")
def list_recommendations(
    request, filters: Query[RecommendationFilters], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
):
    require(request.user, "view", Recommendation)
    rows = visible_records(Recommendation, request.user).select_related("product", "account")
    if filters.account:
        rows = rows.filter(account_id=filters.account)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    rows = (
        rows.filter(status=filters.status) if filters.status else rows.filter(status__in=Recommendation.LIVE)
    )
    if filters.due_before:
        rows = rows.filter(due_from__lt=filters.due_before)
    rows = rows.order_by("due_from", "account_id", "rank", "id")
    return {
        "count": rows.count(),
        "limit": limit,
        "offset": offset,
        "items": list(rows[offset : offset + limit]),
    }


class UpsellKpis(Schema):
    start: dt.date
    end: dt.date
    offered: int = Field(description="up-sell recommendations first offered in the period")
    converted: int = Field(description="of those, the ones the account took (an upgrade or more seats)")
    conversion_rate: float | None = Field(description="converted ÷ offered; null without offers")
    expansion_mrr: Decimal = Field(description="the MRR the converted ones added")


@router.get("/upsell-kpis", operation_id="get_upsell_kpis", response=UpsellKpis, summary="Up-sell conversion rate and expansion MRR")
def upsell_kpis(request, start: dt.date, end: dt.date):
    require(request.user, "view", Recommendation)
    if start > end:
        raise ApiError(400, "bad_request", f"start {start} is after end {end}.")
    figures = services.upsell_kpis(start, end, visible_records(Recommendation, request.user))
    return {"start": start, "end": end, **figures}


class RecommendationPatch(InputSchema):
    status: Literal["open", "accepted", "dismissed"]


@router.patch(
    "/recommendations/{int:id}", operation_id="update_recommendation", response=RecommendationOut, summary="Accept or dismiss a recommendation"
)
def update_recommendation(request, id: int, payload: RecommendationPatch):
    require(request.user, "change", Recommendation)
    rec = one_or_404(visible_records(Recommendation, request.user), id)
    services.set_recommendation_status(rec, payload.status, actor=request.user, via="api")
    return Recommendation.objects.select_related("product", "account").get(pk=rec.pk)


# ---------------------------------------------------------------------------------------------
# Loyalty


class EntryOut(Schema):
    id: int
    date: dt.date
    kind: str
    points: int
    credit: float
    order_id: int | None
    referred_account_id: int | None
    note: str
    created_by_id: int | None


class LoyaltyOut(Schema):
    account_id: int
    balance: int = Field(description="the sum of the ledger")
    credit_per_point: float
    count: int
    limit: int
    offset: int
    entries: list[EntryOut]


@router.get(
    "/accounts/{int:id}/loyalty", operation_id="get_account_loyalty", response=LoyaltyOut, summary="An account's points balance and ledger"
)
def loyalty(request, id: int, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    require(request.user, "view", LoyaltyEntry)
    account = _account(request, id)
    entries = LoyaltyEntry.objects.filter(account=account).order_by("-date", "-id")
    return {
        "account_id": account.pk,
        "balance": services.balance(account),
        "credit_per_point": workspace.loyalty_rules().credit_per_point,
        "count": entries.count(),
        "limit": limit,
        "offset": offset,
        "entries": list(entries[offset : offset + limit]),
    }


class RedemptionIn(InputSchema):
    points: Annotated[int, Field(ge=1, le=2**31 - 1, description="points to redeem for service credit")]
    note: Annotated[Text, Field(max_length=200)] = ""
    date: dt.date | None = Field(None, description="default today")


@router.post(
    "/accounts/{int:id}/loyalty/redemptions", operation_id="redeem_loyalty_points",
    response={201: EntryOut},
    summary="Redeem points for service credit (refused beyond the balance)",
)
def redeem(request, id: int, payload: RedemptionIn):
    require(request.user, "add", LoyaltyEntry)
    account = _account(request, id)
    on = _as_of(payload.date)
    entry = services.redeem_points(
        account, payload.points, on=on, note=payload.note, actor=request.user, via="api"
    )
    return Status(201, entry)
