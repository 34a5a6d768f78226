"""A rep's and a manager's walk through the lead centre in a real browser: the list with its
scores, a lead's page with the reasons for its fit and engagement, a move refused without a reason
and then made with one, a conversion merged into the account that is the same company (华为 for
华为技术有限公司), the funnel and the ICP page. In Chinese, then in English; screenshots in
tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_account, make_user
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lead_world(transactional_db):
    from clm.core.models import Team
    from clm.core.roles import sync_role_groups
    from clm.customers.services import fill_search_keys
    from clm.sales import funnel, scoring
    from clm.sales.models import ICP, Lead

    sync_role_groups()  # a live-server test's flush emptied the groups
    east = Team.objects.create(name="East")
    make_user("boss", "Manager", first_name="经理", last_name="王")
    rep = make_user("owner", "Sales", east, first_name="芳", last_name="李")
    ICP.objects.create(key="makers", name="制造业中大型企业", product_line="MES", match_at=60, rules=[
        {"field": "industry", "op": "in", "value": ["制造业"], "weight": 3},
        {"field": "size_band", "op": "in", "value": ["200-999", "1000+"], "weight": 2},
        {"field": "region", "op": "in", "value": ["华东"], "weight": 1}])
    huawei = make_account("华为", sales_owner=rep)
    fill_search_keys()
    hot = Lead.objects.create(name="王磊", company="华为技术有限公司", email="wang@huawei.com", industry="制造业",
                              region="华东", employee_count=800, source_channel="官网/SEO", owner=rep)
    Lead.objects.create(name="赵敏", company="杭州小铺零售有限公司", email="zm@xiaopu.cn", industry="零售",
                        region="华东", employee_count=30, source_channel="展会", owner=rep)
    funnel.record_activity(None, hot, kind="email_click", name="newsletter")
    scoring.score_leads()
    return rep, hot, huawei


def test_a_rep_works_a_lead_from_the_list_to_conversion(page, live_server, lead_world, artifacts):
    rep, hot, huawei = lead_world
    sign_in(page, live_server.url, "owner")
    page.get_by_test_id("nav-leads").click()
    expect(page.get_by_role("heading", name="线索中心")).to_be_visible()
    expect(page.get_by_test_id("lead-count")).to_have_text("2 条线索")
    expect(page.locator("#lead-table tbody tr").first).to_contain_text("华为技术有限公司")  # the best fit first
    page.screenshot(path=str(artifacts / "leads-list-zh.png"), full_page=True)

    page.get_by_role("link", name="华为技术有限公司").click()
    expect(page.get_by_test_id("lead-stage")).to_contain_text("MAL")
    expect(page.get_by_test_id("fit-rules")).to_contain_text("✓ 行业 为 制造业 之一")
    expect(page.get_by_test_id("engagement")).to_contain_text("点击了邮件链接：5.0 分")
    expect(page.get_by_test_id("next-step")).to_contain_text("互动度 5 低于 15")
    page.get_by_test_id("move-to").select_option("sql")
    page.get_by_test_id("move-submit").click()
    expect(page.locator(".messages")).to_contain_text("请填写原因")
    expect(page.get_by_test_id("lead-stage")).to_contain_text("MAL")  # nothing moved
    page.get_by_test_id("move-to").select_option("sql")
    page.get_by_test_id("move-reason").fill("客户电话里要了报价")
    page.get_by_test_id("move-submit").click()
    expect(page.get_by_test_id("lead-stage")).to_contain_text("SQL")
    expect(page.get_by_test_id("lead-timeline")).to_contain_text("客户电话里要了报价")
    expect(page.get_by_test_id("convert")).to_contain_text("名称相同")
    page.screenshot(path=str(artifacts / "lead-page-zh.png"), full_page=True)

    page.get_by_test_id("convert-submit").click()
    expect(page.locator(".messages")).to_contain_text("已转化：华为")
    expect(page.get_by_test_id("lead-stage")).to_contain_text("商机")

    from clm.customers.models import Account

    assert Account.objects.count() == 1  # merged, no duplicate of 华为

    page.goto(f"{live_server.url}/leads/funnel/?by=source_channel")
    expect(page.get_by_test_id("funnel-table")).to_contain_text("商机")
    expect(page.locator("#funnel-chart canvas")).to_have_count(1)
    page.screenshot(path=str(artifacts / "lead-funnel-zh.png"), full_page=True)


def test_a_manager_reads_the_lead_centre_in_english(page, live_server, lead_world, artifacts):
    sign_in(page, live_server.url, "boss")
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_role("link", name="My work")).to_be_visible()  # the choice is saved: pages follow it
    page.goto(f"{live_server.url}/leads/")
    expect(page.get_by_role("heading", name="Lead centre")).to_be_visible()
    page.screenshot(path=str(artifacts / "leads-list-en.png"), full_page=True)
    page.get_by_role("link", name="华为技术有限公司").click()
    expect(page.get_by_test_id("fit-rules")).to_contain_text("✓ Industry is one of 制造业 (weight 3)")
    expect(page.get_by_test_id("next-step")).to_contain_text("Nurture towards MQL")
    page.screenshot(path=str(artifacts / "lead-page-en.png"), full_page=True)
    page.goto(f"{live_server.url}/leads/fit/")
    expect(page.get_by_test_id("fit-report")).to_contain_text("has not been trained yet")
    expect(page.get_by_test_id("icps")).to_contain_text("制造业中大型企业")
    page.screenshot(path=str(artifacts / "lead-fit-en.png"), full_page=True)
    page.goto(f"{live_server.url}/leads/funnel/")
    expect(page.get_by_test_id("funnel-table")).to_contain_text("Opportunity")
    page.screenshot(path=str(artifacts / "lead-funnel-en.png"), full_page=True)
