"""The membership page (issue #16 §6): what each value tier gives and the coupons with their
redemption counts; managers edit benefits and create, edit and retire coupons through the value
services; bad input comes back on the form with the reason; a sales rep reads but may not change."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.commerce.models import Coupon
from clm.value.models import TierBenefit
from clm.value.services import coupons
from tests.factories import make_account, order

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def english(manager):
    manager.language = "en"
    manager.save()


def test_a_manager_creates_edits_and_retires_a_coupon_and_sees_its_uses(as_manager, manager, english):
    page = as_manager.get("/membership/").content.decode()
    assert "No coupon yet." in page and "The standard service" in page
    data = {"code": "vip10", "name": "VIP", "kind": "percent", "value": "10", "valid_from": TODAY.isoformat(),
            "valid_until": (TODAY + dt.timedelta(days=30)).isoformat(), "eligible_tiers": [], "eligible_segments": "",
            "max_uses": "2", "min_order_amount": "0"}
    wrong = as_manager.post("/membership/coupons/new/", {**data, "valid_until": (TODAY - dt.timedelta(days=1)).isoformat()})
    body = wrong.content.decode()
    assert wrong.status_code == 422 and "The coupon cannot end before it starts." in body
    assert 'value="vip10"' in body and not Coupon.objects.exists()  # the form comes back filled, nothing saved
    over = as_manager.post("/membership/coupons/new/", {**data, "value": "150"})
    assert over.status_code == 422 and "A percentage coupon takes at most 100 percent off." in over.content.decode()
    zero = as_manager.post("/membership/coupons/new/", {**data, "value": "0", "max_uses": "0"})
    assert zero.status_code == 422 and "A coupon takes more than nothing off." in zero.content.decode()
    assert not Coupon.objects.exists()
    assert as_manager.post("/membership/coupons/new/", data).status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.code, coupon.max_uses, coupon.active) == ("VIP10", 2, True)
    account = make_account("美的集团")
    coupons.redeem(manager, "VIP10", order(account, TODAY, "1000.00"))
    row = as_manager.get("/membership/").content.decode()
    assert "VIP10" in row and "1 / 2" in row and "valid" in row
    assert as_manager.post(f"/membership/coupons/{coupon.pk}/", {**data, "name": "VIP 会员"}).status_code == 302
    assert as_manager.post(f"/membership/coupons/{coupon.pk}/retire/").status_code == 302
    coupon.refresh_from_db()
    assert (coupon.name, coupon.active) == ("VIP 会员", False)
    assert "retired" in as_manager.get("/membership/").content.decode()
    page = as_manager.get(f"/accounts/{account.pk}/").content.decode()
    assert "VIP10" in page  # the account page lists the coupons it used


def test_a_manager_sets_what_a_tier_gives_and_an_unknown_tier_is_not_found(as_manager, english):
    form = {"dedicated_manager": "on", "discount_rate": "0.05", "early_access": "on", "support_sla_hours": "8"}
    bad = as_manager.post("/membership/tiers/key/", {**form, "discount_rate": "1.5"})
    assert bad.status_code == 422 and not TierBenefit.objects.exists()
    assert as_manager.post("/membership/tiers/key/", form).status_code == 302
    benefit = TierBenefit.objects.get(tier="key")
    assert (benefit.dedicated_manager, benefit.discount_rate, benefit.support_sla_hours) == (True, Decimal("0.050"), 8)
    page = as_manager.get("/membership/").content.decode()
    assert "5%" in page and "8 hours" in page
    assert as_manager.get("/membership/tiers/nonsense/").status_code == 404


def test_a_sales_rep_reads_the_page_but_may_not_change_it(signed_in):
    Coupon.objects.create(code="SPRING", kind="amount", value=Decimal("200"), valid_from=TODAY, valid_until=TODAY)
    page = signed_in.get("/membership/").content.decode()
    assert "SPRING" in page and "New coupon" not in page
    assert signed_in.get("/membership/coupons/new/").status_code == 403
    assert signed_in.post("/membership/tiers/key/", {"support_sla_hours": "8"}).status_code == 403
    assert signed_in.post(f"/membership/coupons/{Coupon.objects.get().pk}/retire/").status_code == 403
    assert Coupon.objects.get().active


def test_the_workspaces_own_tiers_are_named_on_the_membership_page_and_the_dashboard_filter(signed_in):
    """With tier rules configured (the demo writes them) both pages answered 500: the tier menus
    passed the rule rows where the tier names were expected."""
    from clm.value.models import TierRule

    TierRule.objects.create(position=1, key="vip", label="Very important", label_zh="贵宾",
                            min_total_revenue=Decimal("100000"))
    TierRule.objects.create(position=2, key="other", label="Everyone else", label_zh="其他")
    page = signed_in.get("/membership/")
    assert page.status_code == 200 and "Very important" in page.content.decode()
    dashboard = signed_in.get("/dashboard/")
    assert dashboard.status_code == 200 and '<option value="vip">Very important</option>' in dashboard.content.decode()
