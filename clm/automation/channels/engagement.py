"""What recipients do with an email: opens (the pixel), clicks (the redirect) and unsubscribes
(the one-click link), recorded for the playbooks' branches and the email KPIs."""

from django.db import transaction
from django.utils import timezone

from clm.automation.channels import consent
from clm.automation.models import Delivery, Engagement, Suppression
from clm.core.events import emit

MAX_CLICKS = 50  # engagement rows kept per delivery: a looping client cannot fill the table


def _payload(delivery: Delivery) -> dict:
    return {
        "delivery_id": delivery.pk,
        "key": delivery.key,
        "contact_id": delivery.contact_id,
        "account_id": delivery.account_id,
        "template": delivery.template.key if delivery.template_id else "",
    }


def record_open(delivery_id: int) -> None:
    """The first open of a delivery (image proxies and prefetching make later ones noise)."""
    now = timezone.now()
    with transaction.atomic():
        first = Delivery.objects.filter(
            pk=delivery_id, channel=Delivery.Channel.EMAIL, opened_at=None
        ).update(opened_at=now)
        if not first:
            return
        delivery = Delivery.objects.select_related("template").get(pk=delivery_id)
        Engagement.objects.create(
            delivery=delivery,
            account_id=delivery.account_id,
            contact_id=delivery.contact_id,
            kind=Engagement.Kind.OPEN,
            at=now,
        )
        emit("email.opened", **_payload(delivery))


def record_click(delivery_id: int, index: int) -> str | None:
    """The URL the index-th link of the delivery pointed to (None if there is no such link); a
    click counts as an open too, for those whose client blocks images."""
    delivery = Delivery.objects.select_related("template").filter(pk=delivery_id).first()
    if delivery is None or not (0 <= index < len(delivery.links)):
        return None
    url = delivery.links[index]
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, clicked_at=None).update(clicked_at=now)
        Delivery.objects.filter(pk=delivery.pk, opened_at=None).update(opened_at=now)
        if delivery.engagements.filter(kind=Engagement.Kind.CLICK).count() < MAX_CLICKS:
            Engagement.objects.create(
                delivery=delivery,
                account_id=delivery.account_id,
                contact_id=delivery.contact_id,
                kind=Engagement.Kind.CLICK,
                at=now,
                url=url,
            )
            emit("email.clicked", **_payload(delivery), url=url)
    return url


def unsubscribe(delivery_id: int, *, source: str) -> Delivery | None:
    """Put the address the delivery went to on the suppression list."""
    delivery = (
        Delivery.objects.select_related("contact")
        .filter(pk=delivery_id, channel=Delivery.Channel.EMAIL)
        .first()
    )
    if delivery is None or not delivery.to:
        return None
    consent.suppress(delivery.to, Suppression.Reason.UNSUBSCRIBED, contact=delivery.contact, source=source)
    return delivery
