"""The delivery log and its idempotency: each key is claimed once, by one sender, in a transaction;
the message itself is sent after that transaction commits.

Delivery is at least once, never silently lost: a sender killed after its claim leaves the row
'sending'; ``release_abandoned`` (run by the playbook sweep and at a worker's start) puts such rows
back to 'queued', and the next call with the key sends again. The message then carries the same
identity as the first attempt (an email's Message-ID, a webhook's ``key`` and X-CLM-Delivery), so
a receiver that got the first one can drop the second. A row claimed and not abandoned stays the
caller's to wait for: a second caller gets it back 'sending' and sends nothing."""

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from clm.automation.models import Delivery

MAX_KEY = 200

# (reason code, message) when a message must not be sent, else None; run while the claim is held.
Refusal = Callable[[], tuple[str, str] | None]


def claim(key: str, channel: str, *, refusal: Refusal | None = None, **fields) -> tuple[Delivery, bool]:
    """The delivery for `key`, and whether the caller is to send it now. A key seen before returns
    its delivery as it stands (sent, failed, refused, or being sent by another worker), so a
    duplicate event or a retried step never sends twice."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or "\x00" in key:
        raise ValueError(f"an idempotency key is 1 to {MAX_KEY} characters of text, not {key!r}")
    with transaction.atomic():
        delivery, _ = Delivery.objects.select_for_update().get_or_create(
            key=key, defaults={"channel": channel, **fields}
        )
        if delivery.status != Delivery.Status.QUEUED:
            return delivery, False
        refused = refusal() if refusal else None
        if refused:
            delivery.status, delivery.reason, delivery.error = Delivery.Status.REFUSED, *refused
            delivery.save(update_fields=["status", "reason", "error"])
            return delivery, False
        delivery.status = Delivery.Status.SENDING
        delivery.attempts += 1
        delivery.claimed_at = timezone.now()
        delivery.save(update_fields=["status", "attempts", "claimed_at"])
    return delivery, True


def release_abandoned(claimed_before: dt.datetime) -> int:
    """Give back the deliveries whose sender died while sending (claimed before the cut-off and
    still 'sending'): queued again, with a note, for the next call with their key."""
    return Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=claimed_before).update(
        status=Delivery.Status.QUEUED,
        error="the sender was lost while sending; the next attempt sends again with the same identity",
    )


def finish(delivery: Delivery, status: str, *, error: str = "", reason: str = "", **fields) -> Delivery:
    delivery.status, delivery.error, delivery.reason = status, error[:2000], reason
    for name, value in fields.items():
        setattr(delivery, name, value)
    if status == Delivery.Status.SENT:
        delivery.sent_at = timezone.now()
    delivery.save()
    return delivery
