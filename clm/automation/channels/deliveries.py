"""The delivery log and its idempotency: each key is claimed once, by one sender, in a transaction;
the message itself is sent after that transaction commits.

Delivery is at least once, never silently lost: a sender killed after its claim leaves the row
'sending'; ``release_abandoned`` (run by the playbook sweep and at a worker's start) puts such rows
back to 'queued', and the next call with the key sends again. The message then carries the same
identity as the first attempt (an email's Message-ID, a webhook's ``key`` and X-CLM-Delivery), so
a receiver that got the first one can drop the second. A row claimed and not abandoned stays the
caller's to wait for: a second caller gets it back 'sending' and sends nothing."""

import datetime as dt
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.automation.models import Delivery
from clm.core import bulk
from clm.core.models import Role

MAX_KEY = 200

# (reason code, message) when a message must not be sent, else None; run while the claim is held.
Refusal = Callable[[], tuple[str, str] | None]


def claim(key: str, channel: str, *, refusal: Refusal | None = None, **fields) -> tuple[Delivery, bool]:
    """The delivery for `key`, and whether the caller is to send it now. A key seen before returns
    its delivery as it stands (sent, failed, refused, or being sent by another worker), so a
    duplicate event or a retried step never sends twice."""
    refusals = (lambda queued: {d.key: refusal() for d in queued}) if refusal else None
    [(delivery, mine)] = claim_many(channel, [(key, fields)], refusals=refusals)
    return delivery, mine


def claim_many(
    channel: str,
    wanted: list[tuple[str, dict]],
    *,
    refusals: Callable[[list[Delivery]], dict[str, tuple[str, str] | None]] | None = None,
) -> list[tuple[Delivery, bool]]:
    """claim() for many (key, fields) at once, in one transaction and a fixed number of queries:
    `refusals` gets the deliveries still queued, in order, and says which must not be sent
    ({key: (reason, message)}), while their rows are locked. A key given twice is the caller's
    to send once."""
    for key, _fields in wanted:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY or "\x00" in key:
            raise ValueError(f"an idempotency key is 1 to {MAX_KEY} characters of text, not {key!r}")
    keys = list(dict.fromkeys(key for key, _fields in wanted))
    with transaction.atomic():
        Delivery.objects.bulk_create(
            [Delivery(key=key, channel=channel, **fields) for key, fields in wanted], ignore_conflicts=True
        )
        rows = Delivery.objects.select_for_update().in_bulk(keys, field_name="key")
        queued = [rows[key] for key in keys if rows[key].status == Delivery.Status.QUEUED]
        refused = refusals(queued) if refusals and queued else {}
        now, sending, refusing = timezone.now(), [], []
        for delivery in queued:
            why = refused.get(delivery.key)
            if why:
                delivery.status, (delivery.reason, delivery.error) = Delivery.Status.REFUSED, why
                refusing.append(delivery)
            else:
                delivery.status, delivery.claimed_at = Delivery.Status.SENDING, now
                delivery.attempts += 1  # the row is locked: the stored count is this one's
                sending.append(delivery)
        bulk.save_fields(refusing, ["status", "reason", "error"])
        Delivery.objects.filter(pk__in=[d.pk for d in sending]).update(
            status=Delivery.Status.SENDING, attempts=F("attempts") + 1, claimed_at=now
        )
    mine = {d.key for d in sending}
    out = []
    for key, _fields in wanted:
        out.append((rows[key], key in mine))
        mine.discard(key)
    return out


def release_abandoned(claimed_before: dt.datetime) -> int:
    """Give back the deliveries whose sender died while sending (claimed before the cut-off and
    still 'sending'): queued again, with a note, for the next call with their key."""
    return Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=claimed_before).update(
        status=Delivery.Status.QUEUED,
        error="the sender was lost while sending; the next attempt sends again with the same identity",
    )


# What sending a message may change of its delivery, written for a batch by finish_many.
OUTCOME_FIELDS = ["status", "error", "reason", "sent_at", "attempts", "response_code", "subject", "language", "links"]


def settle(delivery: Delivery, status: str, *, error: str = "", reason: str = "", **fields) -> Delivery:
    """Set the outcome on the delivery, unsaved (see finish and finish_many)."""
    delivery.status, delivery.error, delivery.reason = status, error[:2000], reason
    for name, value in fields.items():
        setattr(delivery, name, value)
    if status == Delivery.Status.SENT:
        delivery.sent_at = timezone.now()
    return delivery


def finish(delivery: Delivery, status: str, *, error: str = "", reason: str = "", **fields) -> Delivery:
    settle(delivery, status, error=error, reason=reason, **fields).save()
    return delivery


def finish_many(deliveries: list[Delivery]) -> None:
    """Write the settled outcomes of a batch in one statement."""
    bulk.save_fields(deliveries, OUTCOME_FIELDS)


# -- what a person reads about a delivery ------------------------------------------------------

# The raw `error` is the sender's own detail, in English (the receiver's answer, the exception, the
# address): kept for administrators. Everyone else reads one of these, in their language.
FAILURES = [
    (re.compile(r"^the environment variable "), lambda d: _("the signing secret's environment variable is not set")),
    (re.compile(r"^(no answer from|more than \d+ redirects)|cannot be resolved|resolves to no address"),
     lambda d: _("the receiver could not be reached")),
    (re.compile(r"^after \d+ attempts"), lambda d: _("the mail server did not take the message")),
    (re.compile(r"^(no email template|template |payload)"), lambda d: _("the message could not be made from its template")),
    (re.compile(r"^the sender was lost"), lambda d: _("the sender stopped while sending; it is sent again")),
]


def failure_text(delivery: Delivery) -> str:
    """Why a delivery was not sent, translated ('' when it was sent or is on its way)."""
    if delivery.status in (Delivery.Status.SENT, Delivery.Status.SENDING) and not delivery.error:
        return ""
    if delivery.reason:
        return delivery.get_reason_display()
    code = delivery.response_code
    if code is not None and not 200 <= code < 300:
        return _("the receiver answered with an error (HTTP %(code)s)") % {"code": code}
    if code is not None:
        return _("the receiver refused the message in its answer")
    for pattern, text in FAILURES:
        if pattern.search(delivery.error):
            return text(delivery)
    return _("sending failed") if delivery.error or delivery.status == Delivery.Status.FAILED else ""


def sees_raw_errors(user) -> bool:
    """Administrators read the sender's raw detail beside the translated reason."""
    return bool(user and user.is_authenticated and user.has_role(Role.ADMIN))


def masked_url(url: str) -> str:
    """An address with its secret parts hidden: scheme and host, then the last four characters
    (robot and webhook URLs carry their access token in the path or the query)."""
    parts = urlsplit(url or "")
    if not parts.scheme or not parts.netloc:
        return "…"
    rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
    return f"{parts.scheme}://{parts.netloc}" + (f"/…{rest[-4:]}" if len(rest) > 8 else rest)
