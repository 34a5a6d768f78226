"""The channel pages: a manager registers, edits, switches off and tests robots and webhooks and
writes email templates previewed in both languages; everyone else sees them, secrets masked;
refusals come back beside the field in the user's language, and nothing is saved."""

import pytest
from django.urls import reverse

from clm.automation.models import Delivery, EmailTemplate, Robot, WebhookEndpoint
from clm.customers.models import Account, Contact
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
TOKEN = "a3f9c1d2e4b5a6978812"


@pytest.fixture
def robot(receiver):
    return Robot.objects.create(
        name="华南销售群", kind="dingtalk", url=receiver.url(f"/robot/send?access_token={TOKEN}"), secret="SECsecret"
    )


@pytest.fixture
def welcome(db):
    from clm.automation.channels import library

    admin = make_user("admin2", "Admin")
    return library.save_template(admin, {
        "key": "welcome", "name": "欢迎邮件", "variables": ["report_url"],
        "variants": [
            {"language": "zh-hans", "subject": "欢迎 {{ contact.name }}", "html": "<p>{{ account.name }}：{{ report_url }}</p>"},
            {"language": "en", "subject": "Welcome {{ contact.name }}", "html": "<p>Hello from {{ company.name }}</p>"},
        ],
    })


def test_a_manager_adds_a_robot_and_its_token_and_secret_are_never_shown(as_manager, receiver):
    response = as_manager.post(reverse("web:channel_robot_new"), {
        "name": "华东客户成功群", "kind": "dingtalk", "url": receiver.url(f"/robot/send?access_token={TOKEN}"),
        "secret": "SECtopsecret", "active": "on",
    })
    robot = Robot.objects.get()
    assert response.status_code == 302 and response.url == reverse("web:channel_robot", args=[robot.pk])
    assert robot.secret == "SECtopsecret" and robot.url.endswith(TOKEN)
    for url in (reverse("web:channels"), reverse("web:channel_robot", args=[robot.pk])):
        html = as_manager.get(url).content.decode()
        assert "华东客户成功群" in html
        assert TOKEN not in html and "SECtopsecret" not in html
        assert TOKEN[-4:] in html  # the masked address ends like the real one


def test_leaving_the_address_and_secret_empty_keeps_them(as_manager, robot):
    response = as_manager.post(reverse("web:channel_robot", args=[robot.pk]), {
        "name": "华南销售群（新）", "kind": "dingtalk", "url": "", "secret": "", "active": "on",
    })
    assert response.status_code == 302
    robot.refresh_from_db()
    assert robot.name == "华南销售群（新）" and robot.url.endswith(TOKEN) and robot.secret == "SECsecret"


def test_a_robot_test_is_sent_and_switching_it_off_stops_the_next(as_manager, robot, receiver):
    as_manager.post(reverse("web:channel_test", args=["robots", robot.pk]))
    assert len(receiver.requests) == 1 and "access_token=" in receiver.requests[0].path
    assert Delivery.objects.get().status == Delivery.Status.SENT
    as_manager.post(reverse("web:channel_active", args=["robots", robot.pk]), {"active": "0"})
    robot.refresh_from_db()
    assert robot.active is False
    response = as_manager.post(reverse("web:channel_test", args=["robots", robot.pk]), follow=True)
    assert len(receiver.requests) == 1  # nothing went out
    assert "测试消息没有发送" in response.content.decode()
    assert Delivery.objects.filter(status=Delivery.Status.REFUSED).count() == 1


def test_a_webhook_shows_its_secret_once(as_manager, receiver):
    response = as_manager.post(reverse("web:channel_webhook_new"), {
        "name": "ERP", "url": receiver.url("/hook"), "events": "case.opened, task.created", "active": "on",
    }, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert response.redirect_chain == [(reverse("web:channel_webhook", args=[endpoint.pk]), 302)]
    assert endpoint.events == ["case.opened", "task.created"]
    assert endpoint.secret and endpoint.secret in response.content.decode()
    again = as_manager.get(reverse("web:channel_webhook", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in again
    rotated = as_manager.post(reverse("web:channel_webhook_rotate", args=[endpoint.pk]), follow=True).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated
    as_manager.post(reverse("web:channel_test", args=["webhooks", endpoint.pk]))
    assert receiver.requests[-1].headers["x-clm-event"] == "clm.test"


def test_a_private_address_is_refused_beside_the_field_in_chinese(as_manager):
    response = as_manager.post(reverse("web:channel_webhook_new"), {
        "name": "内网", "url": "http://10.0.0.5/hook", "events": "", "active": "on",
    })
    assert response.status_code == 422
    form = response.context["form"]
    assert form["url"].errors == ["10.0.0.5 是内网地址；管理员可以在 CLM_OUTBOUND_ALLOWED_HOSTS 中允许这个主机"]
    assert form.data["name"] == "内网"  # the form comes back filled
    assert not WebhookEndpoint.objects.exists()


def test_bad_webhook_fields_are_named_in_english_for_an_english_user(client, manager, receiver):
    manager.language = "en"
    manager.save()
    client.force_login(manager)
    response = client.post(reverse("web:channel_webhook_new"), {"name": "ERP", "url": receiver.url(), "events": "Case Opened"})
    assert response.status_code == 422
    assert response.context["form"].errors["events"] == ["must be a list of event names such as case.opened"]
    assert 'data-testid="error-events"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_template_is_written_in_two_languages_and_previewed_for_a_contact(as_manager, manager):
    account = Account.objects.create(name="美的集团", sales_owner=manager)
    contact = Contact.objects.create(account=account, name="李娜", email="li.na@midea.example")
    response = as_manager.post(reverse("web:channel_template_new"), {
        "key": "renewal", "name": "续约提醒", "kind": "transactional", "variables": "days",
        "zh_subject": "{{ account.name }} 的合同 {{ days }} 天后到期", "zh_html": "<p>{{ contact.name }}，您好</p>",
        "en_subject": "Your contract renews in {{ days }} days", "en_html": "<p>Dear {{ contact.name }}</p>",
    })
    template = EmailTemplate.objects.get()
    assert response.status_code == 302
    assert sorted(v.language for v in template.variants.all()) == ["en", "zh-hans"]
    page = as_manager.get(reverse("web:channel_template", args=[template.pk]))
    previews = {p["language"]: p for p in page.context["previews"]}
    assert page.context["contact"] == contact
    assert previews["zh-hans"]["subject"] == "美的集团 的合同 [days] 天后到期"
    assert previews["en"]["html"] == "<p>Dear 李娜</p>"


def test_a_template_error_is_named_beside_its_language_and_nothing_is_saved(as_manager):
    response = as_manager.post(reverse("web:channel_template_new"), {
        "key": "broken", "name": "坏模板", "kind": "marketing",
        "zh_subject": "你好", "zh_html": "<p>{{ contact.name }</p>", "en_subject": "Hi", "en_html": "",
    })
    assert response.status_code == 422
    form = response.context["form"]
    assert form["en_html"].errors  # a subject without a body
    assert not EmailTemplate.objects.exists()
    response = as_manager.post(reverse("web:channel_template_new"), {
        "key": "broken", "name": "坏模板", "kind": "marketing", "zh_subject": "你好", "zh_html": "<p>{{ contact.nam }}</p>",
    })
    assert response.status_code == 422
    assert "contact.nam" in " ".join(response.context["form"]["zh_html"].errors)
    assert not EmailTemplate.objects.exists()


def test_everyone_else_sees_the_channels_but_cannot_change_them(client, owner, viewer, robot, welcome):
    for user in (owner, viewer):
        client.force_login(user)
        listing = client.get(reverse("web:channels")).content.decode()
        assert "华南销售群" in listing and "欢迎邮件" in listing and TOKEN not in listing
        assert 'data-testid="new-robot"' not in listing
        page = client.get(reverse("web:channel_robot", args=[robot.pk]))
        assert page.status_code == 200 and page.context["form"] is not None and not page.context["can_edit"]
        assert 'data-testid="robot-form"' not in page.content.decode()
        assert client.post(reverse("web:channel_test", args=["robots", robot.pk])).status_code == 403
        assert client.post(reverse("web:channel_robot", args=[robot.pk]), {"name": "x", "kind": "wecom"}).status_code == 403
        assert client.post(reverse("web:channel_template_delete", args=[welcome.pk])).status_code == 403
    robot.refresh_from_db()
    assert robot.name == "华南销售群" and EmailTemplate.objects.filter(pk=welcome.pk).exists()
    assert not Delivery.objects.exists()


def test_a_manager_may_configure_channels_through_the_api_too(api_as, manager):
    api = api_as(manager)
    created = api.post("/robots", {"name": "群", "kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"})
    assert created.status_code == 201, created.content


def visible_text(html: str) -> str:
    """The words a reader sees: no tags, no <code> (keys and addresses shown as code), no scripts."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self.hidden = [], 0

        def handle_starttag(self, tag, attrs):
            self.hidden += tag in ("code", "script", "style", "textarea")

        def handle_endtag(self, tag):
            self.hidden -= tag in ("code", "script", "style", "textarea")

        def handle_data(self, data):
            if not self.hidden:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_the_chinese_pages_show_no_key_and_no_english_sentence(as_manager, robot, welcome, manager):
    import re

    from tests.core.test_catalog import PO, entries

    english = [msgid for _, msgid, _ in entries(PO.read_text("utf-8")) if len(msgid.split()) >= 3 and "%" not in msgid]
    account = Account.objects.create(name="美的集团", sales_owner=manager)
    Contact.objects.create(account=account, name="李娜", email="li.na@midea.example")
    endpoint = WebhookEndpoint.objects.create(name="ERP", url="https://erp.example.com/hooks/clm", secret="whsec_x")
    pages = [
        reverse("web:channels"), reverse("web:channel_robot", args=[robot.pk]),
        reverse("web:channel_webhook", args=[endpoint.pk]), reverse("web:channel_template", args=[welcome.pk]),
        reverse("web:channel_template_new"), reverse("web:channel_robot_new"), reverse("web:channel_webhook_new"),
    ]
    for url in pages:
        text = visible_text(as_manager.get(url).content.decode())
        assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text), (url, text)
        assert [s for s in english if s in text] == [], url
