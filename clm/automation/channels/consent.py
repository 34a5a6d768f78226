"""Who may be emailed: a contact with consent (Contact.email_consent), an address, and no entry on
the suppression list; marketing mail also within the per-contact frequency cap."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
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
    """Why this contact must not get an email now, or None. Call inside the claim's transaction:
    the contact's row is locked so that two senders cannot both pass the frequency cap."""
    locked = Contact.objects.select_for_update().only("pk", "email", "email_consent").get(pk=contact.pk)
    address = normal(locked.email)
    if not address:
        return Delivery.Reason.NO_ADDRESS, f"contact {contact.pk} has no email address"
    if not locked.email_consent:
        return Delivery.Reason.NO_CONSENT, f"contact {contact.pk} has not consented to email"
    suppressed = (
        Suppression.objects.filter(address__in=(address, suppressed_token(address)))
        .values_list("reason", flat=True)
        .first()
    )
    if suppressed:
        return SUPPRESSION_REASONS[suppressed], f"{address} is on the suppression list ({suppressed})"
    if marketing:
        cap, days = settings.CLM_EMAIL_FREQUENCY_CAP, settings.CLM_EMAIL_FREQUENCY_DAYS
        recent = Delivery.objects.filter(
            contact_id=contact.pk,
            channel=Delivery.Channel.EMAIL,
            marketing=True,
            status__in=(Delivery.Status.SENT, Delivery.Status.SENDING),
            created_at__gte=timezone.now() - timedelta(days=days),
        ).count()
        if recent >= cap:
            return Delivery.Reason.FREQUENCY_CAP, f"{recent} marketing emails in {days} days (cap {cap})"
    return None


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
