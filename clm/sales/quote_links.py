"""The customer's link to a printable quote: signed with the server's secret, valid for LINK_DAYS
days, revoked by its quote's owner (a new link replaces the old one: one link per quote)."""

from __future__ import annotations

import datetime as dt
import secrets

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import records, services
from clm.core.access import visible_records
from clm.sales.models import Quote

SALT = "clm.sales.quote-link"
LINK_DAYS = 30


class LinkProblem(Exception):
    """Why a quote link does not open: unknown, revoked or expired."""

    def __init__(self, reason: str, quote: Quote | None = None):
        super().__init__(reason)
        self.reason, self.quote = reason, quote


def issue(actor, quote: Quote, *, via: str = "ui") -> str:
    """A fresh link token for the quote (the one before it stops working)."""
    key = secrets.token_hex(16)
    services.update(quote, {"link_key": key, "link_expires_at": timezone.now() + dt.timedelta(days=LINK_DAYS)},
                    actor=actor, via=via)  # fmt: skip
    return signing.Signer(salt=SALT).sign(f"{quote.pk}.{key}")


def revoke(actor, quote: Quote, *, via: str = "ui") -> Quote:
    if not records.may(actor, "change", Quote) or not visible_records(Quote, actor).filter(pk=quote.pk).exists():
        raise PermissionDenied(_("You may not change this quote."))
    return services.update(quote, {"link_key": "", "link_expires_at": None}, actor=actor, via=via)


def open_link(token: str) -> Quote:
    """The quote a link opens, or LinkProblem saying why not."""
    try:
        pk, key = signing.Signer(salt=SALT).unsign(str(token)[:200]).split(".", 1)
        quote = Quote.objects.select_related("opportunity__account").get(pk=int(pk))
    except (signing.BadSignature, ValueError, Quote.DoesNotExist) as error:
        raise LinkProblem("unknown") from error
    if not quote.link_key or not secrets.compare_digest(quote.link_key, key):
        raise LinkProblem("revoked", quote)
    if quote.link_expires_at is None or quote.link_expires_at <= timezone.now():
        raise LinkProblem("expired", quote)
    return quote
