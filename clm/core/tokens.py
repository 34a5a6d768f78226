"""Personal API tokens: who may issue one (a person signed in to the web, or an operator at the
command line; never a token), what each scope lets a token do, expiry, and revocation (by the
owner, by an admin, or when the owner's password changes). Issuing and revoking are audited."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import audit
from clm.core.http import SAFE_METHODS
from clm.core.models import ApiToken, AuditLog

# The operations an events-only token may call: what an integration needs to send usage.
EVENT_OPERATIONS = frozenset({"ingest_events"})
MAX_LIFETIME = dt.timedelta(days=5 * 366)


class TokenRefused(Exception):
    """A known token that may not be used for this request; the message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def allows(token: ApiToken, method: str, operation_id: str | None) -> bool:
    if token.scope == ApiToken.Scope.READ:
        return method in SAFE_METHODS
    if token.scope == ApiToken.Scope.EVENTS:
        return operation_id in EVENT_OPERATIONS
    return token.scope == ApiToken.Scope.FULL


def check_use(token: ApiToken, method: str, operation_id: str | None, now=None) -> None:
    """Raise TokenRefused when a known, unrevoked token may not make this request."""
    if token.is_expired(now):
        raise TokenRefused(
            401,
            _("This API token expired on %(date)s; issue a new one in Preferences.")
            % {"date": timezone.localtime(token.expires_at).strftime("%Y-%m-%d %H:%M")},
        )
    if not allows(token, method, operation_id):
        raise TokenRefused(
            403,
            _("This API token is limited to “%(scope)s” and may not do this; use a token with more access.")
            % {"scope": token.get_scope_display()},
        )


def check_expiry(expires_at: dt.datetime | None, now=None) -> None:
    now = now or timezone.now()
    if expires_at is None:
        return
    if expires_at <= now:
        raise ValidationError({"expires_at": _("The expiry must lie in the future.")})
    if expires_at - now > MAX_LIFETIME:
        raise ValidationError({"expires_at": _("The expiry must lie within five years.")})


@transaction.atomic
def issue_token(
    user,
    name: str,
    *,
    scope: str = ApiToken.Scope.FULL,
    expires_at: dt.datetime | None = None,
    survives_password_change: bool = False,
    actor=None,
    via: str,
    with_token: bool = False,
) -> tuple[ApiToken, str]:
    """A new token for `user` and its raw value, shown once. `with_token` says the request came
    authenticated by a token: a token never mints another, or a leaked one would last forever."""
    if with_token:
        raise PermissionDenied(
            _("API tokens are issued from a signed-in session (Preferences → API tokens), not with a token.")
        )
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": _("Unknown scope %(scope)s.") % {"scope": scope}})
    check_expiry(expires_at)
    token, raw = ApiToken.issue(
        user, name, scope=scope, expires_at=expires_at, survives_password_change=survives_password_change
    )
    audit.record(actor or user, via, AuditLog.Action.CREATE, token, _described(token))
    return token, raw


@transaction.atomic
def revoke_token(token: ApiToken, *, actor, via: str) -> ApiToken:
    """Revoke one token (already revoked: nothing changes)."""
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit.record(actor, via, AuditLog.Action.UPDATE, locked, {"revoked_at": [None, audit.plain(locked.revoked_at)]})
    token.revoked_at = locked.revoked_at
    return locked


def revoke_after_password_change(user) -> int:
    """Revoke the user's live tokens that were not issued to survive a password change."""
    now = timezone.now()
    with transaction.atomic():
        tokens = list(
            ApiToken.objects.select_for_update()
            .filter(user=user, revoked_at=None, survives_password_change=False)
            .order_by("pk")
        )
        if not tokens:
            return 0
        ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=now)
        audit.record_many(
            [
                audit.entry(
                    None,
                    "system",
                    AuditLog.Action.UPDATE,
                    t,
                    {"revoked_at": [None, audit.plain(now)], "revoked_because": [None, "password changed"]},
                )
                for t in tokens
            ]
        )
    return len(tokens)


def _described(token: ApiToken) -> dict:
    values = {
        "user_id": token.user_id,
        "name": token.name,
        "scope": token.scope,
        "expires_at": audit.plain(token.expires_at),
        "survives_password_change": token.survives_password_change,
    }
    return {k: [None, v] for k, v in values.items()}
