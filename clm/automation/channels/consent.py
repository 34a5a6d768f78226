"""Who may be emailed: a contact with consent (Contact.email_consent), an address, and no entry on
the suppression list; marketing mail also within the per-contact frequency cap."""

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from clm.automation.models import Delivery, Suppression
from clm.automation.privacy import suppressed_token
from clm.core.events import emit
from clm.customers.models import Contact

SUPPRESSION_REASONS = {
    Suppression.Reason.UNSUBSCRIBED: Delivery.Reason.UNSUBSCRIBED,
    Suppression.Reason.BOUNCED: Delivery.Reason.BOUNCED,
    Suppression.Reason.COMPLAINED: Delivery.Reason.COMPLAINED,
}


def normal(address: str) -> str:
    return (address or "").strip().lower()


def refusal(contact: Contact, *, marketing: bool) -> tuple[str, str] | None:
    """Why this contact must not get an email now, or None (see refusals)."""
    return refusals([(contact.pk, marketing)])[0]


def refusals(wanted: list[tuple[int, bool]]) -> list[tuple[str, str] | None]:
    """For each (contact id, marketing) in order, why that email must not be sent now, or None;
    a marketing email allowed counts against the cap of the ones after it. Three queries for any
    number. Call inside the claim's transaction: the contacts' rows are locked so that two
    senders cannot both pass the frequency cap."""
    ids = {pk for pk, _ in wanted}
    contacts = Contact.objects.select_for_update().only("pk", "email", "email_consent").in_bulk(ids)
    addresses = {pk: normal(c.email) for pk, c in contacts.items()}
    forms = {form: a for a in set(addresses.values()) if a for form in (a, suppressed_token(a))}
    listed: dict[str, str] = {}
    for form, reason in (
        Suppression.objects.filter(address__in=list(forms)).order_by("pk").values_list("address", "reason")
    ):
        listed.setdefault(forms[form], reason)
    cap, days = settings.CLM_EMAIL_FREQUENCY_CAP, settings.CLM_EMAIL_FREQUENCY_DAYS
    recent = Counter(
        dict(
            Delivery.objects.filter(
                contact_id__in={pk for pk, marketing in wanted if marketing},
                channel=Delivery.Channel.EMAIL,
                marketing=True,
                status__in=(Delivery.Status.SENT, Delivery.Status.SENDING),
                created_at__gte=timezone.now() - timedelta(days=days),
            )
            .values("contact_id")
            .annotate(n=Count("pk"))
            .values_list("contact_id", "n")
        )
    )
    out = []
    for pk, marketing in wanted:
        address = addresses.get(pk, "")
        if pk not in contacts:
            out.append((Delivery.Reason.NO_ADDRESS, f"contact {pk} no longer exists"))
        elif not address:
            out.append((Delivery.Reason.NO_ADDRESS, f"contact {pk} has no email address"))
        elif not contacts[pk].email_consent:
            out.append((Delivery.Reason.NO_CONSENT, f"contact {pk} has not consented to email"))
        elif address in listed:
            out.append((SUPPRESSION_REASONS[listed[address]], f"{address} is on the suppression list ({listed[address]})"))
        elif marketing and recent[pk] >= cap:
            out.append((Delivery.Reason.FREQUENCY_CAP, f"{recent[pk]} marketing emails in {days} days (cap {cap})"))
        else:
            recent[pk] += marketing
            out.append(None)
    return out


def suppress(address: str, reason: str, *, contact: Contact | None = None, source: str = "") -> Suppression:
    """Put an address on the suppression list (once per reason); said as `email.suppressed`."""
    address = normal(address)
    with transaction.atomic():
        existing = Suppression.objects.filter(address=address, reason=reason).first()
        if existing:
            return existing
        try:
            with transaction.atomic():
                row = Suppression.objects.create(
                    address=address, reason=reason, contact=contact, source=source[:100]
                )
        except IntegrityError:  # recorded a moment ago by a concurrent request
            return Suppression.objects.get(address=address, reason=reason)
        emit(
            "email.suppressed",
            address=address,
            reason=reason,
            contact_id=getattr(contact, "pk", None),
            account_id=getattr(contact, "account_id", None),
        )
    return row
