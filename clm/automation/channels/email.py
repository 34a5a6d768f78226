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
from clm.automation.channels.deliveries import claim_many, finish_many, settle
from clm.automation.models import Delivery, EmailTemplate, Suppression
from clm.core.events import emit_many
from clm.core.models import Workspace
from clm.customers.models import Account, Contact

ATTEMPTS = 3
BACKOFF = 1.0  # seconds before the second attempt; doubled before each later one
BATCH = 100  # messages claimed, checked and written back together


def send_email(
    *, template: EmailTemplate | str, contact: Contact, context: dict, key: str, connection=None
) -> Delivery:
    """Send `template` to `contact` once per `key`. Refused (and recorded why) for a contact
    without consent or address, on the suppression list, or over the marketing frequency cap.
    `connection`: an open Django email connection to reuse."""
    item = {"template": template, "contact": contact, "context": context, "key": key}
    return send_emails([item], connection=connection)[0]


def send_emails(items: Iterable[dict], *, connection=None) -> list[Delivery]:
    """Many emails over one SMTP connection; each item holds send_email's keyword arguments.
    Templates, accounts and the workspace are read once; the claims, the consent, suppression and
    cap checks and the outcomes are written BATCH messages at a time, so a message costs a small
    fraction of a query. Each outcome is written once its batch is through: a sender killed in
    between leaves its messages 'sending', sent again later under the same Message-ID (at least
    once, see deliveries)."""
    items = list(items)
    if not items:
        return []
    by_key = EmailTemplate.objects.prefetch_related("variants").in_bulk(
        {i["template"] for i in items if isinstance(i["template"], str)}, field_name="key"
    )
    items = [{**i, "template": by_key.get(i["template"], i["template"])} for i in items]
    prefetch_related_objects([i["template"] for i in items if isinstance(i["template"], EmailTemplate)], "variants")
    accounts = Account.objects.select_related("sales_owner", "csm").in_bulk(
        {i["contact"].account_id for i in items}
    )
    company = Workspace.current().name
    own = connection is None
    connection = connection or get_connection()
    try:
        return [
            delivery
            for start in range(0, len(items), BATCH)
            for delivery in _send_batch(items[start : start + BATCH], connection, accounts, company)
        ]
    finally:
        if own:
            connection.close()


def _send_batch(items: list[dict], connection, accounts: dict, company: str) -> list[Delivery]:
    wanted = []
    for item in items:
        template, contact = item["template"], item["contact"]
        known = isinstance(template, EmailTemplate)
        fields = {
            "contact": contact,
            "account_id": contact.account_id,
            "template": template if known else None,
            "marketing": known and template.kind == EmailTemplate.Kind.MARKETING,
            "to": (contact.email or "").strip(),
        }
        wanted.append((item["key"], fields))
    claimed = claim_many(
        Delivery.Channel.EMAIL,
        wanted,
        refusals=lambda queued: dict(
            zip(
                [d.key for d in queued],
                consent.refusals([(d.contact_id, d.marketing) for d in queued]),
                strict=True,
            )
        ),
    )
    settled, sent = [], []
    try:
        for item, (delivery, mine) in zip(items, claimed, strict=True):
            if not mine:
                continue
            settled.append(delivery)
            template, contact = item["template"], item["contact"]
            if not isinstance(template, EmailTemplate):
                settle(delivery, Delivery.Status.FAILED, error=f"no email template {template!r}")
                continue
            try:
                values = values_for(
                    contact, accounts.get(contact.account_id), company, tracking.unsubscribe_url(delivery.pk)
                )
                message = compose(delivery, template, contact, item.get("context") or {}, values)
            except templates.TemplateProblem as exc:
                settle(delivery, Delivery.Status.FAILED, error=f"template {template.key}: {exc}")
                continue
            if deliver(delivery, message, connection).status == Delivery.Status.SENT:
                sent.append((delivery, template.key))
    finally:
        finish_many(settled)
    emit_many(
        "email.sent",
        [
            {
                "delivery_id": d.pk,
                "contact_id": d.contact_id,
                "account_id": d.account_id,
                "template": template_key,
            }
            for d, template_key in sent
        ],
    )
    return [delivery for delivery, _ in claimed]


def variant_for(template: EmailTemplate, contact: Contact):
    variants = {v.language: v for v in template.variants.all()}
    wanted = contact.custom.get("language") if isinstance(contact.custom, dict) else None
    if isinstance(wanted, str) and wanted.lower().startswith("zh"):
        wanted = "zh-hans"
    for language in (wanted, settings.LANGUAGE_CODE, *sorted(variants)):
        if language in variants:
            return variants[language]
    raise templates.TemplateProblem("has no language variant")


def values_for(contact: Contact, account: Account, company: str, unsubscribe_url: str) -> dict:
    """The plain values every template sees (see templates.OBJECTS); nothing with methods.
    `account`: the contact's, with its sales owner and CSM."""
    owner = account.sales_owner or account.csm
    return {
        "contact": {f: getattr(contact, f) for f in templates.OBJECTS["contact"]},
        "account": {f: getattr(account, f) for f in templates.OBJECTS["account"]},
        "owner": {
            "name": (owner.get_full_name() or owner.username) if owner else "",
            "email": owner.email if owner else "",
        },
        "company": {"name": company},
        "unsubscribe_url": unsubscribe_url,
    }


def preview(template: EmailTemplate, contact: Contact, variables: dict | None = None) -> list[dict]:
    """Each language variant as ``contact`` would receive it (nothing sent, nothing tracked):
    [{"language", "subject", "html", "text"}, or {"language", "problem"}]. Variables the
    template declares and ``variables`` leaves out show as [name]."""
    given = {name: f"[{name}]" for name in template.variables}
    given.update({k: v for k, v in (variables or {}).items() if k in given})
    account = Account.objects.select_related("sales_owner", "csm").get(pk=contact.account_id)
    values = {**templates.plain(given), **values_for(contact, account, Workspace.current().name, "#unsubscribe")}
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
    delivery: Delivery, template: EmailTemplate, contact: Contact, context: dict, given: dict
) -> EmailMultiAlternatives:
    """The message for one delivery; `given`: values_for's values."""
    variant = variant_for(template, contact)
    declared = set(template.variables)
    values = {**templates.plain({k: v for k, v in context.items() if k in declared}), **given}
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
    # saved with the outcome, by finish_many()
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


def deliver(delivery: Delivery, message: EmailMultiAlternatives, connection) -> Delivery:
    """Hand the message to the SMTP server, retrying transient failures (4xx replies, dropped or
    refused connections, timeouts) with backoff; a 5xx refusal of the address is a hard bounce.
    Settles the delivery's outcome; its batch writes it."""
    error = ""
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
                return settle(
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
            return settle(
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
            return settle(
                delivery, Delivery.Status.FAILED, error=f"{type(exc).__name__}: {exc}", attempts=attempt
            )
        except OSError as exc:  # refused connection, timeout, reset
            error = f"{type(exc).__name__}: {exc}"
            continue
        return settle(delivery, Delivery.Status.SENT, response_code=250, attempts=attempt)
    return settle(
        delivery, Delivery.Status.FAILED, error=f"after {ATTEMPTS} attempts: {error}", attempts=ATTEMPTS
    )


def _reset(connection) -> None:
    try:
        connection.close()
    except (smtplib.SMTPException, OSError):
        pass
    if hasattr(connection, "connection"):
        connection.connection = None


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
