"""An administrator tests a robot whose receiver is down: the page says why in Chinese (the
receiver answered HTTP 500) with the sender's raw detail beneath, for administrators only; the
address stays masked. Screenshot in tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from clm.automation.models import Robot
from tests.conftest import make_user
from tests.receivers import Answer
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TOKEN = "c0ffee5a1d2e3f4a5b71"


def test_an_admin_reads_why_a_test_failed_and_the_raw_detail(page, live_server, receiver, artifacts, monkeypatch):
    from clm.core import outbound
    from clm.core.roles import sync_role_groups

    monkeypatch.setattr(outbound, "BACKOFF", 0.01)
    sync_role_groups()
    make_user("chief", "Admin")
    robot = Robot.objects.create(name="华南销售群", kind="dingtalk", url=receiver.url(f"/robot/send?access_token={TOKEN}"))
    receiver.default = Answer(500, b"upstream down")
    sign_in(page, live_server.url, "chief")
    page.goto(f"{live_server.url}/channels/robots/{robot.pk}/")
    page.get_by_test_id("send-test").click()
    expect(page.locator(".messages")).to_contain_text("接收方返回了错误（HTTP 500）")
    expect(page.get_by_test_id("why").first).to_contain_text("接收方返回了错误（HTTP 500）")
    expect(page.get_by_test_id("raw-error").first).to_contain_text("upstream down")
    expect(page.get_by_test_id("address")).to_contain_text(TOKEN[-4:])
    page.screenshot(path=str(artifacts / "channels-failed-test-zh.png"), full_page=True)
