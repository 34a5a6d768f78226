"""A new user's first walk through the workspace, in a real browser: sign in, find an account by
its Chinese name, open its 360 page (health, usage chart), add a note, filter the list by health
band, switch the language to English and back. Screenshots go to tests/artifacts/."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from clm.core import services
from clm.customers.models import Account
from tests.conftest import make_user
from tests.web.browser.conftest import sign_in
from tests.web.conftest import build_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def company(transactional_db):
    from clm.core.roles import sync_role_groups
    from clm.usage.models import Feature

    sync_role_groups()  # a transactional test starts from empty tables
    user = make_user("mei", "CSM", first_name="美", last_name="陈")
    Feature.objects.create(key="reports", is_core=True)
    huawei = services.create(Account, {
        "name": "华为技术有限公司", "industry": "电子", "region": "华南", "csm": user, "health_score": 52,
        "health_band": "red", "lifecycle_stage": "at_risk", "lifecycle_stage_since": dt.date(2026, 9, 1),
    })
    build_history(huawei, days=400, events=12)
    for i, (name, band, score) in enumerate([("长安汽车", "green", 86), ("小米科技", "yellow", 68), ("美的集团", "red", 41)]):
        services.create(Account, {"name": name, "csm": user, "health_band": band, "health_score": score,
                                  "lifecycle_stage": "mature" if band == "green" else "growth", "domain": f"c{i}.example"})
    return user


def test_a_new_user_walks_through_the_workspace(page, live_server, company, artifacts):
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 1366, "height": 900})

    # Sign in (the browser asks for Chinese: the workspace answers in Chinese).
    sign_in(page, live_server.url, "mei")
    expect(page.get_by_role("heading", name="我的工作")).to_be_visible()

    # Find the account by its Chinese name; htmx re-renders only the table.
    page.get_by_role("link", name="客户", exact=True).click()
    page.wait_for_load_state("load")  # htmx listens only once loaded: typing earlier filters nothing
    page.get_by_test_id("search").fill("华为")
    table = page.get_by_test_id("account-table")
    expect(table.get_by_role("link", name="华为技术有限公司")).to_be_visible()
    expect(table.get_by_role("link", name="长安汽车")).to_have_count(0)
    page.get_by_test_id("search").fill("hw")  # by pinyin initials, too
    expect(table.get_by_role("link", name="华为技术有限公司")).to_be_visible()
    table.get_by_role("link", name="华为技术有限公司").click()

    # The 360 page: health and a usage chart with data.
    expect(page.get_by_test_id("account-name")).to_have_text("华为技术有限公司")
    expect(page.get_by_test_id("health")).to_contain_text("52")
    chart = page.get_by_test_id("usage-chart")
    expect(chart.locator("canvas")).to_have_count(1)
    points = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('usage-chart')).getOption().series[0].data.length"
    )
    assert points == 52  # weeks, not days

    # Add a note inline: it is first on the timeline at once, without a page reload.
    page.evaluate("() => { window.__same_page = true; }")
    form = page.get_by_test_id("log-form")
    form.locator("textarea[name=summary]").fill("电话沟通：客户确认下季度续约")
    form.get_by_role("button", name="添加到时间线").click()
    first = page.get_by_test_id("timeline").locator("li.ev").first
    expect(first).to_contain_text("电话沟通：客户确认下季度续约")
    assert page.evaluate("() => window.__same_page") is True
    expect(form.locator("textarea[name=summary]")).to_have_value("")
    page.screenshot(path=str(artifacts / "account-360.png"), full_page=True)

    # Filter the list by health band.
    page.get_by_role("link", name="客户", exact=True).click()
    page.get_by_test_id("band-red").check()
    expect(page.get_by_test_id("result-count")).to_contain_text("2")
    expect(table.get_by_role("link", name="美的集团")).to_be_visible()
    expect(table.get_by_role("link", name="长安汽车")).to_have_count(0)
    assert "band=red" in page.url  # the filtered list has its own address
    page.screenshot(path=str(artifacts / "accounts-list.png"), full_page=True)

    # Switch the language to English and back.
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_role("link", name="My work")).to_be_visible()
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    page.get_by_test_id("language").select_option("zh-hans")
    expect(page.get_by_role("link", name="我的工作")).to_be_visible()


def test_the_timeline_loads_older_items_as_it_scrolls_on_a_tablet(page, live_server, company):
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("mei")
    page.get_by_label("密码").fill("pw-mei")
    page.keyboard.press("Enter")  # the form works from the keyboard
    expect(page.get_by_role("heading", name="我的工作")).to_be_visible()
    account = Account.objects.get(name="华为技术有限公司")
    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    items = page.get_by_test_id("timeline").locator("li.ev")
    expect(items).to_have_count(25)
    page.get_by_test_id("timeline").locator("li.more").scroll_into_view_if_needed()
    expect(items).to_have_count(50)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 820  # nothing overflows sideways on a tablet
