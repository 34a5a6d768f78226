"""Authentication with personal API tokens (Bearer or X-API-Key), their life cycle through the
API, and who the caller is."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from clm.core.models import ApiToken
from clm.customers.models import Account
from tests.api.conftest import ApiClient, assert_error

pytestmark = pytest.mark.django_db


def test_a_request_without_credentials_is_a_401_in_the_error_format(db):
    response = Client().get("/api/v1/accounts")
    assert_error(response_json(response), 401, "unauthenticated")


def response_json(response):
    import json

    response.json_body = json.loads(response.content)
    return response


@pytest.mark.parametrize("token", ["clm_not-a-real-token", "not-even-prefixed", ""])
def test_an_unknown_token_is_a_401(owner, token):
    assert_error(ApiClient(owner, token=token).get("/accounts"), 401, "unauthenticated")


def test_a_revoked_token_is_refused(owner):
    api = ApiClient(owner)
    assert api.get("/accounts").status_code == 200
    ApiToken.objects.filter(user=owner).update(revoked_at=timezone.now())
    assert_error(api.get("/accounts"), 401, "unauthenticated")


def test_the_token_of_a_deactivated_user_is_refused(owner):
    api = ApiClient(owner)
    owner.is_active = False
    owner.save()
    assert_error(api.get("/accounts"), 401, "unauthenticated")


def test_the_token_also_works_in_the_x_api_key_header(owner):
    _, raw = ApiToken.issue(owner, "integration")
    response = Client().get("/api/v1/me", headers={"X-API-Key": raw})
    assert response.status_code == 200
    assert response.json()["username"] == "owner"


def test_using_a_token_records_when_it_was_last_used(owner):
    api = ApiClient(owner)
    token = ApiToken.objects.get(user=owner)
    assert token.last_used_at is None
    api.get("/me")
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < dt.timedelta(seconds=10)


def test_me_describes_the_caller(owner):
    me = ApiClient(owner).get("/me").json_body
    assert (me["username"], me["team"], me["roles"], me["is_superuser"]) == (
        "owner",
        "East",
        ["Sales"],
        False,
    )


def test_a_user_issues_lists_and_revokes_their_own_tokens(owner):
    api = ApiClient(owner)
    signed_in = Client()
    signed_in.force_login(owner)  # tokens are issued from a session, never with a token
    issued = signed_in.post("/api/v1/tokens", {"name": "BI export"}, content_type="application/json")
    issued.json_body = issued.json()
    assert issued.status_code == 201
    raw = issued.json_body["token"]
    assert raw.startswith("clm_") and issued.json_body["hint"] == raw[:10]
    assert ApiToken.objects.get(pk=issued.json_body["id"]).digest == ApiToken.hash(raw)
    assert "token" not in api.get("/tokens").json_body[0]
    assert {t["name"] for t in api.get("/tokens").json_body} == {"tests", "BI export"}

    fresh = ApiClient(owner, token=raw)
    assert fresh.get("/me").status_code == 200
    assert api.delete(f"/tokens/{issued.json_body['id']}").status_code == 204
    assert_error(fresh.get("/me"), 401, "unauthenticated")
    listed = {t["name"]: t for t in api.get("/tokens").json_body}
    assert listed["BI export"]["is_active"] is False and listed["BI export"]["revoked_at"]


def test_nobody_sees_or_revokes_anyone_elses_tokens(owner, outsider):
    theirs, _ = ApiToken.issue(outsider, "theirs")
    api = ApiClient(owner)
    assert "theirs" not in {t["name"] for t in api.get("/tokens").json_body}
    assert_error(api.delete(f"/tokens/{theirs.pk}"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": 3}])
def test_a_token_needs_a_sensible_name(owner, body):
    signed_in = Client()
    signed_in.force_login(owner)
    response = response_json(signed_in.post("/api/v1/tokens", body, content_type="application/json"))
    assert_error(response, 422, "invalid_request")


def test_a_user_without_a_role_sees_no_customer_data(db):
    from tests.conftest import make_user

    nobody = make_user("nobody", None)
    Account.objects.create(name="Secret")
    assert_error(ApiClient(nobody).get("/accounts"), 403, "forbidden")
