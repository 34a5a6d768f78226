"""The value board's link emailed to one of the customer's contacts: a new signed link made for
them (in their language), sent through the email channel (clm.automation.channels: consent and
suppression respected, one send per link) and recorded on the account's timeline as an outbound
email. A send that is refused or fails revokes the new link again, so no link is left that nobody
received; revoking an emailed link later makes it open the refusal page."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from clm.automation.channels import send_email, tracking
from clm.automation.channels.library import save_template
from clm.automation.models import Delivery, EmailTemplate
from clm.automation.surveys import _language
from clm.core import services
from clm.customers.models import Contact, Interaction
from clm.success import board, plans
from clm.success.models import SuccessPlan, ValueBoardLink

TEMPLATE = "value-board-link"
SHIPPED = {
    "name": "Value board link", "kind": EmailTemplate.Kind.TRANSACTIONAL, "variables": ["board_url", "plan", "until"],
    "variants": [
        {"language": "zh-hans", "subject": "{{ company.name }}：{{ plan }} 效果数据看板",
         "html": "<p>{{ contact.name }}，您好：</p><p>您可以通过下面的链接查看我们共同制定的目标、进展和使用趋势：</p>"
                 '<p><a href="{{ board_url }}">打开效果数据看板</a></p><p>链接有效期至 {{ until }}。</p><p>{{ company.name }}</p>',
         "text": "{{ contact.name }}，您好：\n\n您可以通过下面的链接查看我们共同制定的目标、进展和使用趋势：\n{{ board_url }}\n\n"
                 "链接有效期至 {{ until }}。\n\n{{ company.name }}"},
        {"language": "en", "subject": "{{ company.name }}: the value board of {{ plan }}",
         "html": "<p>Dear {{ contact.name }},</p><p>The link below shows the objectives we set together, their progress "
                 'and the usage trends behind them:</p><p><a href="{{ board_url }}">Open the value board</a></p>'
                 "<p>The link is valid until {{ until }}.</p><p>{{ company.name }}</p>",
         "text": "Dear {{ contact.name }},\n\nThe link below shows the objectives we set together, their progress and "
                 "the usage trends behind them:\n{{ board_url }}\n\nThe link is valid until {{ until }}.\n\n{{ company.name }}"},
    ],
}


def ensure_template() -> EmailTemplate:
    found = EmailTemplate.objects.filter(key=TEMPLATE).first()
    return found if found is not None else save_template(None, {"key": TEMPLATE, **SHIPPED}, via="system")


def email_link(actor, plan: SuccessPlan, contact: Contact, *, days: int = board.DEFAULT_DAYS,
               via: str = "ui") -> tuple[ValueBoardLink, Delivery]:
    """Make a link to the plan's board for ``contact``, email it, and log the email on the
    account's timeline. Call outside a transaction: the email goes out after the link is stored."""
    with transaction.atomic():
        plans._require_plan(actor, plan)
    if contact.account_id != plan.account_id:
        raise ValidationError({"contact": _("%(name)s is not a contact of %(account)s.") % {
            "name": contact.name, "account": plan.account.name}})
    language = _language(contact)
    link, token = board.create_link(actor, plan, language=language, days=days, via=via)
    url = tracking.absolute(reverse("web:value_board", args=[token]))
    until = link.expires_at.date().isoformat()
    delivery = send_email(template=ensure_template(), contact=contact, key=f"value-board:{link.pk}",
                          context={"board_url": url, "plan": plan.title, "until": until})
    if delivery.status != Delivery.Status.SENT:
        board.revoke_link(None, link, via="system")
        reason = delivery.get_reason_display() if delivery.reason else delivery.get_status_display()
        raise ValidationError({"contact": _("The email to %(name)s was not sent (%(reason)s); the new link was "
                                            "revoked.") % {"name": contact.name, "reason": reason}})
    services.create(Interaction, {
        "account": plan.account, "contact": contact, "type": Interaction.Type.EMAIL,
        "direction": Interaction.Direction.OUTBOUND, "owner": plans._person(actor),
        "summary": _("Value board of “%(plan)s” emailed to %(name)s (%(email)s); the link is valid until %(day)s.") % {
            "plan": plan.title, "name": contact.name, "email": contact.email, "day": until},
    }, actor=plans._person(actor), via=via)
    return link, delivery
