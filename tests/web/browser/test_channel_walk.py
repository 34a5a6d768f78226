"""A manager sets up the channels in the workspace: adds a DingTalk robot and sends it a test
(received by a real HTTP server on 127.0.0.1), is refused a webhook to a private address beside
the field, writes an email template and previews it in both languages; then the pages in English.
Screenshots go to tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from clm.automation.models import EmailTemplate, Robot
from clm.customers.models import Account, Contact
from tests.conftest import make_user
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TOKEN = "b71c0ffee5a1d2e3f4a5"


@pytest.fixture
def boss(transactional_db):
    from clm.core.roles import sync_role_groups

    sync_role_groups()
    boss = make_user("boss", "Manager", first_name="强", last_name="王")
    account = Account.objects.create(name="美的集团", sales_owner=boss)
    Contact.objects.create(account=account, name="李娜", email="li.na@midea.example", is_key_person=True)
    return boss


def test_a_manager_sets_up_robots_webhooks_and_templates(page, live_server, boss, receiver, artifacts):
    sign_in(page, live_server.url, "boss")
    page.get_by_role("link", name="触达渠道").click()
    expect(page.get_by_test_id("robots")).to_contain_text("还没有机器人")

    page.get_by_test_id("new-robot").click()
    page.get_by_label("名称").fill("华南销售群")
    page.get_by_label("应用").select_option("dingtalk")
    page.get_by_label("Webhook 地址").fill(receiver.url(f"/robot/send?access_token={TOKEN}"))
    page.get_by_label("签名密钥").fill("SECwalksecret")
    page.get_by_test_id("save").click()
    expect(page.locator(".messages")).to_contain_text("机器人已保存")
    expect(page.get_by_test_id("address")).to_contain_text(TOKEN[-4:])
    assert TOKEN not in page.content() and "SECwalksecret" not in page.content()
    page.get_by_test_id("send-test").click()
    expect(page.locator(".messages")).to_contain_text("测试已发送（HTTP 200）")
    expect(page.get_by_test_id("recent")).to_contain_text("已发送")
    assert len(receiver.requests) == 1 and "sign=" in receiver.requests[0].path
    page.screenshot(path=str(artifacts / "channels-robot-zh.png"), full_page=True)
    page.get_by_test_id("toggle").click()
    expect(page.locator(".messages")).to_contain_text("已停用")
    assert Robot.objects.get().active is False

    page.get_by_role("link", name="触达渠道").first.click()
    page.get_by_test_id("new-webhook").click()
    page.get_by_label("名称").fill("内网 ERP")
    page.get_by_label("URL").fill("http://10.0.0.5/hook")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("error-url")).to_contain_text("10.0.0.5 是内网地址")
    expect(page.get_by_label("名称")).to_have_value("内网 ERP")  # the form comes back filled
    page.screenshot(path=str(artifacts / "channels-webhook-refused-zh.png"), full_page=True)

    page.get_by_role("link", name="触达渠道").first.click()
    page.get_by_test_id("new-template").click()
    page.get_by_label("标识").fill("renewal")
    page.get_by_label("名称").fill("续约提醒")
    page.get_by_label("主题（中文）").fill("{{ account.name }} 的合同即将到期")
    page.get_by_label("正文（中文，HTML）").fill("<p>{{ contact.name }}，您好！请查看续约方案。</p>")
    page.get_by_label("主题（英文）").fill("Your contract renews soon")
    page.get_by_label("正文（英文，HTML）").fill("<p>Dear {{ contact.name }</p>")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("error-en_html")).to_be_visible()
    assert not EmailTemplate.objects.exists()
    page.get_by_label("正文（英文，HTML）").fill("<p>Dear {{ contact.name }}, here is your renewal offer.</p>")
    page.get_by_test_id("save").click()
    expect(page.locator(".messages")).to_contain_text("邮件模板已保存")
    expect(page.get_by_test_id("preview-zh-hans")).to_contain_text("美的集团 的合同即将到期")
    expect(page.get_by_test_id("preview-en")).to_contain_text("Your contract renews soon")
    expect(page.get_by_test_id("preview-en").frame_locator("iframe").locator("p")).to_contain_text("Dear 李娜")
    page.screenshot(path=str(artifacts / "channels-template-zh.png"), full_page=True)

    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("preview")).to_contain_text("Rendered for 李娜 of 美的集团")
    page.get_by_role("link", name="Channels").first.click()
    expect(page.get_by_test_id("robots")).to_contain_text("华南销售群")
    expect(page.get_by_test_id("robots")).to_contain_text("Off")
    assert TOKEN not in page.content()
    page.screenshot(path=str(artifacts / "channels-en.png"), full_page=True)
    page.get_by_test_id("new-webhook").click()
    page.get_by_label("Name").fill("ERP")
    page.get_by_label("URL").fill(receiver.url("/hook"))
    page.get_by_label("Events").fill("Case Opened")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("error-events")).to_contain_text("must be a list of event names such as case.opened")
    page.get_by_label("Events").fill("case.opened")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("secret")).to_contain_text("whsec_")
    page.screenshot(path=str(artifacts / "channels-webhook-en.png"), full_page=True)
