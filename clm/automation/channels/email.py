"""Email through Django's email framework over SMTP: a template rendered in its sandbox for one
contact, tracked (pixel, click redirects), with a one-click unsubscribe (RFC 8058), sent once per
idempotency key and only to a contact who may be emailed."""

import hashlib
import smtplib
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import prefetch_related_objects
from django.utils import translation
from django.utils.html import escape, strip_tags
from django.utils.translation import gettext as _

from clm.automation.channels import consent, templates, tracking
from clm.automation.channels.deliveries import claim, finish
from clm.automation.models import Delivery, EmailTemplate, Suppression
from clm.core.events import emit
from clm.core.models import Workspace
from clm.customers.models import Account, Contact

ATTEMPTS = 3
BACKOFF = 1.0  # seconds before the second attempt; doubled before each later one


def send_email(
    *, template: EmailTemplate | str, contact: Contact, context: dict, key: str, connection=None
) -> Delivery:
    """Send `template` to `contact` once per `key`. Refused (and recorded why) for a contact
    without consent or address, on the suppression list, or over the marketing frequency cap.
    `connection`: an open Django email connection to reuse (see send_emails)."""
    if isinstance(template, str):
        template = EmailTemplate.objects.filter(key=template).first() or template
    known = isinstance(template, EmailTemplate)
    marketing = known and template.kind == EmailTemplate.Kind.MARKETING
    delivery, mine = claim(
        key,
        Delivery.Channel.EMAIL,
        refusal=lambda: consent.refusal(contact, marketing=marketing),
        contact=contact,
        account_id=contact.account_id,
        template=template if known else None,
        marketing=marketing,
        to=(contact.email or "").strip(),
    )
    if not mine:
        return delivery
    if not known:
        return finish(delivery, Delivery.Status.FAILED, error=f"no email template {template!r}")
    try:
        message = compose(delivery, template, contact, context or {})
    except templates.TemplateProblem as exc:
        return finish(delivery, Delivery.Status.FAILED, error=f"template {template.key}: {exc}")
    return deliver(delivery, message, connection)


def send_emails(items: Iterable[dict]) -> list[Delivery]:
    """Many emails over one SMTP connection; each item holds send_email's keyword arguments."""
    items = list(items)
    prefetch_related_objects(
        [i["template"] for i in items if isinstance(i["template"], EmailTemplate)], "variants"
    )
    connection = get_connection()
    try:
        return [send_email(**item, connection=connection) for item in items]
    finally:
        connection.close()


def variant_for(template: EmailTemplate, contact: Contact):
    variants = {v.language: v for v in template.variants.all()}
    wanted = contact.custom.get("language") if isinstance(contact.custom, dict) else None
    if isinstance(wanted, str) and wanted.lower().startswith("zh"):
        wanted = "zh-hans"
    for language in (wanted, settings.LANGUAGE_CODE, *sorted(variants)):
        if language in variants:
            return variants[language]
    raise templates.TemplateProblem("has no language variant")


def values_for(contact: Contact, unsubscribe_url: str) -> dict:
    """The plain values every template sees (see templates.OBJECTS); nothing with methods."""
    account = Account.objects.select_related("sales_owner", "csm").get(pk=contact.account_id)
    owner = account.sales_owner or account.csm
    return {
        "contact": {f: getattr(contact, f) for f in templates.OBJECTS["contact"]},
        "account": {f: getattr(account, f) for f in templates.OBJECTS["account"]},
        "owner": {
            "name": (owner.get_full_name() or owner.username) if owner else "",
            "email": owner.email if owner else "",
        },
        "company": {"name": Workspace.current().name},
        "unsubscribe_url": unsubscribe_url,
    }


def preview(template: EmailTemplate, contact: Contact, variables: dict | None = None) -> list[dict]:
    """Each language variant as ``contact`` would receive it (nothing sent, nothing tracked):
    [{"language", "subject", "html", "text"}, or {"language", "problem"}]. Variables the
    template declares and ``variables`` leaves out show as [name]."""
    given = {name: f"[{name}]" for name in template.variables}
    given.update({k: v for k, v in (variables or {}).items() if k in given})
    values = {**templates.plain(given), **values_for(contact, "#unsubscribe")}
    shown = []
    for variant in template.variants.all():
        try:
            html = templates.render(variant.html, values, html=True)
            shown.append(
                {
                    "language": variant.language,
                    "subject": " ".join(templates.render(variant.subject, values).split()),
                    "html": html,
                    "text": templates.render(variant.text, values) if variant.text else strip_tags(html).strip(),
                }
            )
        except templates.TemplateProblem as exc:
            shown.append({"language": variant.language, "problem": str(exc)})
    return shown


def compose(
    delivery: Delivery, template: EmailTemplate, contact: Contact, context: dict
) -> EmailMultiAlternatives:
    variant = variant_for(template, contact)
    declared = set(template.variables)
    values = {
        **templates.plain({k: v for k, v in context.items() if k in declared}),
        **values_for(contact, tracking.unsubscribe_url(delivery.pk)),
    }
    subject = " ".join(templates.render(variant.subject, values).split())
    body = templates.render(variant.html, values, html=True)
    text = templates.render(variant.text, values) if variant.text else strip_tags(body).strip()
    unsubscribe = values["unsubscribe_url"]
    with translation.override(variant.language):
        if unsubscribe not in text:
            text += "\n\n" + _("Unsubscribe: %(url)s") % {"url": unsubscribe}
        footer = (
            ""
            if unsubscribe in body
            else (
                f'<p style="font-size:12px;color:#888"><a href="{escape(unsubscribe)}">{escape(_("Unsubscribe"))}</a></p>'
            )
        )
    body, links = tracking.track_links(body, delivery.pk)
    body = tracking.before_body_end(body, footer + tracking.pixel(delivery.pk))
    # saved with the outcome, by finish()
    delivery.subject, delivery.language, delivery.links = subject[:300], variant.language, links
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [delivery.to],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": message_id(delivery.key),
            "X-CLM-Delivery": str(delivery.pk),
        },
    )
    message.attach_alternative(body, "text/html")
    return message


def message_id(key: str) -> str:
    """The same for every attempt at one key, so a receiver can tell a message it already has."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "clm.localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def deliver(delivery: Delivery, message: EmailMultiAlternatives, connection=None) -> Delivery:
    """Hand the message to the SMTP server, retrying transient failures (4xx replies, dropped or
    refused connections, timeouts) with backoff; a 5xx refusal of the address is a hard bounce."""
    own = connection is None
    connection = connection or get_connection()
    error = ""
    try:
        for attempt in range(1, ATTEMPTS + 1):
            if attempt > 1:
                time.sleep(BACKOFF * 2 ** (attempt - 2))
                _reset(connection)
            try:
                connection.open()
                connection.send_messages([message])
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()), (0, b""))
                error = f"SMTP {code} {_text(reply)}"
                if 500 <= code < 600:
                    consent.suppress(
                        delivery.to, Suppression.Reason.BOUNCED, contact=delivery.contact, source=error
                    )
                    return finish(
                        delivery,
                        Delivery.Status.FAILED,
                        error=error,
                        reason=Delivery.Reason.BOUNCED,
                        response_code=code,
                        attempts=attempt,
                    )
                continue
            except smtplib.SMTPResponseException as exc:
                error = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
                if 400 <= exc.smtp_code < 500:
                    continue
                return finish(
                    delivery,
                    Delivery.Status.FAILED,
                    error=error,
                    response_code=exc.smtp_code,
                    attempts=attempt,
                )
            except smtplib.SMTPServerDisconnected as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            except smtplib.SMTPException as exc:  # (a subclass of OSError, so caught before it)
                return finish(
                    delivery, Delivery.Status.FAILED, error=f"{type(exc).__name__}: {exc}", attempts=attempt
                )
            except OSError as exc:  # refused connection, timeout, reset
                error = f"{type(exc).__name__}: {exc}"
                continue
            finish(delivery, Delivery.Status.SENT, response_code=250, attempts=attempt)
            emit(
                "email.sent",
                delivery_id=delivery.pk,
                contact_id=delivery.contact_id,
                account_id=delivery.account_id,
                template=delivery.template.key if delivery.template_id else "",
            )
            return delivery
        return finish(
            delivery, Delivery.Status.FAILED, error=f"after {ATTEMPTS} attempts: {error}", attempts=ATTEMPTS
        )
    finally:
        if own:
            connection.close()


def _reset(connection) -> None:
    try:
        connection.close()
    except (smtplib.SMTPException, OSError):
        pass
    if hasattr(connection, "connection"):
        connection.connection = None


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
