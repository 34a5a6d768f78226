"""The account page's membership panel: the value tier, since when (and the tier it replaced),
what it gives, and the coupons used on the account's orders."""

from clm.commerce.models import CouponRedemption
from clm.value import services
from clm.value.services import benefits
from clm.web import explain


def membership_panel(account) -> dict | None:
    member = benefits.memberships([account.pk]).get(account.pk)
    redemptions = list(CouponRedemption.objects.filter(account=account).select_related("coupon", "order")[:5])
    if member is None and not redemptions:
        return None
    names = services.tier_names()
    return {
        "member": member,
        "tier_name": explain.tier_name(member.tier, member.tier_label, names) if member else "",
        "previous_name": explain.tier_name(member.previous_tier, member.previous_label or "", names)
        if member and member.previous_tier else "",
        "benefit": member.benefit if member else None,
        "redemptions": redemptions,
    }
