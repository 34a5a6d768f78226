"""Coupons: defining them, the discount a coupon gives on an order, and redeeming it against the
order — refused, with the reason, when it is past or before its validity, used up, already used
on that order, below its minimum, or for tiers or segments the account is not in."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.commerce.models import Coupon, CouponRedemption, Order
from clm.core import audit, services
from clm.core.access import restrict
from clm.core.records import may
from clm.value.services.benefits import memberships, tier_keys

CENT = Decimal("0.01")


def discount(coupon: Coupon, order_amount: Decimal) -> Decimal:
    """Percentage: the order's amount × value / 100, rounded half up to the cent; amount: the value,
    never more than the order."""
    amount = Decimal(order_amount)
    if coupon.kind == Coupon.Kind.PERCENT:
        return (amount * Decimal(coupon.value) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(Decimal(coupon.value), amount).quantize(CENT)


def save_coupon(actor, data: dict, coupon: Coupon | None = None, *, via: str = "ui") -> Coupon:
    if actor is not None and not may(actor, "add" if coupon is None else "change", Coupon):
        raise PermissionDenied(_("You may not manage coupons."))
    data = dict(data)
    if "code" in data:
        data["code"] = str(data["code"]).strip().upper()
        if Coupon.objects.filter(code=data["code"]).exclude(pk=getattr(coupon, "pk", None)).exists():
            raise ValidationError({"code": _("Another coupon has the code %(code)s.") % {"code": data["code"]}})
    start = data.get("valid_from", getattr(coupon, "valid_from", None))
    end = data.get("valid_until", getattr(coupon, "valid_until", None))
    if start and end and end < start:
        raise ValidationError({"valid_until": _("The coupon cannot end before it starts.")})
    kind = data.get("kind", getattr(coupon, "kind", None))
    value = data.get("value", getattr(coupon, "value", None))
    if value is not None and Decimal(value) <= 0:
        raise ValidationError({"value": _("A coupon takes more than nothing off.")})
    if data.get("max_uses") is not None and data["max_uses"] < 1:
        raise ValidationError({"max_uses": _("A coupon can be used once at least; leave it empty for no limit.")})
    if kind == Coupon.Kind.PERCENT and value is not None and Decimal(value) > 100:
        raise ValidationError({"value": _("A percentage coupon takes at most 100 percent off.")})
    unknown = [t for t in data.get("eligible_tiers", []) if t not in tier_keys()]
    if unknown:
        raise ValidationError({"eligible_tiers": _("No value tier is called %(tier)s.") % {"tier": unknown[0]}})
    if coupon is None:
        return services.create(Coupon, data, actor=actor, via=via)
    return services.update(coupon, data, actor=actor, via=via)


def uses(coupons) -> dict[int, int]:
    return dict(CouponRedemption.objects.filter(coupon__in=coupons).values("coupon_id")
                .annotate(n=Count("pk")).values_list("coupon_id", "n"))


@transaction.atomic
def redeem(actor, code: str, order: Order, *, via: str = "ui") -> CouponRedemption:
    """Use the coupon on the order: the discount recorded with the order's amount and the account's
    tier. The coupon's row is locked, so two redemptions at once cannot pass its limit."""
    if actor is not None:
        if not may(actor, "add", CouponRedemption):
            raise PermissionDenied(_("You may not redeem coupons."))
        if not restrict(Order.objects.filter(pk=order.pk), actor).exists():
            raise PermissionDenied(_("You may not change this order."))
    code = (code or "").strip().upper()
    coupon = Coupon.objects.select_for_update().filter(code=code).first()
    if coupon is None or not coupon.active:
        raise ValidationError({"code": _("No coupon has the code %(code)s.") % {"code": code or "–"}})
    today = timezone.localdate()
    if today > coupon.valid_until:
        raise ValidationError({"code": _("The coupon %(code)s ended on %(date)s.") % {
            "code": code, "date": coupon.valid_until.isoformat()}})
    if today < coupon.valid_from:
        raise ValidationError({"code": _("The coupon %(code)s starts on %(date)s.") % {
            "code": code, "date": coupon.valid_from.isoformat()}})
    used = CouponRedemption.objects.filter(coupon=coupon).count()
    if coupon.max_uses is not None and used >= coupon.max_uses:
        raise ValidationError({"code": _("The coupon %(code)s has been used %(n)s times, its limit.") % {
            "code": code, "n": used}})
    if CouponRedemption.objects.filter(coupon=coupon, order=order).exists():
        raise ValidationError({"order": _("The coupon %(code)s is already used on this order.") % {"code": code}})
    if order.amount < coupon.min_order_amount:
        raise ValidationError({"order": _("The coupon %(code)s needs an order of at least %(amount)s.") % {
            "code": code, "amount": coupon.min_order_amount}})
    member = memberships([order.account_id]).get(order.account_id)
    tier = member.tier if member else ""
    if coupon.eligible_tiers and tier not in coupon.eligible_tiers:
        raise ValidationError({"order": _("The coupon %(code)s is for the tiers %(tiers)s; this account is not in one.") % {
            "code": code, "tiers": ", ".join(coupon.eligible_tiers)}})
    if coupon.eligible_segments and (member is None or member.segment not in coupon.eligible_segments):
        raise ValidationError({"order": _("The coupon %(code)s is for other customer segments.") % {"code": code}})
    redemption = CouponRedemption.objects.create(
        coupon=coupon, order=order, account_id=order.account_id, order_amount=order.amount,
        discount=discount(coupon, order.amount), tier=tier,
        redeemed_by=actor if getattr(actor, "pk", None) else None)
    audit.record(actor, via, "create", redemption, {"coupon": [None, code], "order": [None, order.pk],
                                                    "discount": [None, str(redemption.discount)]})
    return redemption
