"""Robots and webhooks never give their address back whole: the API and the pages show the host
and the last four characters (the access token lives in the path or the query), and the address
stays settable. Why a delivery failed is read in the reader's language; the sender's raw detail
(the receiver's answer, with the address in it) is for administrators only."""

import json

import pytest
from django.urls import reverse

from clm.automation.models import Delivery, Robot, WebhookEndpoint
from clm.core import outbound
from tests.api.conftest import ApiClient
from tests.factories import make_user
from tests.receivers import Answer

pytestmark = pytest.mark.django_db
TOKEN = "9c1d2e4b5a6978812f3a"


@pytest.fixture
def manager(db):
    return make_user("boss", "Manager")


@pytest.fixture
def robot(receiver):
    return Robot.objects.create(name="CS 群", kind="dingtalk", url=receiver.url(f"/robot/send?access_token={TOKEN}"))


def test_the_api_masks_a_robots_address_and_keeps_it_settable(admin_user, robot, receiver):
    api = ApiClient(admin_user)
    listed = api.get("/robots").json_body
    one = api.get(f"/robots/{robot.pk}").json_body
    host = f"http://127.0.0.1:{receiver.port}"
    for body in (listed[0], one):
        assert TOKEN not in json.dumps(body)
        assert body["url"] == f"{host}/…{TOKEN[-4:]}"
    changed = api.patch(f"/robots/{robot.pk}", {"url": receiver.url("/robot/send?access_token=NEWTOKEN0042")})
    assert changed.status_code == 200 and changed.json_body["url"].endswith("/…0042")
    assert Robot.objects.get().url.endswith("access_token=NEWTOKEN0042")


def test_the_api_masks_a_webhooks_address(admin_user, receiver):
    api = ApiClient(admin_user)
    created = api.post("/webhooks", {"name": "ERP", "url": receiver.url(f"/hooks/{TOKEN}"), "events": []})
    assert created.status_code == 201, created.json_body
    assert TOKEN not in created.json_body["url"] and created.json_body["url"].endswith(TOKEN[-4:])
    listed = api.get("/webhooks").json_body
    assert TOKEN not in json.dumps(listed)
    assert WebhookEndpoint.objects.get().url.endswith(TOKEN)


def failed_test_delivery(robot, receiver, monkeypatch) -> Delivery:
    monkeypatch.setattr(outbound, "BACKOFF", 0.01)
    receiver.default = Answer(500, f"token {TOKEN} rejected".encode())
    from clm.automation.channels import robots

    return robots.send_test(robot)


def test_a_failed_delivery_reads_in_the_readers_language_and_only_admins_see_the_raw_detail(
    admin_user, manager, robot, receiver, monkeypatch
):
    delivery = failed_test_delivery(robot, receiver, monkeypatch)
    assert delivery.status == Delivery.Status.FAILED
    admin = ApiClient(admin_user).get("/deliveries").json_body["items"][0]
    assert admin["failure"] == "the receiver answered with an error (HTTP 500)"
    assert "500" in admin["error"] and TOKEN in admin["error"]  # the receiver's own answer, for an admin
    boss = ApiClient(manager).get("/deliveries").json_body["items"][0]
    assert boss["error"] == "" and TOKEN not in json.dumps(boss)
    chinese = ApiClient(manager, language="zh-Hans").get("/deliveries").json_body["items"][0]
    assert chinese["failure"] == "接收方返回了错误（HTTP 500）"


@pytest.mark.parametrize(
    "fields, english",
    [
        ({"status": "failed", "error": "no answer from https://x.example/h after 3 attempts: timed out"}, "the receiver could not be reached"),
        ({"status": "failed", "error": "x.example cannot be resolved ([Errno -2] Name or service not known)"}, "the receiver could not be reached"),
        ({"status": "failed", "error": "the environment variable CLM_WEBHOOK_SECRET_ERP is not set"}, "the signing secret's environment variable is not set"),
        ({"status": "failed", "error": "after 3 attempts: SMTPServerDisconnected"}, "the mail server did not take the message"),
        ({"status": "failed", "error": "dingtalk error 310000: keywords not in content", "response_code": 200}, "the receiver refused the message in its answer"),
        ({"status": "refused", "error": "robot 'x' is switched off", "reason": "inactive"}, "channel switched off"),
        ({"status": "failed", "error": "ValueError: something new"}, "sending failed"),
        ({"status": "sent", "error": "", "response_code": 200}, ""),
    ],
)
def test_every_failure_has_a_translated_reason(fields, english):
    from django.utils import translation

    from clm.automation.channels.deliveries import failure_text

    delivery = Delivery(channel="webhook", key="k", **fields)
    with translation.override("en"):
        assert failure_text(delivery) == english
    with translation.override("zh-hans"):
        chinese = failure_text(delivery)
    assert (chinese == "") == (english == "")
    assert chinese == "" or any("\u4e00" <= ch <= "\u9fff" for ch in chinese), chinese


def test_the_channel_page_shows_the_translated_reason_and_the_raw_detail_only_to_admins(
    client, admin_user, manager, robot, receiver, monkeypatch
):
    failed_test_delivery(robot, receiver, monkeypatch)
    client.force_login(manager)
    page = client.get(reverse("web:channel_robot", args=[robot.pk]), headers={"Accept-Language": "zh-Hans"}).content.decode()
    assert "接收方返回了错误（HTTP 500）" in page
    assert TOKEN not in page and 'data-testid="raw-error"' not in page
    client.force_login(admin_user)
    page = client.get(reverse("web:channel_robot", args=[robot.pk]), headers={"Accept-Language": "en"}).content.decode()
    assert "the receiver answered with an error (HTTP 500)" in page
    assert 'data-testid="raw-error"' in page
