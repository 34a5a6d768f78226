"""The channels' API: email templates, webhooks and robots, with errors that name the field,
secrets that are shown once, test sends, and writes for administrators only."""

import json

import pytest

from clm.automation.models import Delivery, EmailTemplate, Robot, WebhookEndpoint
from clm.core import outbound
from tests.api.conftest import ApiClient, assert_error
from tests.receivers import Answer

pytestmark = pytest.mark.django_db

TEMPLATE = {
    "key": "renewal-reminder",
    "name": "续约提醒",
    "kind": "transactional",
    "variables": ["renewal_date"],
    "variants": [
        {
            "language": "zh-hans",
            "subject": "{{ account.name }} 续约提醒",
            "html": "<p>{{ renewal_date }} 到期</p>",
        },
        {
            "language": "en",
            "subject": "Renewal for {{ account.name }}",
            "html": "<p>Due {{ renewal_date }}</p>",
            "text": "Due {{ renewal_date }}",
        },
    ],
}


@pytest.fixture
def api_as(db):
    return ApiClient


@pytest.fixture
def api(admin_user, api_as):
    return api_as(admin_user, language="en")  # the refusals below are read in English


def test_an_admin_creates_reads_changes_and_deletes_an_email_template(api):
    created = api.post("/email-templates", TEMPLATE)
    assert created.status_code == 201, created.content
    body = created.json_body
    assert body["key"] == "renewal-reminder" and [v["language"] for v in body["variants"]] == [
        "en",
        "zh-hans",
    ]
    changed = api.patch(
        f"/email-templates/{body['id']}", {"name": "Renewal", "variants": TEMPLATE["variants"][:1]}
    )
    assert changed.status_code == 200 and changed.json_body["name"] == "Renewal"
    assert [v["language"] for v in changed.json_body["variants"]] == ["zh-hans"]
    assert api.get("/email-templates").json_body["count"] == 1
    assert api.delete(f"/email-templates/{body['id']}").status_code == 204
    assert EmailTemplate.objects.count() == 0


@pytest.mark.parametrize(
    "change, loc, words",
    [
        (
            {"variants": [{**TEMPLATE["variants"][0], "html": "{{ settings.SECRET_KEY }}"}]},
            "variants.0.html",
            "unknown variable settings",
        ),
        ({"variants": [{**TEMPLATE["variants"][0], "subject": "{% if %}"}]}, "variants.0.subject", "line 1"),
        (
            {"variants": [TEMPLATE["variants"][0], TEMPLATE["variants"][0]]},
            "variants.1.language",
            "given twice",
        ),
        ({"variants": []}, "variants", "at least one"),
        ({"variables": ["contact"]}, "variables", "given by CLM"),
    ],
)
def test_a_bad_template_is_refused_naming_the_field_and_nothing_is_saved(api, change, loc, words):
    response = api.post("/email-templates", {**TEMPLATE, **change})
    error = assert_error(response, 422, "invalid_data")
    assert any(d["loc"] == [loc] and words in d["message"] for d in error["details"]), error
    assert EmailTemplate.objects.count() == 0


def test_dropping_a_variable_the_variants_use_is_refused(api):
    template_id = api.post("/email-templates", TEMPLATE).json_body["id"]
    error = assert_error(api.patch(f"/email-templates/{template_id}", {"variables": []}), 422)
    assert (
        error["details"][0]["loc"][0].startswith("variants.")
        and "renewal_date" in error["details"][0]["message"]
    )
    assert EmailTemplate.objects.get().variables == ["renewal_date"]


def test_a_duplicate_key_is_refused_by_name(api):
    api.post("/email-templates", TEMPLATE)
    error = assert_error(api.post("/email-templates", TEMPLATE), 422)
    assert error["details"] == [
        {"loc": ["key"], "message": "another template has the key 'renewal-reminder'"}
    ]


def test_only_administrators_write_and_every_member_reads_templates(api, csm, viewer, api_as):
    template_id = api.post("/email-templates", TEMPLATE).json_body["id"]
    for user in (csm, viewer):
        client = api_as(user)
        assert client.get(f"/email-templates/{template_id}").status_code == 200
        assert_error(client.post("/email-templates", {**TEMPLATE, "key": "x"}), 403, "forbidden")
        assert_error(client.patch(f"/email-templates/{template_id}", {"name": "x"}), 403)
        assert_error(client.get("/webhooks"), 403)
        assert_error(client.get("/robots"), 403)
        assert_error(client.get("/deliveries"), 403)


def test_a_webhook_shows_its_secret_once_and_test_sends_signed(api, receiver, monkeypatch):
    monkeypatch.setattr(outbound, "BACKOFF", 0.01)
    created = api.post("/webhooks", {"name": "ERP", "url": receiver.url(), "events": ["case.opened"]})
    assert created.status_code == 201, created.content
    secret = created.json_body["secret"]
    assert secret.startswith("whsec_") and created.json_body["has_secret"] is True
    webhook_id = created.json_body["id"]
    assert "secret" not in api.get(f"/webhooks/{webhook_id}").json_body
    assert secret not in json.dumps(api.get("/webhooks").json_body)
    sent = api.post(f"/webhooks/{webhook_id}/test")
    assert (
        sent.status_code == 200
        and sent.json_body["status"] == "sent"
        and sent.json_body["response_code"] == 200
    )
    got = receiver.requests[0]
    assert json.loads(got.body)["event"] == "clm.test"
    assert outbound.verify(secret, got.body, got.headers["x-clm-signature"], got.headers["x-clm-timestamp"])
    rotated = api.post(f"/webhooks/{webhook_id}/rotate-secret").json_body["secret"]
    assert rotated != secret and WebhookEndpoint.objects.get().secret == rotated
    receiver.default = Answer(500, b"down")
    failed = api.post(f"/webhooks/{webhook_id}/test").json_body
    assert failed["status"] == "failed" and failed["attempts"] == 3 and "down" in failed["error"]
    log = api.get("/deliveries", channel="webhook").json_body
    assert log["count"] == 2 and {d["status"] for d in log["items"]} == {"sent", "failed"}


@pytest.mark.parametrize(
    "body, loc, words",
    [
        ({"name": "x", "url": "http://169.254.169.254/latest/"}, "url", "link-local"),
        ({"name": "x", "url": "http://10.0.0.8/hook"}, "url", "private"),
        ({"name": "x", "url": "ftp://example.com/"}, "url", "http"),
        ({"name": "x", "url": "https://example.com/h", "events": ["Not An Event"]}, "events", "event names"),
        (
            {"name": "x", "url": "https://example.com/h", "secret_env": "DATABASE_URL"},
            "secret_env",
            "CLM_WEBHOOK_SECRET_",
        ),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_field(api, settings, body, loc, words):
    settings.CLM_OUTBOUND_ALLOWED_HOSTS = frozenset()
    error = assert_error(api.post("/webhooks", body), 422)
    assert any(d["loc"] == [loc] and words in d["message"] for d in error["details"]), error
    assert WebhookEndpoint.objects.count() == 0


def test_a_robot_is_added_without_showing_its_secret_and_test_sends(api, receiver):
    receiver.default = Answer(200, b'{"errcode":0,"errmsg":"ok"}')
    created = api.post(
        "/robots",
        {
            "name": "CS 群",
            "kind": "dingtalk",
            "url": receiver.url("/robot/send?access_token=t"),
            "secret": "SECx",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json_body["has_secret"] is True and "secret" not in created.json_body
    robot_id = created.json_body["id"]
    sent = api.post(f"/robots/{robot_id}/test").json_body
    assert sent["status"] == "sent" and sent["robot_id"] == robot_id
    assert json.loads(receiver.requests[0].body)["msgtype"] == "markdown"
    error = assert_error(api.patch(f"/robots/{robot_id}", {"kind": "wecom"}), 422)
    assert error["details"][0]["loc"] == ["secret"]
    assert Robot.objects.get().kind == "dingtalk"
    assert api.patch(f"/robots/{robot_id}", {"kind": "wecom", "secret": ""}).json_body["has_secret"] is False
    assert api.delete(f"/robots/{robot_id}").status_code == 204


def test_a_robot_of_an_unknown_kind_is_refused(api):
    error = assert_error(
        api.post("/robots", {"name": "x", "kind": "telegram", "url": "https://example.com/"}),
        422,
        "invalid_request",
    )
    assert error["details"][0]["loc"][-1] == "kind"
    assert Delivery.objects.count() == 0
