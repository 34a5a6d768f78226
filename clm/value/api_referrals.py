"""REST resources for referrals and the dormant customers worth waking, under /value: referral
codes, referrals (a lead or account that arrived with a code), their rewards, the advocates, the
referral KPIs and the reactivation list. Reads follow the referrer's visibility; changes go through
clm.value.services.referrals with via="api"."""

import datetime as dt
from decimal import Decimal

from ninja import Router, Schema, Status
from pydantic import Field

from clm.core.access import restrict, visible_accounts, visible_records
from clm.core.crud import (
    DEFAULT_LIMIT,
    Id,
    InputSchema,
    Limit,
    Offset,
    Text,
    invalid,
    one_or_404,
    paginate,
    require,
)
from clm.customers.models import Contact
from clm.value.models import Referral, ReferralCode
from clm.value.services import advocacy, reactivation, referrals

router = Router(tags=["referrals"])


class CodeOut(Schema):
    code: str
    account: int = Field(validation_alias="account_id")
    contact: int | None = Field(validation_alias="contact_id")
    active: bool


class CodeIn(InputSchema):
    account: Id
    contact: Id | None = Field(None, description="a contact of the account, for a code of their own")


class RewardOut(Schema):
    kind: str = Field(description="points, service_credit or invoice_discount")
    points: int
    credit: Decimal
    discount_percent: Decimal
    cost: Decimal = Field(description="points × credit per point + a discount's percent × the referrer's MRR")
    granted_on: dt.date


class ReferralOut(Schema):
    id: int
    code: str | None = None
    referrer: int = Field(validation_alias="referrer_id")
    referrer_contact: int | None = Field(validation_alias="referrer_contact_id")
    referred_account: int | None = Field(validation_alias="referred_account_id")
    lead: int | None = Field(validation_alias="lead_id")
    channel: str
    arrived_at: dt.datetime
    signed_on: dt.date | None
    reward: RewardOut | None = None

    @staticmethod
    def resolve_code(obj):
        return obj.code.code if obj.code_id else None

    @staticmethod
    def resolve_reward(obj):
        return getattr(obj, "reward", None)


class ReferralPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ReferralOut]


class ReferralIn(InputSchema):
    code: Text = Field(..., max_length=40, description="the referral code the lead or account arrived with")
    account: Id | None = None
    lead: Id | None = None


class AdvocateOut(Schema):
    account: int
    account_name: str
    nps: int | None
    clv: Decimal | None
    referred: int
    signed: int
    reasons: list[str]


class ReferralKpis(Schema):
    new_customers: int
    referred_new_customers: int
    referral_share: float | None = Field(description="referred new customers ÷ new customers in the period")
    referrals: int
    advocates: int
    referrals_per_advocate: float | None
    reward_cost: Decimal
    referred_clv: Decimal
    reward_cost_to_clv: float | None = Field(description="reward cost ÷ the referred customers' CLV")


class DormantOut(Schema):
    account: int
    account_name: str
    score: float = Field(description="reactivation potential, 0–100")
    days_quiet: int
    past_value: float
    reason: str
    explanation: list[str]


def _referrals(user):
    require(user, "view", Referral)
    return visible_records(Referral, user).select_related("code", "reward").order_by("-arrived_at", "-id")


@router.get("/referral-codes", operation_id="list_referral_codes", response=list[CodeOut], summary="Referral codes")
def list_referral_codes(request, account: Id | None = None):
    require(request.user, "view", ReferralCode)
    rows = visible_records(ReferralCode, request.user).order_by("account_id", "id")
    return list(rows.filter(account_id=account) if account else rows[:DEFAULT_LIMIT])


@router.post("/referral-codes", operation_id="create_referral_code", response={201: CodeOut},
             summary="The referral code of an account or contact (made the first time)")
def create_referral_code(request, payload: CodeIn):
    account = visible_accounts(request.user).filter(pk=payload.account).first()
    if account is None:
        raise invalid({"account": f"unknown account {payload.account}"})
    contact = None
    if payload.contact:
        contact = restrict(Contact.objects.all(), request.user).filter(pk=payload.contact).first()
        if contact is None:
            raise invalid({"contact": f"unknown contact {payload.contact}"})
    return Status(201, referrals.code_for(request.user, account, contact, via="api"))


@router.get("/referrals", operation_id="list_referrals", response=ReferralPage, summary="List referrals")
def list_referrals(request, referrer: Id | None = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    rows = _referrals(request.user)
    return paginate(rows.filter(referrer_id=referrer) if referrer else rows, limit, offset)


@router.post("/referrals", operation_id="create_referral", response={201: ReferralOut},
             summary="Attribute a lead or account that arrived with a referral code")
def create_referral(request, payload: ReferralIn):
    from clm.sales.models import Lead

    account = lead = None
    if payload.account:
        account = visible_accounts(request.user).filter(pk=payload.account).first()
        if account is None:
            raise invalid({"account": f"unknown account {payload.account}"})
    if payload.lead:
        lead = visible_records(Lead, request.user).filter(pk=payload.lead).first()
        if lead is None:
            raise invalid({"lead": f"unknown lead {payload.lead}"})
    found = referrals.attribute(request.user, payload.code, account=account, lead=lead, channel="api", via="api")
    return Status(201, found)


@router.get("/referrals/{int:id}", operation_id="get_referral", response=ReferralOut, summary="One referral")
def get_referral(request, id: int):
    return one_or_404(_referrals(request.user), id)


@router.post("/referrals/{int:id}/reward", operation_id="create_referral_reward", response={201: ReferralOut},
             summary="Grant the reward of a referral whose customer signed (once)")
def create_referral_reward(request, id: int):
    referral = one_or_404(_referrals(request.user), id)
    referrals.grant_reward(referral, actor=request.user, via="api")
    return Status(201, _referrals(request.user).get(pk=referral.pk))


@router.get("/advocates", operation_id="list_advocates", response=list[AdvocateOut], summary="Advocates to ask for referrals")
def list_advocates(request, limit: Limit = DEFAULT_LIMIT):
    require(request.user, "view", Referral)
    return [
        {"account": a.account.pk, "account_name": a.account.name, "nps": a.nps, "clv": a.clv, "referred": a.referred,
         "signed": a.signed, "reasons": a.reasons}
        for a in advocacy.advocates(request.user, limit=limit)
    ]


@router.get("/referrals-kpis", operation_id="get_referral_kpis", response=ReferralKpis, summary="Referral KPIs")
def get_referral_kpis(request, start: dt.date, end: dt.date):
    if end <= start:
        raise invalid({"end": "must be after start"})
    require(request.user, "view", Referral)
    accounts = visible_accounts(request.user)
    referred, new = advocacy.referral_share(accounts, start, end)
    made, advocates = advocacy.referrals_per_advocate(request.user, start, end)
    cost, clv = advocacy.reward_cost_to_clv(accounts)
    return {
        "new_customers": new, "referred_new_customers": referred, "referral_share": referred / new if new else None,
        "referrals": made, "advocates": advocates, "referrals_per_advocate": made / advocates if advocates else None,
        "reward_cost": cost, "referred_clv": clv, "reward_cost_to_clv": float(cost / clv) if clv else None,
    }


@router.get("/reactivation", operation_id="list_dormant_accounts", response=list[DormantOut],
            summary="Dormant customers ranked by reactivation potential")
def list_dormant_accounts(request, limit: Limit = DEFAULT_LIMIT):
    require(request.user, "view", Referral)
    return [
        {"account": r.account.pk, "account_name": r.account.name, "score": r.score, "days_quiet": r.days_quiet,
         "past_value": r.past_value, "reason": r.reason, "explanation": r.lines}
        for r in reactivation.dormant_list(request.user, limit=limit)
    ]
