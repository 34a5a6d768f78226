"""The demo company's membership programme: what each value tier gives, and three coupons — a
spring percentage for key and strategic customers, a single-use welcome amount, an expired one —
with redemptions on recent orders of eligible accounts (the orders are the simulator's; only the
discount record is added). Deterministic, written in bulk."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from clm.commerce.models import Coupon, CouponRedemption, Order
from clm.value.models import TierBenefit
from clm.value.services import benefits, coupons

BENEFITS = {
    "strategic": {"dedicated_manager": True, "discount_rate": Decimal("0.10"), "early_access": True, "support_sla_hours": 4},
    "key": {"dedicated_manager": True, "discount_rate": Decimal("0.05"), "early_access": True, "support_sla_hours": 8},
    "growth": {"dedicated_manager": False, "discount_rate": Decimal("0.02"), "early_access": False, "support_sla_hours": 24},
    "standard": {"dedicated_manager": False, "discount_rate": Decimal("0"), "early_access": False, "support_sla_hours": 48},
}


def build(as_of: dt.date) -> dict:
    keys = benefits.tier_keys()
    if not TierBenefit.objects.exists():
        TierBenefit.objects.bulk_create(TierBenefit(tier=k, **BENEFITS[k]) for k in keys if k in BENEFITS)
    if Coupon.objects.exists():
        return {"coupons": 0, "redemptions": 0}
    spring = Coupon.objects.create(code="VIP-SPRING15", name="重点客户春季续约 85 折", kind="percent", value=Decimal("15"),
                                   valid_from=as_of - dt.timedelta(days=60), valid_until=as_of + dt.timedelta(days=30),
                                   eligible_tiers=[k for k in ("strategic", "key") if k in keys], max_uses=200)
    Coupon.objects.create(code="WELCOME500", name="新客户首单立减 500 元", kind="amount", value=Decimal("500"),
                          valid_from=as_of - dt.timedelta(days=30), valid_until=as_of + dt.timedelta(days=60),
                          max_uses=1, min_order_amount=Decimal("2000"))
    Coupon.objects.create(code="DOUBLE11", name="双十一 9 折", kind="percent", value=Decimal("10"),
                          valid_from=as_of - dt.timedelta(days=60), valid_until=as_of - dt.timedelta(days=30))
    recent = list(Order.objects.filter(ordered_on__gte=spring.valid_from, ordered_on__lte=as_of)
                  .order_by("ordered_on", "pk")[:400])
    members = benefits.memberships({o.account_id for o in recent})
    now = timezone.make_aware(dt.datetime.combine(as_of, dt.time(12)))
    rows = [
        CouponRedemption(coupon=spring, order=o, account_id=o.account_id, order_amount=o.amount,
                         discount=coupons.discount(spring, o.amount), tier=members[o.account_id].tier,
                         redeemed_at=min(now, timezone.make_aware(dt.datetime.combine(o.ordered_on, dt.time(10)))))
        for o in recent
        if o.account_id in members and members[o.account_id].tier in spring.eligible_tiers and o.pk % 3 == 0
    ][: spring.max_uses]
    CouponRedemption.objects.bulk_create(rows)
    return {"coupons": 3, "redemptions": len(rows)}
