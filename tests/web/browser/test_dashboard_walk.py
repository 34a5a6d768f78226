"""A manager's look at the company in a real browser: lands on the dashboard, sees every KPI with a
value or the reason it has none, filters by period and owner, clicks a number and lands on the
accounts behind it. In Chinese, then in English. Screenshots go to tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_user
from tests.reports.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def company(transactional_db):
    return build_company()


def build_company():
    """The small world of the KPI tests, a manager (boss) and two reps in two teams: (world, rep)."""
    from clm.core.models import Team
    from clm.core.roles import sync_role_groups

    sync_role_groups()  # a live-server test's flush emptied the groups
    east, west = Team.objects.create(name="East"), Team.objects.create(name="West")
    make_user("boss", "Manager", first_name="经理", last_name="王")
    rep = make_user("owner", "Sales", east, first_name="芳", last_name="李")
    return build_world(rep, make_user("outsider", "Sales", west, first_name="强", last_name="张")), rep


def test_a_manager_reads_the_dashboard_and_drills_down(page, live_server, company, artifacts):
    world, rep = company
    expect.set_options(timeout=60_000)
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/")
    page.get_by_label("用户名").fill("boss")
    page.get_by_label("密码").fill("pw-boss")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="管理看板 · 2026-11")).to_be_visible()

    page.get_by_test_id("period").fill("2026-11")
    page.get_by_test_id("apply").click()
    expect(page.get_by_test_id("value-nrr")).to_have_text("94.1%")
    expect(page.get_by_test_id("value-arr")).to_have_text("¥2.3万")
    expect(page.get_by_test_id("nodata-icp_match_share")).to_have_text("暂无数据")
    expect(page.locator("[data-kpi=icp_match_share]")).to_contain_text("尚未定义理想客户画像")
    expect(page.locator("#stage-chart canvas")).to_have_count(1)
    assert page.locator("#stage-chart").get_attribute("data-points") == "8"
    page.screenshot(path=str(artifacts / "dashboard-zh.png"), full_page=True)

    page.get_by_test_id("value-logo_churn").click()
    expect(page.get_by_role("heading", name="客户", exact=True)).to_be_visible()
    rows = page.locator("#account-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("C")
    expect(page.get_by_test_id("kpi-filter")).to_contain_text("客户流失率")
    page.screenshot(path=str(artifacts / "dashboard-drill-down-zh.png"), full_page=True)

    page.goto(f"{live_server.url}/dashboard/?period=2026-11")
    page.get_by_label("负责人").select_option(str(rep.pk))
    page.get_by_test_id("apply").click()
    expect(page.get_by_test_id("value-customers")).to_have_text("2")  # A and D
    page.get_by_test_id("value-customers").click()
    expect(page.locator("#account-table tbody tr")).to_have_count(2)

    page.goto(f"{live_server.url}/dashboard/?period=2026-11")
    with page.expect_navigation():
        page.get_by_test_id("language").select_option("en")
    expect(page.get_by_role("heading", name="Dashboard · 2026-11")).to_be_visible()
    expect(page.get_by_test_id("value-grr")).to_have_text("82.4%")
    expect(page.get_by_test_id("nodata-icp_match_share")).to_have_text("no data yet")
    page.screenshot(path=str(artifacts / "dashboard-en.png"), full_page=True)
