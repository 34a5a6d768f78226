"""Personal API tokens have a scope (full, read-only, usage events only), may expire, are revoked
when their owner's password changes unless issued to survive it, are issued only from a signed-in
session or the command line (never with a token), and every issue and revocation is audited."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from clm.core.models import ApiToken, AuditLog
from tests.api.conftest import ApiClient, assert_error
from tests.factories import make_account

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def issue_in_session(user, **body):
    response = session(user).post("/api/v1/tokens", json.dumps(body), content_type="application/json")
    response.json_body = response.json()
    return response


def event(account):
    return {"account": account.pk, "event": "login", "timestamp": "2026-01-05T09:00:00+08:00"}


def test_a_read_only_token_reads_but_may_not_write(owner):
    _, raw = ApiToken.issue(owner, "BI", scope=ApiToken.Scope.READ)
    api = ApiClient(owner, token=raw)
    assert api.get("/accounts").status_code == 200
    error = assert_error(api.post("/accounts", {"name": "新客户"}, headers=EN), 403, "forbidden")
    assert "Read only" in error["message"]
    assert not ApiToken.objects.filter(name="x").exists()


def test_an_events_only_token_sends_usage_events_and_nothing_else(csm):
    account = make_account(csm=csm)
    _, raw = ApiToken.issue(csm, "ingest", scope=ApiToken.Scope.EVENTS)
    api = ApiClient(csm, token=raw)
    assert api.post("/events", [event(account)]).json_body["stored"] == 1
    assert_error(api.get("/accounts"), 403, "forbidden")
    assert_error(api.patch(f"/accounts/{account.pk}", {"name": "renamed"}), 403, "forbidden")
    account.refresh_from_db()
    assert account.name != "renamed"


def test_an_expired_token_is_refused_with_the_date_it_expired(owner):
    token, raw = ApiToken.issue(owner, "old", expires_at=timezone.now() + dt.timedelta(hours=1))
    api = ApiClient(owner, token=raw)
    assert api.get("/me").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    error = assert_error(api.request("get", "/me", headers=EN), 401, "unauthenticated")
    assert "expired" in error["message"]
    listed = ApiClient(owner).get("/tokens").json_body
    assert {t["name"]: t["is_active"] for t in listed}["old"] is False


def test_a_token_cannot_issue_another_token(owner):
    api = ApiClient(owner)
    error = assert_error(api.post("/tokens", {"name": "more"}), 403, "forbidden")  # the default language
    assert "signed-in session" in error["message"]
    chinese = assert_error(api.post("/tokens", {"name": "more"}, headers={"Accept-Language": "zh-Hans"}), 403, "forbidden")
    assert "登录后的会话" in chinese["message"]
    assert list(ApiToken.objects.filter(user=owner).values_list("name", flat=True)) == ["tests"]


def test_a_signed_in_session_issues_a_scoped_expiring_token_and_the_audit_log_says_so(owner):
    expires = (timezone.now() + dt.timedelta(days=30)).replace(microsecond=0)
    issued = issue_in_session(owner, name="warehouse", scope="read", expires_at=expires.isoformat())
    assert issued.status_code == 201, issued.json_body
    body = issued.json_body
    assert (body["scope"], body["survives_password_change"]) == ("read", False)
    assert dt.datetime.fromisoformat(body["expires_at"]) == expires
    assert ApiClient(owner, token=body["token"]).get("/me").status_code == 200
    log = AuditLog.objects.get(model="core.apitoken", object_id=str(body["id"]))
    assert (log.actor, log.via, log.action) == (owner, "api", "create")
    assert log.changes["scope"] == [None, "read"]
    assert "digest" not in log.changes and body["token"] not in json.dumps(log.changes)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "scope": "admin"}, "scope"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "expires_at": "2099-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_a_bad_scope_or_expiry_is_refused_naming_the_field_and_issues_nothing(owner, body, field):
    response = issue_in_session(owner, **body)
    assert response.status_code == 422, response.json_body
    assert field in json.dumps(response.json_body["error"]["details"])
    assert not ApiToken.objects.filter(user=owner).exists()


def test_revoking_a_token_is_audited(owner):
    api = ApiClient(owner)
    token, _ = ApiToken.issue(owner, "spare")
    assert api.delete(f"/tokens/{token.pk}").status_code == 204
    assert api.delete(f"/tokens/{token.pk}").status_code == 204  # twice: still one audit row
    log = AuditLog.objects.get(model="core.apitoken", object_id=str(token.pk))
    assert (log.actor, log.via, log.action) == (owner, "api", "update")
    assert log.changes["revoked_at"][0] is None and log.changes["revoked_at"][1]


def test_a_password_change_revokes_tokens_except_those_issued_to_survive_it(owner):
    plain, plain_raw = ApiToken.issue(owner, "laptop")
    kept, kept_raw = ApiToken.issue(owner, "integration", survives_password_change=True)
    owner.set_password("a new password 2026")
    owner.save()
    assert_error(ApiClient(owner, token=plain_raw).get("/me"), 401, "unauthenticated")
    assert ApiClient(owner, token=kept_raw).get("/me").status_code == 200
    log = AuditLog.objects.get(model="core.apitoken", object_id=str(plain.pk))
    assert log.via == "system" and log.changes["revoked_because"] == [None, "password changed"]


def test_a_password_reset_through_the_web_revokes_tokens(owner):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    _, raw = ApiToken.issue(owner, "laptop")
    client = Client()
    uid = urlsafe_base64_encode(force_bytes(owner.pk))
    start = client.get(f"/password-reset/{uid}/{default_token_generator.make_token(owner)}/", follow=True)
    form_url = start.redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": "Tr0ub4dor&3-new", "new_password2": "Tr0ub4dor&3-new"})
    assert done.status_code == 302, done.content
    assert_error(ApiClient(owner, token=raw).get("/me"), 401, "unauthenticated")


def test_signing_in_when_the_password_hash_is_upgraded_keeps_the_tokens(owner, settings):
    _, raw = ApiToken.issue(owner, "laptop")
    # The stored hash is MD5 (tests' fast hasher); PBKDF2 first makes sign-in rehash it.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert owner.check_password("pw-owner")
    owner.refresh_from_db()
    assert owner.password.startswith("pbkdf2_")
    assert ApiClient(owner, token=raw).get("/me").status_code == 200


def test_the_command_line_issues_scoped_expiring_tokens_and_audits_them(owner, capsys):
    call_command("issue_token", "owner", "--name", "ingest", "--scope", "events", "--expires-days", "90")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(digest=ApiToken.hash(raw))
    assert token.scope == "events"
    assert dt.timedelta(days=89) < token.expires_at - timezone.now() <= dt.timedelta(days=90)
    assert AuditLog.objects.filter(model="core.apitoken", object_id=str(token.pk), via="cli").exists()


def test_the_admin_lists_scope_and_expiry_and_revokes_with_an_audit_row(admin_user, owner):
    token, _ = ApiToken.issue(
        owner, "BI", scope=ApiToken.Scope.READ, expires_at=timezone.now() + dt.timedelta(days=3)
    )
    client = session(admin_user)
    page = client.get("/admin/core/apitoken/", headers={"Accept-Language": "en"}).content.decode()
    assert "Read only" in page and "Expires" in page
    response = client.post("/admin/core/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    log = AuditLog.objects.get(model="core.apitoken", object_id=str(token.pk))
    assert (log.actor, log.via) == (admin_user, "admin")
