"""Win-back, referrals and dormant customers in a real browser: a CSM starts a win-back from the
churned list, records the root cause, is refused a discount above the limit without a manager (the
form comes back filled), names the manager and the plan's tasks appear; then the referrals and the
dormant pages, and the account page's panel. In Chinese, then in English. Screenshots go to
tests/artifacts/."""

import datetime as dt
import importlib
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from clm.customers.models import Account
from clm.service.models import SurveyResponse
from clm.value.models import CLVEstimate, TierAssignment
from tests.conftest import make_user
from tests.factories import new_subscription
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    from django.apps import apps

    from clm.automation import winback
    from clm.commerce.models import Subscription
    from clm.core.roles import sync_role_groups

    # the data migrations' rows: a live-server test's flush emptied the tables
    importlib.import_module("clm.automation.migrations.0002_root_causes").seed(apps, None)
    importlib.import_module("clm.automation.migrations.0006_winback_offers").seed(apps, None)
    importlib.import_module("clm.value.migrations.0004_referral_rule").seed(apps, None)
    sync_role_groups()
    mei = make_user("mei", "CSM", first_name="美", last_name="陈")
    make_user("boss", "Manager", first_name="总", last_name="王")
    today = dt.date.today()
    gone = Account.objects.create(name="华润万家", csm=mei, lifecycle_stage="churned",
                                  lifecycle_stage_since=today - dt.timedelta(days=40))
    TierAssignment.objects.create(account=gone, as_of=today, tier="gold", tier_label="金牌", tenure_years=3,
                                  total_revenue=Decimal("360000"))
    sub = new_subscription(gone, dt.date(2023, 1, 1), "8000.00")
    Subscription.objects.filter(pk=sub.pk).update(status="cancelled", cancel_reason="预算削减")
    quiet = Account.objects.create(name="青岛啤酒", csm=mei, lifecycle_stage="dormant",
                                   lifecycle_stage_since=today - dt.timedelta(days=60))
    CLVEstimate.objects.create(account=quiet, as_of=today, method="bgnbd", value=50000, historical_value=40000,
                               future_value=10000, inputs={"p_alive": 0.62})
    TierAssignment.objects.create(account=quiet, as_of=today, tier="silver", tier_label="银牌", tenure_years=2,
                                  total_revenue=Decimal("120000"))
    fan = Account.objects.create(name="海尔智家", csm=mei, lifecycle_stage="mature", health_band="green", health_score=86)
    SurveyResponse.objects.create(account=fan, kind="nps", score=10, responded_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    CLVEstimate.objects.create(account=fan, as_of=today, method="sbg", value=300000, historical_value=100000,
                               future_value=200000)
    for name, cause, offer, result in (("美的集团", "product", "product-training", "renewed"),
                                       ("格力电器", "price", "renewal-discount", "churned"),
                                       ("TCL科技", "service", "service-review", "retained")):
        account = Account.objects.create(name=name, csm=mei, lifecycle_stage="growth")
        new_subscription(account, dt.date(2024, 1, 1), "5000.00")
        wb = winback.open_winback(None, account=account, signal="health_red")
        winback.record_cause(None, wb, cause=cause, note="")
        winback.choose_plan(None, wb, offer=offer, discount_percent=8 if offer == "renewal-discount" else None,
                            evaluate_on=today + dt.timedelta(days=1), today=today)
        winback.evaluate(None, wb, result=result, today=today + dt.timedelta(days=1))
    return {"gone": gone, "quiet": quiet, "fan": fan}


def test_a_csm_wins_back_a_churned_customer_in_chinese_then_reads_it_in_english(page, browser, live_server, world, artifacts):
    sign_in(page, live_server.url, "mei")
    page.goto(f"{live_server.url}/winback/")
    expect(page.get_by_test_id("winback-churned")).to_contain_text("预算削减")
    expect(page.get_by_test_id("winback-rate")).to_have_text("67%")
    page.wait_for_function("() => document.getElementById('cause-chart')?.dataset.points === '3'")
    page.screenshot(path=str(artifacts / "winback-zh.png"), full_page=True)

    page.get_by_test_id("start-winback").first.click()
    expect(page.get_by_test_id("winback-step")).to_contain_text("已识别流失预警信号")
    page.get_by_label("根本原因").select_option("price")
    page.get_by_label("客户怎么说、您发现了什么").fill("竞品报价低 20%")
    page.get_by_test_id("save-cause").click()
    page.get_by_label("挽回方案", exact=True).select_option("renewal-discount")
    page.get_by_label("折扣（%）").fill("15")
    page.get_by_test_id("save-plan").click()
    expect(page.get_by_test_id("plan-error")).to_contain_text("请选择批准此折扣的经理")
    expect(page.get_by_label("折扣（%）")).to_have_value("15")
    page.screenshot(path=str(artifacts / "winback-refused-zh.png"), full_page=True)
    page.get_by_label("批准人（经理）").select_option(label="王总")
    page.get_by_test_id("save-plan").click()
    expect(page.get_by_test_id("step-plan")).to_contain_text("发送含折扣的续约报价")
    expect(page.get_by_test_id("step-plan")).to_contain_text("由 王总 批准")
    page.screenshot(path=str(artifacts / "winback-plan-zh.png"), full_page=True)

    page.goto(f"{live_server.url}/referrals/")
    expect(page.get_by_test_id("advocates")).to_contain_text("NPS 10：推荐者")
    page.screenshot(path=str(artifacts / "referrals-zh.png"), full_page=True)
    page.goto(f"{live_server.url}/reactivation/")
    expect(page.get_by_test_id("reactivation-list")).to_contain_text("青岛啤酒")
    page.get_by_test_id("dormant-row").first.locator("summary").click()
    expect(page.get_by_test_id("reactivation-list")).to_contain_text("根据订单历史（BG/NBD）估计的存活概率：62%")
    page.screenshot(path=str(artifacts / "reactivation-zh.png"), full_page=True)
    page.goto(f"{live_server.url}/accounts/{world['fan'].pk}/")
    page.get_by_test_id("make-code").click()
    expect(page.get_by_test_id("referral-code")).to_have_text(re.compile(r"^[A-Z2-9]{8}$"))

    english = browser.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    en = english.new_page()
    en.set_default_timeout(60_000)
    en.set_viewport_size({"width": 1366, "height": 900})
    en.goto(f"{live_server.url}/")
    en.get_by_label("Username").fill("mei")
    en.get_by_label("Password").fill("pw-mei")
    en.get_by_role("button", name="Sign in").click()
    en.goto(f"{live_server.url}/winback/")
    expect(en.get_by_test_id("winback-open")).to_contain_text("Plan being carried out")
    en.wait_for_function("() => document.getElementById('cause-chart')?.dataset.points === '3'")
    en.screenshot(path=str(artifacts / "winback-en.png"), full_page=True)
    en.get_by_test_id("winback-open").get_by_role("link", name="华润万家").click()
    expect(en.get_by_test_id("step-plan")).to_contain_text("Renewal discount · discount 15%")  # the tasks stay as made
    en.screenshot(path=str(artifacts / "winback-plan-en.png"), full_page=True)
    en.goto(f"{live_server.url}/referrals/")
    en.screenshot(path=str(artifacts / "referrals-en.png"), full_page=True)
    en.goto(f"{live_server.url}/reactivation/")
    expect(en.get_by_test_id("reactivation-list")).to_contain_text("青岛啤酒")
    en.screenshot(path=str(artifacts / "reactivation-en.png"), full_page=True)
    english.close()
