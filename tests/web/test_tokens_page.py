"""Preferences → API tokens: a signed-in person issues a token with a scope and an end date (shown
once), sees their tokens with scope, end and status, and revokes one; a past end date is refused
beside the field with the form kept; each issue and revocation is in the audit log."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from clm.core.models import ApiToken, AuditLog
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_issuing_a_read_only_token_shows_it_once_and_lists_it(signed_in, owner):
    until = timezone.localdate() + dt.timedelta(days=30)
    page = signed_in.post(
        reverse("web:tokens"), {"name": "BI export", "scope": "read", "expires_on": until.isoformat()}
    ).content.decode()
    raw = re.search(r'data-testid="issued-token-value">(clm_[^<]+)<', page).group(1)
    token = ApiToken.objects.get(digest=ApiToken.hash(raw))
    assert (token.scope, token.user, token.survives_password_change) == ("read", owner, False)
    assert timezone.localtime(token.expires_at).date() == until  # to the end of that day
    assert "Read only" in page and until.isoformat() in page
    assert ApiClient(owner, token=raw).get("/accounts").status_code == 200
    assert ApiClient(owner, token=raw).post("/accounts", {"name": "x"}).status_code == 403
    assert raw not in signed_in.get(reverse("web:tokens")).content.decode()  # shown once
    log = AuditLog.objects.get(model="core.apitoken", object_id=str(token.pk))
    assert (log.actor, log.via, log.action) == (owner, "ui", "create")


def test_a_past_end_date_is_refused_beside_the_field_and_the_form_is_kept(signed_in):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    response = signed_in.post(
        reverse("web:tokens"), {"name": "Nightly sync", "scope": "events", "expires_on": yesterday.isoformat()}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-expires_on"' in page and "future" in page
    assert 'value="Nightly sync"' in page
    assert not ApiToken.objects.exists()


def test_a_blank_name_is_refused(signed_in):
    page = signed_in.post(reverse("web:tokens"), {"name": "   ", "scope": "read"}).content.decode()
    assert 'data-testid="error-name"' in page
    assert not ApiToken.objects.exists()


def test_revoking_a_token_stops_it_and_is_audited(signed_in, owner):
    token, raw = ApiToken.issue(owner, "laptop")
    response = signed_in.post(reverse("web:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert ApiClient(owner, token=raw).get("/me").status_code == 401
    page = signed_in.get(reverse("web:tokens")).content.decode()
    assert "revoked" in page
    assert AuditLog.objects.filter(model="core.apitoken", object_id=str(token.pk), via="ui", actor=owner).exists()


def test_nobody_revokes_anyone_elses_token(signed_in, outsider):
    theirs, _ = ApiToken.issue(outsider, "theirs")
    assert signed_in.post(reverse("web:token_revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert "theirs" not in signed_in.get(reverse("web:tokens")).content.decode()


def test_the_page_speaks_chinese(client, owner):
    owner.language = "zh-hans"
    owner.save()
    client.force_login(owner)
    ApiToken.issue(owner, "数据同步", scope=ApiToken.Scope.EVENTS)
    page = client.get(reverse("web:tokens")).content.decode()
    assert "API 令牌" in page and "仅限使用事件" in page
    for english in ("Usage events only", "Read only", "My tokens", "Revoke", "no end"):
        assert english not in page
