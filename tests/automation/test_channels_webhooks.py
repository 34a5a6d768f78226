"""Webhooks and IM robots against a real HTTP receiver on 127.0.0.1: signatures, idempotency,
refusals, retries, and each robot vendor's format, signing rule and way of answering an error."""

import json
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
from django.core.exceptions import ValidationError

from clm.automation.channels import call_webhook, notify_robot, robots, webhooks
from clm.automation.models import Delivery, Robot, WebhookEndpoint
from clm.core import outbound
from clm.core.models import AuditLog
from clm.customers.models import Account
from tests.receivers import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(outbound, "BACKOFF", 0.01)


@pytest.fixture
def endpoint(receiver, admin_user):
    endpoint, secret = webhooks.create_endpoint(
        admin_user, {"name": "ERP", "url": receiver.url(), "events": ["case.opened", "playbook.step"]}
    )
    endpoint.shown_secret = secret
    return endpoint


def hook(endpoint, key="k1", event="case.opened", payload=None):
    return call_webhook(
        endpoint=endpoint, event=event, payload=payload or {"account_id": 7, "case_id": 3}, key=key
    )


@pytest.fixture
def account_7(db):
    return Account.objects.create(pk=7, name="美的集团")


def test_a_new_endpoint_gets_a_secret_shown_once_and_never_audited(endpoint):
    assert endpoint.shown_secret.startswith("whsec_") and len(endpoint.shown_secret) > 40
    assert WebhookEndpoint.objects.get().secret == endpoint.shown_secret
    log = AuditLog.objects.get(model="automation.webhookendpoint")
    assert endpoint.shown_secret not in json.dumps(log.changes) and "secret" not in log.changes


def test_it_posts_signed_json_the_receiver_can_verify(receiver, endpoint, account_7):
    delivery = hook(endpoint)
    assert (
        delivery.status == Delivery.Status.SENT and delivery.response_code == 200 and delivery.attempts == 1
    )
    assert delivery.account_id == 7 and delivery.to == "127.0.0.1"
    got = receiver.requests[0]
    body = json.loads(got.body)
    assert (
        body["key"] == "k1"
        and body["event"] == "case.opened"
        and body["data"] == {"account_id": 7, "case_id": 3}
    )
    assert got.headers["x-clm-event"] == "case.opened" and got.headers["x-clm-delivery"] == "k1"
    assert outbound.verify(
        endpoint.shown_secret, got.body, got.headers["x-clm-signature"], got.headers["x-clm-timestamp"]
    )


def test_the_same_key_calls_once(receiver, endpoint):
    first, again = hook(endpoint), hook(endpoint)
    assert first.pk == again.pk and len(receiver.requests) == 1


def test_an_inactive_endpoint_or_an_event_it_does_not_take_is_refused(receiver, endpoint):
    assert hook(endpoint, key="a", event="task.created").reason == Delivery.Reason.NOT_SUBSCRIBED
    endpoint.active = False
    endpoint.save()
    refused = hook(endpoint, key="b")
    assert refused.status == Delivery.Status.REFUSED and refused.reason == Delivery.Reason.INACTIVE
    assert receiver.requests == []


def test_a_failing_receiver_is_retried_then_the_delivery_fails_with_its_answer(receiver, endpoint):
    receiver.default = Answer(503, b"maintenance")
    delivery = hook(endpoint)
    assert (
        delivery.status == Delivery.Status.FAILED and delivery.attempts == 3 and delivery.response_code == 503
    )
    assert "maintenance" in delivery.error and len(receiver.requests) == 3


def test_a_4xx_is_not_retried(receiver, endpoint):
    receiver.default = Answer(410, b"gone")
    delivery = hook(endpoint)
    assert (
        delivery.status == Delivery.Status.FAILED and delivery.attempts == 1 and delivery.response_code == 410
    )


def test_an_endpoint_at_a_refused_address_is_refused_when_saved_and_when_called(
    settings, admin_user, receiver
):
    settings.CLM_OUTBOUND_ALLOWED_HOSTS = frozenset()
    with pytest.raises(ValidationError) as caught:
        webhooks.create_endpoint(admin_user, {"name": "metadata", "url": "http://169.254.169.254/latest/"})
    assert "link-local" in caught.value.message_dict["url"][0]
    # saved while the host was allowed, called after an administrator took it off the list
    endpoint = WebhookEndpoint.objects.create(name="old", url=receiver.url(), secret="s")
    delivery = hook(endpoint)
    assert delivery.status == Delivery.Status.REFUSED and delivery.reason == Delivery.Reason.ADDRESS_REFUSED
    assert "loopback" in delivery.error and receiver.requests == []


def test_a_secret_can_come_from_the_environment(receiver, admin_user, monkeypatch):
    endpoint, shown = webhooks.create_endpoint(
        admin_user, {"name": "vault", "url": receiver.url(), "secret_env": "CLM_WEBHOOK_SECRET_VAULT"}
    )
    assert shown == "" and endpoint.secret == ""
    missing = hook(endpoint, key="before")
    assert missing.status == Delivery.Status.FAILED and "CLM_WEBHOOK_SECRET_VAULT is not set" in missing.error
    monkeypatch.setenv("CLM_WEBHOOK_SECRET_VAULT", "from-env")
    hook(endpoint, key="after")
    got = receiver.requests[0]
    assert outbound.verify(
        "from-env", got.body, got.headers["x-clm-signature"], got.headers["x-clm-timestamp"]
    )


def test_secret_env_must_be_a_clm_webhook_variable(receiver, admin_user):
    with pytest.raises(ValidationError) as caught:
        webhooks.create_endpoint(admin_user, {"name": "x", "url": receiver.url(), "secret_env": "SECRET_KEY"})
    assert "CLM_WEBHOOK_SECRET_" in caught.value.message_dict["secret_env"][0]


def test_rotating_the_secret_signs_with_the_new_one(receiver, endpoint, admin_user):
    new = webhooks.rotate_secret(admin_user, endpoint)
    assert new != endpoint.shown_secret
    hook(endpoint)
    got = receiver.requests[0]
    assert outbound.verify(new, got.body, got.headers["x-clm-signature"], got.headers["x-clm-timestamp"])


def test_a_payload_that_is_not_plain_data_fails_naming_it(receiver, endpoint, admin_user):
    delivery = hook(endpoint, payload={"who": admin_user})
    assert delivery.account_id is None  # the payload named no account that exists
    assert delivery.status == Delivery.Status.FAILED and "payload.who is a User" in delivery.error


# --- IM robots ---------------------------------------------------------------------------------


def test_dingtalk_sign_matches_the_worked_example():
    # DingTalk's algorithm (open.dingtalk.com/document/robots/customize-robot-security-settings):
    # urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret))); the value for
    # ("1700000000000", "secret") is the one the `dingding` crate tests against (signature.rs).
    assert (
        robots.dingtalk_sign("secret", 1700000000000)
        == "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
    )


def test_feishu_sign_matches_an_independent_computation():
    # Feishu (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot): the HMAC key is
    # timestamp + "\n" + secret and the message is empty. Computed with openssl:
    # printf '' | openssl dgst -sha256 -hmac "$(printf '1599360473\ntest-secret')" -binary | base64
    assert robots.feishu_sign("test-secret", 1599360473) == "wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY="


def make_robot(receiver, kind, secret=""):
    return Robot.objects.create(
        name=kind, kind=kind, url=receiver.url(f"/{kind}?access_token=t0k"), secret=secret
    )


def notify(robot, key="r1", link="/accounts/7"):
    return notify_robot(
        robot=robot,
        title="健康度转红：美的集团",
        text_markdown="**健康度** 58，[详情](https://x.example/a)",
        link=link,
        key=key,
    )


def test_dingtalk_gets_a_signed_markdown_message(receiver):
    receiver.default = Answer(200, b'{"errcode":0,"errmsg":"ok"}')
    delivery = notify(make_robot(receiver, "dingtalk", secret="SECabc"))
    assert delivery.status == Delivery.Status.SENT
    got = receiver.requests[0]
    query = parse_qs(urlsplit(got.path).query)
    assert query["access_token"] == ["t0k"]
    stamp = int(query["timestamp"][0])
    assert unquote_plus(robots.dingtalk_sign("SECabc", stamp)) == query["sign"][0]
    body = json.loads(got.body)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "健康度转红：美的集团"
    assert "**健康度** 58" in body["markdown"]["text"]
    assert "(https://clm.example.com/accounts/7)" in body["markdown"]["text"]  # the path made absolute


def test_wecom_gets_markdown_content(receiver):
    receiver.default = Answer(200, b'{"errcode":0,"errmsg":"ok"}')
    assert notify(make_robot(receiver, "wecom")).status == Delivery.Status.SENT
    body = json.loads(receiver.requests[0].body)
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
    assert body["markdown"]["content"].startswith("**健康度转红：美的集团**\n")


def test_feishu_gets_a_signed_card_with_a_button(receiver):
    receiver.default = Answer(200, b'{"code":0,"msg":"success","data":{}}')
    assert notify(make_robot(receiver, "feishu", secret="fs")).status == Delivery.Status.SENT
    body = json.loads(receiver.requests[0].body)
    assert body["sign"] == robots.feishu_sign("fs", int(body["timestamp"]))
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"] == "健康度转红：美的集团"
    button = body["card"]["elements"][1]["actions"][0]
    assert button["url"] == "https://clm.example.com/accounts/7"


def test_slack_gets_block_kit_with_mrkdwn_and_a_button(receiver):
    receiver.default = Answer(200, b"ok", {"Content-Type": "text/plain"})
    assert notify(make_robot(receiver, "slack")).status == Delivery.Status.SENT
    body = json.loads(receiver.requests[0].body)
    section = body["blocks"][1]
    assert section == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*健康度* 58，<https://x.example/a|详情>"},
    }
    assert body["blocks"][2]["elements"][0]["url"] == "https://clm.example.com/accounts/7"


@pytest.mark.parametrize(
    "kind, answer, expected",
    [
        (
            "dingtalk",
            Answer(200, b'{"errcode":310000,"errmsg":"sign not match"}'),
            "dingtalk error 310000: sign not match",
        ),
        ("wecom", Answer(200, b'{"errcode":93000,"errmsg":"invalid webhook url"}'), "wecom error 93000"),
        (
            "feishu",
            Answer(200, b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}'),
            "feishu error 19021",
        ),
        (
            "slack",
            Answer(400, b"invalid_payload", {"Content-Type": "text/plain"}),
            "HTTP 400: invalid_payload",
        ),
    ],
)
def test_a_robot_that_answers_with_an_error_code_fails_the_delivery(receiver, kind, answer, expected):
    receiver.default = answer
    delivery = notify(make_robot(receiver, kind))
    assert delivery.status == Delivery.Status.FAILED and expected in delivery.error
    assert delivery.response_code == answer.status and delivery.attempts == 1


def test_a_robot_notifies_once_per_key_and_not_when_switched_off(receiver):
    receiver.default = Answer(200, b'{"errcode":0}')
    robot = make_robot(receiver, "wecom")
    assert notify(robot).pk == notify(robot).pk and len(receiver.requests) == 1
    robot.active = False
    robot.save()
    assert notify(robot, key="off").reason == Delivery.Reason.INACTIVE and len(receiver.requests) == 1


def test_wecom_and_slack_robots_take_no_secret(db):
    robot = Robot(
        name="x", kind="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", secret="s"
    )
    with pytest.raises(ValidationError) as caught:
        robot.full_clean()
    assert "do not sign" in caught.value.message_dict["secret"][0]
