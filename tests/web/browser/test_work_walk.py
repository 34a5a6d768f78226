"""A CSM's morning in a real browser: My work lists the overdue task, it is snoozed, reassigned and
completed inline (htmx, no reload); a task is added on the account page; a case is opened there,
gets a task and is closed with its root cause. In Chinese, then the home page in English.
Screenshots go to tests/artifacts/."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clm.automation import work
from clm.core import services
from clm.customers.models import Account
from tests.conftest import make_user
from tests.web.conftest import build_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def morning(transactional_db):
    import importlib

    from django.apps import apps

    from clm.core.roles import sync_role_groups

    # the root causes the data migration seeds: a live-server test's flush emptied the table
    importlib.import_module("clm.automation.migrations.0002_root_causes").seed(apps, None)
    sync_role_groups()
    mei = make_user("mei", "CSM", first_name="美", last_name="陈")
    make_user("lei", "CSM", first_name="雷", last_name="李")
    huawei = services.create(Account, {"name": "华为技术有限公司", "csm": mei, "health_score": 52, "health_band": "red"})
    build_history(huawei, days=30, events=3)
    work.create_task(None, title="回访王芳：续约意向", account=huawei, due_at=timezone.now() - dt.timedelta(days=1))
    work.create_task(None, title="发送季度报告", account=huawei, due_at=timezone.now() + dt.timedelta(days=3))
    return huawei


def test_a_csm_works_through_the_morning(page, live_server, morning, artifacts):
    expect.set_options(timeout=60_000)  # a loaded CI machine answers slowly
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/")
    page.get_by_label("用户名").fill("mei")
    page.get_by_label("密码").fill("pw-mei")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的工作")).to_be_visible()

    overdue = page.get_by_test_id("tasks-overdue")
    expect(overdue).to_contain_text("回访王芳：续约意向")
    expect(page.get_by_test_id("at-stake")).to_contain_text("ARR ¥24,000")
    page.screenshot(path=str(artifacts / "my-work-zh.png"), full_page=True)

    page.evaluate("() => { window.__same_page = true; }")
    row = overdue.get_by_test_id("task").first
    row.get_by_test_id("snooze-choice").select_option("1d")
    with page.expect_response(lambda r: "/snooze/" in r.url):
        row.get_by_test_id("snooze").click()
    expect(page.get_by_test_id("snoozed").first).to_be_visible()
    row = page.locator("li.task", has_text="回访王芳")
    row.get_by_test_id("reassign-choice").select_option(label="李雷")
    with page.expect_response(lambda r: "/reassign/" in r.url):
        row.get_by_test_id("reassign").click()
    # htmx has swapped the row in and taken over its forms (a loaded machine is slow to)
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    row = page.locator("li.task", has_text="回访王芳")
    row.get_by_test_id("complete").click()
    expect(page.locator("li.task.done", has_text="回访王芳")).to_be_visible()
    assert page.evaluate("() => window.__same_page") is True

    # On the account page: a new task, then a case with a task, closed with its root cause.
    page.goto(f"{live_server.url}/accounts/{morning.pk}/")
    panel = page.get_by_test_id("account-work")
    panel.get_by_text("新建任务").click()
    panel.get_by_test_id("task-title").fill("安排 QBR")
    panel.get_by_role("button", name="添加任务").click()
    expect(page.get_by_test_id("account-tasks")).to_contain_text("安排 QBR")
    page.get_by_test_id("account-work").get_by_text("新建事项").click()
    page.get_by_label("原因").fill("使用量下降一半")
    page.get_by_role("button", name="创建事项").click()
    expect(page.get_by_test_id("case-reason")).to_contain_text("使用量下降一半")
    tasks = page.get_by_test_id("case-tasks")
    tasks.get_by_text("新建任务").click()
    tasks.get_by_test_id("task-title").fill("和决策人通电话")
    tasks.get_by_role("button", name="添加任务").click()
    expect(tasks).to_contain_text("和决策人通电话")
    closing = page.get_by_test_id("case-close")
    closing.get_by_label("已关闭（失败）").check()
    closing.get_by_label("根本原因").select_option(label="竞争对手")
    page.screenshot(path=str(artifacts / "case-zh.png"), full_page=True)
    closing.get_by_test_id("close-case").click()
    expect(page.get_by_test_id("case-status")).to_contain_text("已关闭（失败）")
    expect(page.get_by_test_id("case-root-cause")).to_have_text("竞争对手")
    expect(page.get_by_test_id("case-history")).to_contain_text("和决策人通电话")
    page.screenshot(path=str(artifacts / "case-closed-zh.png"), full_page=True)

    # The same home page in English.
    page.goto(f"{live_server.url}/")
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    expect(page.get_by_test_id("my-tasks")).to_contain_text("Upcoming")
    expect(page.get_by_test_id("at-stake")).to_contain_text("no churn risk estimate yet")
    page.screenshot(path=str(artifacts / "my-work-en.png"), full_page=True)
