"""A manager opens a playbook made from a template, adds a wait step, moves it up, and sees the
refused save of a wait with no end beside the step, form kept; then the page in English.
Screenshots go to tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from clm.automation.models import Playbook
from clm.automation.playbooks import services
from tests.conftest import make_user
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def winback(transactional_db):
    from clm.core.roles import sync_role_groups

    sync_role_groups()
    make_user("boss", "Manager", first_name="强", last_name="王")
    return services.enable_template("health-red-winback")


def steps(playbook):
    return [s["type"] for s in Playbook.objects.get(pk=playbook.pk).current.definition["steps"]]


def test_a_manager_edits_a_playbook_in_place(page, live_server, winback, artifacts):
    sign_in(page, live_server.url, "boss")
    page.get_by_role("link", name="剧本").first.click()
    expect(page.get_by_test_id("playbooks")).to_contain_text("健康度红色挽回")
    page.screenshot(path=str(artifacts / "playbooks-zh.png"), full_page=True)
    page.get_by_role("link", name="健康度红色挽回").click()
    flow = page.get_by_test_id("flow")
    expect(flow.get_by_test_id("flow-trigger")).to_contain_text("每天检查：健康度 < 60 的客户")

    page.evaluate("() => { window.__same_page = true; }")
    page.get_by_test_id("add-type").select_option("wait")
    expect(page.get_by_label("天数")).to_be_visible()
    page.get_by_label("天数").fill("3")
    with page.expect_response(lambda r: "/steps/add/" in r.url):
        page.get_by_test_id("add-save").click()
    expect(page.get_by_test_id("step").nth(2)).to_contain_text("等待 3 天")
    assert steps(winback) == ["open_case", "create_task", "wait"]

    with page.expect_response(lambda r: "/steps/up/" in r.url):
        page.get_by_test_id("step").nth(2).get_by_test_id("step-up").click()
    expect(page.get_by_test_id("step").nth(1)).to_contain_text("等待 3 天")
    assert steps(winback) == ["open_case", "wait", "create_task"]
    assert page.evaluate("() => window.__same_page") is True  # htmx swapped the flow, no reload

    wait = page.get_by_test_id("step").nth(1)
    wait.get_by_test_id("step-edit").click()
    wait.get_by_label("天数").fill("")
    with page.expect_response(lambda r: "/steps/edit/" in r.url):
        wait.get_by_test_id("step-save").click()
    refused = page.get_by_test_id("step").nth(1)
    expect(refused.get_by_test_id("step-error")).to_contain_text("等待需要一个结束")
    expect(refused.get_by_label("天数")).to_be_visible()  # the form stays open
    assert steps(winback) == ["open_case", "wait", "create_task"]
    refused.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "playbook-refused-zh.png"), full_page=True)

    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("flow-trigger")).to_contain_text("Every day, accounts where health score < 60")
    expect(page.get_by_test_id("step").nth(1)).to_contain_text("Wait 3 days")
    page.get_by_test_id("add-type").select_option("wait")
    with page.expect_response(lambda r: "/steps/add/" in r.url):
        page.get_by_test_id("add-save").click()
    expect(page.get_by_test_id("add-error")).to_contain_text("a wait needs an end")
    page.screenshot(path=str(artifacts / "playbook-refused-en.png"), full_page=True)
