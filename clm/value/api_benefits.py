"""REST resources for membership and coupons: an account's tier with the date it gained it and
what the tier gives (/value/accounts/{id}/membership), the benefits per tier (/value/tier-benefits),
and coupons with their redemption against an order (/coupons). Errors name the field."""

import datetime as dt
from decimal import Decimal
from typing import Annotated

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from clm.commerce.models import Coupon, Order
from clm.core.access import restrict, visible_accounts
from clm.core.crud import DEFAULT_LIMIT, InputSchema, Limit, Offset, Text, choice, one_or_404, paginate
from clm.core.records import may
from clm.value.models import TierBenefit
from clm.value.services import benefits, coupons

router = Router()
TAGS = ["membership and coupons"]


def require_view(user, model) -> None:
    if not may(user, "view", model):
        raise PermissionDenied(_("You have no role in this workspace."))


class BenefitIn(InputSchema):
    dedicated_manager: bool = False
    discount_rate: Annotated[Decimal, Field(ge=0, lt=1, max_digits=4, decimal_places=3)] = Decimal("0")
    early_access: bool = False
    support_sla_hours: Annotated[int, Field(ge=1, le=2000)] = 48


class BenefitOut(Schema):
    tier: str
    dedicated_manager: bool
    discount_rate: Decimal
    early_access: bool
    support_sla_hours: int


class MembershipOut(Schema):
    account: int
    tier: str | None
    tier_label: str | None
    since: dt.date | None = Field(None, description="the date the account gained its tier")
    previous_tier: str | None = Field(None, description="the tier it lost on `since`")
    benefits: BenefitOut | None


@router.get("/accounts/{int:id}/membership", operation_id="get_account_membership", response=MembershipOut,
            tags=TAGS, summary="An account's tier, since when, and its benefits")
def get_account_membership(request, id: int):
    account = one_or_404(visible_accounts(request.user), id)
    member = benefits.memberships([account.pk]).get(account.pk)
    if member is None:
        return {"account": account.pk, "tier": None, "tier_label": None, "benefits": None}
    return {"account": account.pk, "tier": member.tier, "tier_label": member.tier_label, "since": member.since,
            "previous_tier": member.previous_tier, "benefits": member.benefit}


@router.get("/tier-benefits", operation_id="list_tier_benefits", response=list[BenefitOut], tags=TAGS,
            summary="What each value tier gives")
def list_tier_benefits(request):
    require_view(request.user, TierBenefit)
    return list(TierBenefit.objects.all())


@router.put("/tier-benefits/{tier}", operation_id="set_tier_benefit", response=BenefitOut, tags=TAGS,
            summary="Set what a value tier gives")
def set_tier_benefit(request, tier: str, payload: BenefitIn):
    return benefits.save_benefit(request.user, tier, payload.model_dump(), via="api")


class CouponIn(InputSchema):
    code: Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Annotated[Text, Field(max_length=200)] = ""
    kind: choice(Coupon.Kind)
    value: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
    valid_from: dt.date
    valid_until: dt.date
    eligible_tiers: list[Annotated[str, Field(max_length=30)]] = []
    eligible_segments: list[Annotated[str, Field(max_length=30)]] = []
    max_uses: Annotated[int, Field(ge=1)] | None = None
    min_order_amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] = Decimal("0")


class CouponOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    value: Decimal
    valid_from: dt.date
    valid_until: dt.date
    eligible_tiers: list[str]
    eligible_segments: list[str]
    max_uses: int | None
    min_order_amount: Decimal
    active: bool
    used: int = 0


class CouponPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CouponOut]


class RedeemIn(InputSchema):
    order: Annotated[int, Field(ge=1)]


class RedemptionOut(Schema):
    id: int
    coupon: str
    order: int = Field(alias="order_id")
    account: int = Field(alias="account_id")
    order_amount: Decimal
    discount: Decimal
    tier: str
    redeemed_at: dt.datetime

    @staticmethod
    def resolve_coupon(obj):
        return obj.coupon.code


@router.get("/coupons", operation_id="list_coupons", response=CouponPage, tags=TAGS, summary="List coupons")
def list_coupons(request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    require_view(request.user, Coupon)
    page = paginate(Coupon.objects.order_by("-valid_until", "code"), limit, offset)
    used = coupons.uses(page["items"])
    for coupon in page["items"]:
        coupon.used = used.get(coupon.pk, 0)
    return page


@router.post("/coupons", operation_id="create_coupon", response={201: CouponOut}, tags=TAGS, summary="Create a coupon")
def create_coupon(request, payload: CouponIn):
    return Status(201, coupons.save_coupon(request.user, payload.model_dump(), via="api"))


@router.post("/coupons/{code}/redemptions", operation_id="redeem_coupon", response={201: RedemptionOut}, tags=TAGS,
             summary="Use a coupon on an order (refused past its validity or over its uses)")
def redeem_coupon(request, code: str, payload: RedeemIn):
    order = one_or_404(restrict(Order.objects.all(), request.user), payload.order)
    return Status(201, coupons.redeem(request.user, code, order, via="api"))
