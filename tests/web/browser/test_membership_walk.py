"""The membership page in a real browser: a manager sets what the key tier gives, creates a coupon
(refused first for ending before it starts, the form coming back filled), sees its uses, and
retires it; in Chinese, then the same page in English. Screenshots go to tests/artifacts/."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from clm.commerce.models import Coupon
from tests.conftest import make_user
from tests.factories import make_account, order
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    from clm.core.roles import sync_role_groups
    from clm.value.services import coupons

    sync_role_groups()
    boss = make_user("boss", "Manager", first_name="总", last_name="王")
    today = dt.date.today()
    Coupon.objects.create(code="SPRING15", name="春季促销", kind="percent", value=Decimal("15"),
                          valid_from=today - dt.timedelta(days=10), valid_until=today + dt.timedelta(days=20), max_uses=50)
    coupons.redeem(boss, "SPRING15", order(make_account("美的集团"), today, "12000.00"))
    return {"boss": boss, "today": today}


def test_a_manager_sets_benefits_and_manages_coupons_in_chinese_then_reads_them_in_english(
        page, browser, live_server, world, artifacts):
    today = world["today"]
    sign_in(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/programmes/")
    page.get_by_role("link", name="会员权益与优惠券").click()
    expect(page.get_by_test_id("coupons")).to_contain_text("SPRING15")
    expect(page.get_by_test_id("coupon-used").first).to_have_text("1 / 50")
    page.get_by_test_id("edit-key").click()
    page.locator("[name=dedicated_manager]").check()
    page.locator("[name=discount_rate]").fill("0.05")
    page.locator("[name=support_sla_hours]").fill("8")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("tier-key")).to_contain_text("8 小时")
    expect(page.get_by_test_id("tier-key")).to_contain_text("5%")

    page.get_by_test_id("new-coupon").click()
    page.locator("[name=code]").fill("vip-2027")
    page.locator("[name=name]").fill("年度会员礼")
    page.locator("[name=kind]").select_option("amount")
    page.locator("[name=value]").fill("500")
    page.locator("[name=valid_from]").fill((today + dt.timedelta(days=5)).isoformat())
    page.locator("[name=valid_until]").fill(today.isoformat())
    page.get_by_role("checkbox", name="重点客户").check()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("error-valid_until")).to_contain_text("优惠券的截止日期不能早于生效日期")
    expect(page.locator("[name=code]")).to_have_value("vip-2027")
    page.screenshot(path=str(artifacts / "membership-refused-zh.png"), full_page=True)
    page.locator("[name=valid_until]").fill((today + dt.timedelta(days=60)).isoformat())
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("coupons")).to_contain_text("VIP-2027")
    expect(page.get_by_test_id("coupons")).to_contain_text("尚未生效")
    page.get_by_test_id("retire-SPRING15").click()
    expect(page.get_by_test_id("coupons")).to_contain_text("已停用")
    text = page.locator("main").inner_text()
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), "a raw key reached the Chinese page"
    page.screenshot(path=str(artifacts / "membership-zh.png"), full_page=True)

    english = browser.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    en = english.new_page()
    en.set_default_timeout(60_000)
    en.set_viewport_size({"width": 1366, "height": 900})
    en.goto(f"{live_server.url}/")
    en.get_by_label("Username").fill("boss")
    en.get_by_label("Password").fill("pw-boss")
    en.get_by_role("button", name="Sign in").click()
    en.goto(f"{live_server.url}/membership/")
    expect(en.locator("html[lang=en]")).to_have_count(1)
    expect(en.get_by_test_id("tier-key")).to_contain_text("8 hours")
    expect(en.get_by_test_id("coupons")).to_contain_text("not yet valid")
    expect(en.get_by_test_id("coupons")).to_contain_text("retired")
    en.screenshot(path=str(artifacts / "membership-en.png"), full_page=True)
    en.get_by_role("link", name="Edit").nth(4).click()
    en.screenshot(path=str(artifacts / "membership-coupon-en.png"), full_page=True)
    english.close()
