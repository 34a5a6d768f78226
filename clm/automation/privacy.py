"""The automation layer's part of a person's data (clm.io.privacy): the messages sent to them, the
opens and clicks they made, and the suppression list.

An erased person's suppressions stay, with the address replaced by its one-way token: the contact is
deleted, but if the same address comes back (a new import, a lead), `consent.refusal` still finds it
on the list by its token, so a person who unsubscribed is not emailed again after being erased."""

from django.db.models import Q
from django.utils.translation import gettext_noop

from clm.automation.models import Delivery, Engagement, Suppression
from clm.io.privacy import ERASED, Part, pseudonym, register, rows, scrub


def suppressed_token(address: str) -> str:
    """How an erased person's address is kept on the suppression list."""
    return pseudonym("email:" + address)


def _deliveries(person):
    condition = Q(contact_id=person.contact.pk)
    if person.email:
        condition |= Q(channel=Delivery.Channel.EMAIL, to__iexact=person.email)
    return Delivery.objects.filter(condition)


def _deliveries_erase(person) -> int:
    pattern = person.needles
    deliveries = list(_deliveries(person))
    for delivery in deliveries:
        delivery.to = ""
        delivery.contact = None
        delivery.subject = scrub(delivery.subject, pattern)
        delivery.error = scrub(delivery.error, pattern)
        delivery.links = scrub(delivery.links, pattern)
    Delivery.objects.bulk_update(deliveries, ["to", "contact", "subject", "error", "links"], batch_size=500)
    return len(deliveries)


def _engagements(person):
    return Engagement.objects.filter(Q(contact_id=person.contact.pk) | Q(delivery__in=_deliveries(person)))


def _engagements_erase(person) -> int:
    pattern = person.needles
    engagements = list(_engagements(person))
    for engagement in engagements:
        engagement.contact = None
        engagement.url = scrub(engagement.url, pattern).replace(ERASED, "erased")
    Engagement.objects.bulk_update(engagements, ["contact", "url"], batch_size=500)
    return len(engagements)


def _suppressions(person):
    condition = Q(contact_id=person.contact.pk)
    if person.email:
        condition |= Q(address__iexact=person.email)
    return Suppression.objects.filter(condition)


def _suppressions_erase(person) -> int:
    pattern = person.needles
    changed = 0
    for row in _suppressions(person):
        token = suppressed_token(row.address.strip().lower())
        if Suppression.objects.filter(address=token, reason=row.reason).exists():
            row.delete()
        else:
            row.address, row.contact, row.source = token, None, scrub(row.source, pattern)
            row.save(update_fields=["address", "contact", "source"])
        changed += 1
    return changed


def register_parts() -> None:
    register(Part(
        "email_deliveries", gettext_noop("messages sent"),
        lambda p: rows(_deliveries(p).order_by("created_at"), "id", "channel", "to", "subject", "status", "reason", "created_at", "sent_at", "opened_at", "clicked_at"),
        _deliveries_erase,
    ))
    register(Part(
        "email_engagements", gettext_noop("opens and clicks"),
        lambda p: rows(_engagements(p).order_by("at"), "id", "delivery_id", "kind", "at", "url"),
        _engagements_erase,
    ))
    register(Part(
        "suppressions", gettext_noop("suppression list entries"),
        lambda p: rows(_suppressions(p).order_by("at"), "id", "address", "reason", "at", "source"),
        _suppressions_erase,
    ))
