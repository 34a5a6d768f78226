"""The API answers in English unless the request asks for another language (Accept-Language) or
its user chose one in Preferences; its published schema is English whoever fetches it."""

import json
import re

import pytest
from django.test import Client

CJK = re.compile(r"[\u3400-\u9fff]")


def unknown_attribute_error(client):
    """An account with an unknown custom attribute: a refusal in the active language."""
    response = client.post("/accounts", {"name": "Acme", "custom": {"nope": 1}})
    assert response.status_code == 422, response.json_body
    return response, " ".join(d["message"] for d in response.json_body["error"]["details"])


@pytest.mark.django_db
def test_without_accept_language_errors_are_in_english(api_as, admin_user):
    response, message = unknown_attribute_error(api_as(admin_user))
    assert message and not CJK.search(message), message
    assert response["Content-Language"] == "en"


@pytest.mark.django_db
def test_accept_language_chinese_answers_in_chinese(api_as, admin_user):
    response, message = unknown_attribute_error(api_as(admin_user, language="zh-Hans"))
    assert CJK.search(message), message
    assert response["Content-Language"] == "zh-hans"


@pytest.mark.django_db
def test_the_language_the_tokens_user_chose_wins_over_the_default_and_the_header(api_as, admin_user):
    admin_user.language = "zh-hans"
    admin_user.save()
    for language in (None, "en"):
        response, message = unknown_attribute_error(api_as(admin_user, language=language))
        assert CJK.search(message), (language, message)
        assert response["Content-Language"] == "zh-hans"


@pytest.mark.django_db
def test_an_unauthenticated_request_is_answered_in_english_by_default(db):
    response = Client().get("/api/v1/accounts")
    assert response.status_code == 401
    assert response["Content-Language"] == "en"
    assert not CJK.search(response.content.decode())


@pytest.mark.django_db
def test_the_schema_is_english_and_the_same_whoever_fetches_it(db):
    client = Client()
    english = client.get("/api/v1/openapi.json", headers={"Accept-Language": "en"}).content.decode()
    chinese = client.get("/api/v1/openapi.json", headers={"Accept-Language": "zh-Hans"}).content.decode()
    assert english == chinese
    schema = json.loads(chinese)
    found = sorted({m.group(0) for m in CJK.finditer(json.dumps(schema, ensure_ascii=False))})
    assert not found, found[:20]


@pytest.mark.django_db
def test_the_apis_own_messages_are_translated(api_as, admin_user):
    english = api_as(admin_user).post("/accounts", {"name": "Acme", "custom": {"nope": 1}})
    chinese = api_as(admin_user, language="zh-Hans").post("/accounts", {"name": "Acme", "custom": {"nope": 1}})
    assert english.json_body["error"]["message"] == "The data is not valid; see details."
    assert CJK.search(chinese.json_body["error"]["message"])
    unknown = api_as(admin_user, language="zh-Hans").get("/no-such-thing")
    assert unknown.status_code == 404 and CJK.search(unknown.json_body["error"]["message"])
    assert "/api/v1/no-such-thing" in unknown.json_body["error"]["message"]


@pytest.mark.django_db
def test_the_crud_refusals_are_in_the_callers_language(api_as, admin_user):
    """The generic CRUD's own messages (an unknown reference, a missing permission) follow the
    request's language like every other message."""
    from clm.core.models import User

    payload = {"name": "王伟", "account": 999_999}
    english = api_as(admin_user).post("/contacts", payload).json_body["error"]["details"]
    chinese = api_as(admin_user, language="zh-Hans").post("/contacts", payload).json_body["error"]["details"]
    assert {"loc": ["account"], "message": "unknown account 999999"} in english
    assert {"loc": ["account"], "message": "未知客户 999999"} in chinese

    reader = User.objects.create_user("reader", password="x")  # signed in, no role: no permission
    refused = api_as(reader, language="zh-Hans").post("/contacts", payload)
    assert refused.status_code == 403
    assert refused.json_body["error"]["message"] == "您无权创建联系人。"
