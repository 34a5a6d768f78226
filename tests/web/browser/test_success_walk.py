"""Onboarding and success plans in a real browser: a CSM reads the lists, confirms a kick-off on the
account page, records a QBR and creates value-board links; the customer opens the board without
signing in, on a desktop and on a 375 px phone, in Chinese and in English, and printed; a revoked
and an unknown link give a clear page. Screenshots go to tests/artifacts/success-*.png."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clm.core import services
from clm.customers.models import Account, Contact
from clm.success import onboarding, plans
from tests.conftest import make_user
from tests.success.conftest import make_definition
from tests.web.browser.conftest import sign_in
from tests.web.conftest import build_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
INTERNAL = ["健康", "流失", "风险", "health", "churn", "risk", "备注", "事项"]


def ago(days):
    return timezone.localdate() - dt.timedelta(days=days)


@pytest.fixture
def programmes(transactional_db):
    import importlib

    from django.apps import apps

    from clm.core.roles import sync_role_groups
    from clm.usage.models import Feature

    importlib.import_module("clm.automation.migrations.0002_root_causes").seed(apps, None)
    sync_role_groups()
    mei = make_user("mei", "CSM", first_name="美", last_name="陈")
    Feature.objects.create(key="reports", name="数据看板", is_core=True)
    make_definition("Standard", [("首次使用核心功能", "core_feature", "", 1, 7, True),
                                 ("项目启动会", "manual", "", 1, 7), ("10 名用户同日活跃", "active_users", "", 10, 10)])
    huawei = services.create(Account, {"name": "华为技术有限公司", "industry": "电子", "csm": mei,
                                       "health_score": 52, "health_band": "red"})
    build_history(huawei, days=200, events=3)
    wang = Contact.objects.get(account=huawei, name="王芳")
    plan = plans.create_plan(None, huawei, title="2026 客户成长计划", starts_on=ago(100), ends_on=ago(-265))
    plans.add_objective(None, plan, goal="质检团队每天都在用系统", target=9, unit="人/天", metric="active_users")
    plans.add_objective(None, plan, goal="管理层每周看数据看板", target=200, unit="次", metric="feature",
                        feature="reports")
    plans.add_objective(None, plan, goal="质检漏检率从 3% 降至 0.5%", target=0.5, unit="%", baseline=3, current=1.2)
    done = plans.add_milestone(None, plan, title="质检模块上线", due_on=ago(70), owner_user=mei, owner_contact=wang)
    plans.complete_milestone(None, done, on=ago(72))
    plans.add_milestone(None, plan, title="数据看板接入周会", due_on=ago(12), owner_user=mei, owner_contact=wang)
    plans.add_milestone(None, plan, title="第二工厂推广", due_on=ago(-60), owner_user=mei)
    yunfan = services.create(Account, {"name": "云帆科技", "industry": "零售", "csm": mei})
    build_history(yunfan, days=12, events=1)
    onboarding.start_onboarding(None, yunfan, started_on=ago(12))
    onboarding.evaluate()
    return {"huawei": huawei, "yunfan": yunfan, "plan": plan}


def no_overflow(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_csm_runs_the_programmes_and_the_customer_reads_the_board(page, browser, live_server, programmes, artifacts):
    sign_in(page, live_server.url, "mei")
    page.goto(f"{live_server.url}/success/")
    rows = page.get_by_test_id("onboarding-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("云帆科技")
    expect(rows.first).to_contain_text("进行中")
    page.screenshot(path=str(artifacts / "success-onboardings-zh.png"), full_page=True)
    expect(page.get_by_test_id("activation-tiles")).to_contain_text("30 天激活率")
    page.get_by_test_id("definitions-link").click()
    expect(page.get_by_test_id("definition")).to_contain_text("项目启动会")
    page.screenshot(path=str(artifacts / "success-definitions-zh.png"), full_page=True)
    page.goto(f"{live_server.url}/success/")
    page.get_by_test_id("tab-plans").click()
    expect(page.get_by_test_id("plan-row")).to_contain_text("落后")  # a milestone 12 days late
    page.screenshot(path=str(artifacts / "success-plans-zh.png"), full_page=True)

    # the account page's panel: the checklist, one milestone late with its case; the kick-off by hand
    page.goto(f"{live_server.url}/accounts/{programmes['yunfan'].pk}/")
    panel = page.get_by_test_id("onboarding-panel")
    expect(panel).to_contain_text("首次使用核心功能")
    expect(panel).to_contain_text("逾期：已创建事项")
    panel.locator("li", has_text="项目启动会").get_by_text("标记完成").first.click()
    panel.locator("li", has_text="项目启动会").get_by_label("备注").fill("启动会已开")
    panel.locator("li", has_text="项目启动会").get_by_test_id("step-done").click()
    expect(page.get_by_text("里程碑已标记为完成。")).to_be_visible()
    expect(page.get_by_test_id("onboarding-panel")).to_contain_text("启动会已开")
    page.screenshot(path=str(artifacts / "success-account-panel-zh.png"), full_page=True)

    # the plan: a QBR whose next steps become tasks, then a link in each language
    page.goto(f"{live_server.url}/plans/{programmes['plan'].pk}/")
    expect(page.get_by_test_id("plan-why")).to_contain_text("逾期")
    page.get_by_text("记录季度业务复盘会").click()
    qbr = page.get_by_test_id("qbr-form")
    qbr.get_by_label("议程").fill("回顾漏检率；下季度目标")
    qbr.get_by_label("王芳").check()
    qbr.get_by_label("后续行动").fill("安排包装环节试点 | 2099-01-15\n发送复盘纪要")
    qbr.get_by_role("button", name="记录").click()
    expect(page.get_by_text("复盘会已记录；2 个后续行动已生成任务。")).to_be_visible()
    expect(page.get_by_test_id("qbr")).to_contain_text("安排包装环节试点")
    links = {}
    for language in ("zh-hans", "en"):
        form = page.get_by_test_id("link-form")
        form.get_by_label("客户的语言").select_option(language)
        form.get_by_test_id("create-link").click()
        links[language] = page.get_by_test_id("new-link").input_value()
    assert all(re.search(r"/board/[\w-]{40,}/$", url) for url in links.values())
    page.screenshot(path=str(artifacts / "success-plan-zh.png"), full_page=True)

    # the customer, not signed in
    customer = browser.new_context(locale="en-US")
    board = customer.new_page()
    for language, title in (("zh-hans", "华为技术有限公司 · 效果数据看板"), ("en", "华为技术有限公司 · value board")):
        for device, size in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 375, "height": 812})):
            board.set_viewport_size(size)
            board.goto(links[language].replace("http://testserver", live_server.url))
            expect(board.get_by_test_id("board-title")).to_have_text(title)
            expect(board.get_by_test_id("board-objective")).to_have_count(3)
            expect(board.get_by_test_id("board-chart").first).to_have_attribute("data-points", re.compile(r"^\d+$"))
            text = board.locator("body").inner_text()
            assert not [w for w in INTERNAL if w in text], text
            assert no_overflow(board), f"{language} {device} scrolls sideways"
            board.screenshot(path=str(artifacts / f"success-board-{language}-{device}.png"), full_page=True)
    board.emulate_media(media="print")
    board.set_viewport_size({"width": 1280, "height": 900})
    expect(board.get_by_role("button", name="Print")).to_be_hidden()
    board.screenshot(path=str(artifacts / "success-board-en-print.png"), full_page=True)
    board.emulate_media(media="screen")

    # revoked, then unknown
    page.get_by_test_id("link-row").filter(has_text="简体中文").get_by_test_id("revoke").click()
    expect(page.get_by_text("链接已撤销，无法再打开看板。")).to_be_visible()
    response = board.goto(links["zh-hans"].replace("http://testserver", live_server.url))
    assert response.status == 410
    expect(board.get_by_test_id("board-refused")).to_contain_text("链接已被收回")
    board.screenshot(path=str(artifacts / "success-board-revoked-zh.png"), full_page=True)
    response = board.goto(f"{live_server.url}/board/not-a-token/")
    assert response.status == 404
    expect(board.get_by_test_id("board-refused")).to_contain_text("The link is not known")
    customer.close()

    # the plan page in English
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("plan-status")).to_contain_text("Behind")
    page.screenshot(path=str(artifacts / "success-plan-en.png"), full_page=True)
    page.goto(f"{live_server.url}/success/")
    expect(page.get_by_test_id("activation-tiles")).to_contain_text("30-day activation rate")
    page.screenshot(path=str(artifacts / "success-onboardings-en.png"), full_page=True)
