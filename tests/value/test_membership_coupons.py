"""Membership benefits and coupons (issue #16 §6): the tier an account holds with the date it
gained it and the tier it lost, read from the tier history; what the tier gives; coupons' discount
worked by hand; redemption against an order, refused with the reason (past or before validity,
used up, already on the order, tier not eligible), nothing recorded then; the API and the account
page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clm.commerce.models import Coupon, CouponRedemption
from clm.value.models import TierAssignment, TierBenefit
from clm.value.services import benefits, coupons
from tests.api.conftest import assert_error
from tests.factories import order

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def tiers(account, *history):
    """history: (days ago, tier) from the oldest."""
    TierAssignment.objects.bulk_create(
        TierAssignment(account=account, as_of=TODAY - dt.timedelta(days=ago), tier=tier, tier_label=tier.title(),
                       tenure_years=1.0, total_revenue=Decimal("1"), segment="champions")
        for ago, tier in history)


@pytest.fixture
def key_account(account):
    tiers(account, (90, "growth"), (60, "growth"), (30, "key"), (0, "key"))
    TierBenefit.objects.create(tier="key", dedicated_manager=True, discount_rate=Decimal("0.05"), early_access=True,
                               support_sla_hours=8)
    return account


def coupon(**fields):
    return Coupon.objects.create(**{"code": "SPRING15", "kind": "percent", "value": Decimal("15"),
                                    "valid_from": TODAY - dt.timedelta(days=10), "valid_until": TODAY, **fields})


def test_membership_says_the_tier_since_when_and_the_tier_it_replaced(key_account, owner):
    other = type(key_account).objects.create(name="Other")
    tiers(other, (60, "key"), (30, "growth"), (0, "growth"))  # lost key 30 days ago
    found = benefits.memberships([key_account.pk, other.pk])
    mine = found[key_account.pk]
    assert (mine.tier, mine.since, mine.previous_tier) == ("key", TODAY - dt.timedelta(days=30), "growth")
    assert mine.benefit.dedicated_manager and mine.benefit.support_sla_hours == 8
    theirs = found[other.pk]
    assert (theirs.tier, theirs.since, theirs.previous_tier, theirs.benefit) == (
        "growth", TODAY - dt.timedelta(days=30), "key", None)


def test_the_discount_worked_by_hand():
    # 15% of ¥1,234.50 = 185.175 → ¥185.18 (half up); ¥500 off an order of ¥300 → ¥300, never more
    assert coupons.discount(Coupon(kind="percent", value=Decimal("15")), Decimal("1234.50")) == Decimal("185.18")
    assert coupons.discount(Coupon(kind="amount", value=Decimal("500")), Decimal("300")) == Decimal("300.00")
    assert coupons.discount(Coupon(kind="amount", value=Decimal("500")), Decimal("800")) == Decimal("500.00")


def test_a_coupon_is_redeemed_once_per_order_and_refused_with_its_reason(key_account, admin_user):
    first, second = order(key_account, TODAY, 1234.50), order(key_account, TODAY, 200)
    single = coupon(max_uses=1, eligible_tiers=["key", "strategic"])
    used = coupons.redeem(admin_user, " spring15 ", first)
    assert (used.discount, used.order_amount, used.tier) == (Decimal("185.18"), Decimal("1234.50"), "key")
    with pytest.raises(ValidationError) as caught:
        coupons.redeem(admin_user, "SPRING15", first)
    assert caught.value.message_dict["code"] == ["优惠券 SPRING15 已使用 1 次，达到上限。"]
    single.max_uses = None
    single.save()
    with pytest.raises(ValidationError) as caught:
        coupons.redeem(admin_user, "SPRING15", first)
    assert "order" in caught.value.message_dict  # once per order
    Coupon.objects.filter(pk=single.pk).update(valid_until=TODAY - dt.timedelta(days=1))
    with pytest.raises(ValidationError) as caught:
        coupons.redeem(admin_user, "SPRING15", second)
    assert caught.value.message_dict["code"] == [f"优惠券 SPRING15 已于 {(TODAY - dt.timedelta(days=1)).isoformat()} 到期。"]
    coupon(code="LATER", valid_from=TODAY + dt.timedelta(days=1), valid_until=TODAY + dt.timedelta(days=9))
    with pytest.raises(ValidationError):
        coupons.redeem(admin_user, "LATER", second)
    coupon(code="VIP", eligible_tiers=["strategic"])
    with pytest.raises(ValidationError) as caught:
        coupons.redeem(admin_user, "VIP", second)
    assert "strategic" in caught.value.message_dict["order"][0]
    with pytest.raises(ValidationError):
        coupons.redeem(admin_user, "NOSUCH", second)
    assert CouponRedemption.objects.count() == 1


def test_coupons_and_membership_through_the_api(api_as, admin_user, outsider, key_account, team_visibility):
    client = api_as(admin_user, language="en")
    body = {"code": "q4-key", "kind": "amount", "value": "300", "valid_from": TODAY.isoformat(),
            "valid_until": (TODAY + dt.timedelta(days=30)).isoformat(), "eligible_tiers": ["key"], "max_uses": 2}
    created = client.post("/value/coupons", body)
    assert created.status_code == 201, created.content
    assert created.json_body["code"] == "Q4-KEY"
    error = assert_error(client.post("/value/coupons", {**body, "code": "BAD", "eligible_tiers": ["gold"]}), 422)
    assert error["details"][0]["message"] == "No value tier is called gold."
    error = assert_error(client.post("/value/coupons", {**body, "code": "BACKWARDS",
                                                        "valid_until": (TODAY - dt.timedelta(days=1)).isoformat()}), 422)
    assert error["details"][0]["loc"][-1] == "valid_until"
    bought = order(key_account, TODAY, 1000)
    redeemed = client.post("/value/coupons/Q4-KEY/redemptions", {"order": bought.pk})
    assert redeemed.status_code == 201 and redeemed.json_body["discount"] == "300.00"
    assert client.get("/value/coupons").json_body["items"][0]["used"] == 1
    assert_error(api_as(outsider).post("/value/coupons/Q4-KEY/redemptions", {"order": bought.pk}), 404)
    member = client.get(f"/value/accounts/{key_account.pk}/membership").json_body
    assert member["tier"] == "key" and member["since"] == (TODAY - dt.timedelta(days=30)).isoformat()
    assert member["previous_tier"] == "growth" and member["benefits"]["discount_rate"] == "0.050"
    assert client.request("put", "/value/tier-benefits/key", {"support_sla_hours": 4}).json_body["support_sla_hours"] == 4
    assert_error(client.request("put", "/value/tier-benefits/gold", {}), 422)


def test_the_account_page_shows_the_membership_and_coupons_used(client, admin_user, key_account):
    coupons.redeem(admin_user, coupon().code, order(key_account, TODAY, 1000))
    client.force_login(admin_user)
    html = client.get(reverse("web:account", args=[key_account.pk])).content.decode()
    panel = html[html.index('data-testid="membership"'):]
    panel = panel[:panel.index("</section>")]
    assert f"自 {(TODAY - dt.timedelta(days=30)).isoformat()} 起" in panel and "此前为成长客户" in panel
    assert "<dt>专属客户经理</dt><dd>是</dd>" in panel and "<dd>5%</dd>" in panel
    assert "8 小时内响应" in panel and "SPRING15" in panel and "−¥150" in panel


@pytest.mark.django_db(transaction=True)
def test_two_redemptions_at_once_cannot_pass_a_single_use_coupon(postgres_only, account):
    """Two requests redeem the last use at the same moment, each on its own connection: the
    coupon's row lock lets one through and refuses the other."""
    import threading

    from django.db import connection

    coupon(code="ONCE", max_uses=1)
    orders = [order(account, TODAY, 100), order(account, TODAY, 200)]
    start, outcomes = threading.Barrier(2), []

    def redeem(o):
        try:
            start.wait()
            coupons.redeem(None, "ONCE", o)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.message_dict["code"][0])
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "优惠券 ONCE 已使用 1 次，达到上限。"]
    assert CouponRedemption.objects.count() == 1
