"""A quote emailed to a contact of the customer: through the email channel (the shipped
"quote" template in the contact's language, else the workspace's; consent and suppression
respected; sent once per link), with the quote in the body and a signed link to its printable
page (clm.sales.quote_links); recorded on the account's timeline as an outbound email. Only a
quote that may be sent goes (clm.sales.quotes.check_sendable): never one awaiting approval."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from clm.automation.channels import send_email, tracking
from clm.automation.channels.deliveries import failure_text
from clm.automation.channels.email import variant_for
from clm.automation.models import Delivery, EmailTemplate
from clm.automation.surveys import SHIPPED, ensure_template
from clm.core import records, services
from clm.core.access import visible_records
from clm.core.money import money
from clm.customers.models import Contact, Interaction
from clm.sales import quote_links, quotes
from clm.sales.models import Quote

TEMPLATE = "quote"
_TABLE = ('<table style="border-collapse:collapse" cellpadding="6"><tr>HEAD</tr>'
          "{% for line in quote.lines %}<tr><td>{{ line.description }}</td><td align=\"right\">{{ line.quantity }}</td>"
          "<td align=\"right\">{{ line.discount }}</td><td align=\"right\">{{ line.net }}</td></tr>{% endfor %}</table>")  # fmt: skip
SHIPPED[TEMPLATE] = {
    "name": "Quote", "kind": EmailTemplate.Kind.TRANSACTIONAL, "variables": ["quote", "quote_url"],
    "variants": [
        {"language": "zh-hans", "subject": "{{ company.name }} 报价单 {{ quote.number }}",
         "html": "<p>{{ contact.name }}，您好：</p><p>感谢您的关注。以下是为{{ account.name }}准备的报价单 {{ quote.number }}"
                 "（第 {{ quote.version }} 版{% if quote.valid_until %}，有效期至 {{ quote.valid_until }}{% endif %}）。</p>"
                 + _TABLE.replace("HEAD", "<th>产品</th><th>数量</th><th>折扣</th><th>净额</th>")
                 + "<p>每月订阅：{{ quote.monthly }} · 合计（含税）：<strong>{{ quote.total }}</strong></p>"
                 '<p><a href="{{ quote_url }}">在线查看并打印报价单</a>（链接 {{ quote.link_days }} 天内有效）</p>'
                 "<p>{{ owner.name }}<br>{{ company.name }}</p>",
         "text": "{{ contact.name }}，您好：\n\n报价单 {{ quote.number }}（第 {{ quote.version }} 版），合计（含税）{{ quote.total }}。"
                 "\n在线查看并打印：{{ quote_url }}\n\n{{ owner.name }}\n{{ company.name }}"},
        {"language": "en", "subject": "Quote {{ quote.number }} from {{ company.name }}",
         "html": "<p>Dear {{ contact.name }},</p><p>Thank you for your interest. Here is quote {{ quote.number }} "
                 "(version {{ quote.version }}{% if quote.valid_until %}, valid until {{ quote.valid_until }}{% endif %}) "
                 "for {{ account.name }}.</p>"
                 + _TABLE.replace("HEAD", "<th>Product</th><th>Quantity</th><th>Discount</th><th>Net</th>")
                 + "<p>Recurring per month: {{ quote.monthly }} · Total incl. tax: <strong>{{ quote.total }}</strong></p>"
                 '<p><a href="{{ quote_url }}">View and print the quote online</a> (the link works for {{ quote.link_days }} days)</p>'
                 "<p>{{ owner.name }}<br>{{ company.name }}</p>",
         "text": "Dear {{ contact.name }},\n\nQuote {{ quote.number }} (version {{ quote.version }}), total incl. tax {{ quote.total }}."
                 "\nView and print it online: {{ quote_url }}\n\n{{ owner.name }}\n{{ company.name }}"},
    ],
}  # fmt: skip


def quote_values(quote: Quote, language: str) -> dict:
    """The quote as the template sees it: plain values, amounts written in ``language``."""
    with translation.override(language):
        return {
            "number": quote.number, "version": quote.version, "total": money(quote.total), "monthly": money(quote.monthly),
            "valid_until": quote.valid_until.isoformat() if quote.valid_until else "", "link_days": quote_links.LINK_DAYS,
            "lines": [{"description": li.description, "quantity": f"{li.quantity.normalize():f}",
                       "discount": f"{(li.discount * 100).normalize():f}%",
                       "net": money(li.net)} for li in quote.lines.all()],
        }  # fmt: skip


def email_quote(actor, quote: Quote, contact: Contact, *, via: str = "ui") -> Delivery:
    """Email the quote to ``contact`` of its account and, once it went, mark the quote sent and
    record the email on the account's timeline. Refused before approval, for a contact of another
    account or without an address; an SMTP failure leaves the quote as it was."""
    if not records.may(actor, "change", Quote) or not visible_records(Quote, actor).filter(pk=quote.pk).exists():
        raise PermissionDenied(_("You may not change this quote."))
    quote = Quote.objects.select_related("opportunity__account").get(pk=quote.pk)
    account = quote.opportunity.account
    if contact is None or contact.account_id != account.pk:
        raise ValidationError({"contact": _("Choose a contact of %(account)s.") % {"account": account.name}})
    if not (contact.email or "").strip():
        raise ValidationError({"contact": _("%(name)s has no email address.") % {"name": contact.name}})
    quotes.check_sendable(quote)
    token = quote_links.issue(actor, quote, via=via)
    template = ensure_template(TEMPLATE)
    language = variant_for(template, contact).language
    url = tracking.absolute(reverse("web:quote_link", args=[token]))
    delivery = send_email(template=template, contact=contact, key=f"quote:{quote.pk}:{contact.pk}:{token[-12:]}",
                          context={"quote": quote_values(quote, language), "quote_url": url})  # fmt: skip
    if delivery.status != Delivery.Status.SENT:
        quote_links.revoke(actor, quote, via=via)
        raise ValidationError({"contact": _("The email to %(email)s was not sent: %(why)s.") % {
            "email": contact.email, "why": failure_text(delivery)}})  # fmt: skip
    with transaction.atomic():
        if quote.status != Quote.Status.SENT:
            quotes.send(actor, quote, via=via)
        services.create(Interaction, {
            "account": account, "contact": contact, "type": Interaction.Type.EMAIL,
            "direction": Interaction.Direction.OUTBOUND, "owner": actor if getattr(actor, "pk", None) else None,
            "summary": _("Quote %(quote)s emailed to %(name)s (%(email)s): total %(total)s.") % {
                "quote": quote, "name": contact.name, "email": contact.email, "total": money(quote.total)},
        }, actor=actor, via=via)  # fmt: skip
    return delivery
