"""A sales manager makes a forecast call on a deal's page, reads the quarter's forecast with the
gap to the new ARR target, drills down to the deals behind the commit figure, and sends an
approved quote to the customer's contact; then reads the same pages in English, and opens the
customer's link to the printable quote. Screenshots go to tests/artifacts/."""

import datetime as dt
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clm.automation.models import Delivery
from clm.commerce.models import Product
from clm.core import services
from clm.core.models import Role
from clm.customers.models import Contact
from clm.reports.periods import Period
from clm.reports.services import set_target
from clm.sales import quotes
from clm.sales.models import Opportunity
from clm.sales.pipelines import install_built_in
from tests.factories import make_account
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def boss(transactional_db):
    from clm.core.roles import sync_role_groups
    from tests.conftest import make_user

    sync_role_groups()
    install_built_in()
    boss = make_user("boss", Role.MANAGER, first_name="志强", last_name="陈")
    rep = make_user("rep", "Sales", first_name="芳", last_name="李")
    plan = Product.objects.create(name="专业版（席位/月）", list_price=Decimal(260), is_recurring=True)
    account = make_account("华星精密", sales_owner=rep)
    Contact.objects.create(account=account, name="王磊", email="wang.lei@huaxing.example", email_consent=True)
    end = Period.of("quarter", timezone.localdate()).end
    big = services.create(Opportunity, {"account": account, "name": "年度订阅", "amount": Decimal(60000), "owner": rep,
                                        "expected_close": end})  # fmt: skip
    services.update(big, {"stage": "negotiation"})
    small = services.create(Opportunity, {"account": account, "name": "试点项目", "amount": Decimal(8000), "owner": boss,
                                          "expected_close": end, "forecast_category": "best_case"})  # fmt: skip
    services.update(small, {"stage": "proposal"})
    set_target(boss, "new_arr", Period.of("quarter", timezone.localdate()).label, 100000)
    quotes.create_quote(boss, big, [{"product": plan.pk, "quantity": 20, "discount": "0.1"}],
                        valid_until=timezone.localdate() + dt.timedelta(days=30))  # fmt: skip
    return boss


def test_forecast_calls_the_forecast_and_a_quote_sent_to_the_customer(page, live_server, boss, artifacts):
    deal = Opportunity.objects.get(name="年度订阅")
    sign_in(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    page.get_by_label("预测判断").select_option("commit")
    page.get_by_role("button", name="保存判断").click()
    expect(page.get_by_test_id("forecast-call")).to_contain_text("承诺")
    expect(page.get_by_test_id("forecast-history")).to_contain_text("管道 → 承诺")
    page.screenshot(path=str(artifacts / "deal-forecast-zh.png"), full_page=True)

    page.goto(f"{live_server.url}/pipeline/analytics/")
    page.get_by_test_id("forecast-link").click()
    expect(page.get_by_test_id("forecast-total")).to_contain_text("¥60,000")
    # the gap after commit: 100,000 − 60,000; after best case: − 8,000 more
    expect(page.get_by_test_id("forecast-gap")).to_contain_text("¥40,000")
    expect(page.get_by_test_id("forecast-gap")).to_contain_text("¥32,000")
    expect(page.get_by_test_id("forecast-owners")).to_contain_text("李芳")
    page.screenshot(path=str(artifacts / "forecast-zh.png"), full_page=True)
    page.get_by_test_id("total-commit").click()
    expect(page.get_by_test_id("forecast-deals")).to_contain_text("年度订阅")
    expect(page.get_by_test_id("forecast-deals")).not_to_contain_text("试点项目")
    page.screenshot(path=str(artifacts / "forecast-deals-zh.png"), full_page=True)

    quote = deal.quotes.get()
    page.goto(f"{live_server.url}/quotes/{quote.pk}/")
    page.get_by_label("发送给客户").select_option(label="王磊 · wang.lei@huaxing.example")
    page.get_by_test_id("email").click()
    expect(page.get_by_test_id("quote-status")).to_contain_text("已发送")
    expect(page.locator(".messages")).to_contain_text("时间线")
    page.screenshot(path=str(artifacts / "quote-emailed-zh.png"), full_page=True)

    page.get_by_test_id("language").select_option("en")
    page.wait_for_selector("html[lang=en]")
    expect(page.get_by_test_id("link")).to_contain_text("The customer's link opens the printable quote")
    page.screenshot(path=str(artifacts / "quote-emailed-en.png"), full_page=True)
    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    expect(page.get_by_test_id("forecast-history")).to_contain_text("Pipeline → Commit")
    page.screenshot(path=str(artifacts / "deal-forecast-en.png"), full_page=True)
    page.goto(f"{live_server.url}/pipeline/forecast/")
    expect(page.get_by_test_id("forecast-gap")).to_contain_text("Gap after commit")
    page.screenshot(path=str(artifacts / "forecast-en.png"), full_page=True)

    link = Delivery.objects.get().links[0]
    page.goto(live_server.url + urlparse(link).path)
    expect(page.get_by_test_id("quote-sheet")).to_contain_text(quote.number)
    page.screenshot(path=str(artifacts / "quote-public.png"), full_page=True)
