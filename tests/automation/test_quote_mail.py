"""A quote emailed to a contact of the customer over the real SMTP server on 127.0.0.1: the quote
in the body in the contact's language, a signed link to the printable page that expires and can
be withdrawn, the email on the account's timeline; refused before approval."""

import datetime as dt
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clm.automation.models import Delivery
from clm.automation.quote_mail import email_quote
from clm.commerce.models import Product
from clm.core import services
from clm.core.models import Role
from clm.customers.models import Contact, Interaction
from clm.sales import quotes
from clm.sales.models import ApprovalRule, Opportunity, Quote
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def html_part(message):
    return next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()


@pytest.fixture
def quote(owner, account):
    from clm.sales.pipelines import install_built_in

    install_built_in()
    plan = Product.objects.create(name="专业版", list_price=Decimal(260), is_recurring=True)
    deal = services.create(Opportunity, {"account": account, "name": "年度订阅", "owner": owner})
    return quotes.create_quote(owner, deal, [{"product": plan.pk, "quantity": 10, "discount": "0.1"}],
                               valid_until=timezone.localdate() + dt.timedelta(days=30))  # fmt: skip


def test_the_quote_goes_to_the_contact_with_a_link_and_lands_on_the_timeline(smtp, owner, quote, contact, client):
    delivery = email_quote(owner, quote, contact)
    assert delivery.status == Delivery.Status.SENT and delivery.language == "zh-hans"
    [message] = smtp.messages
    assert smtp.envelopes[0].rcpt_tos == ["Li.Na@Midea.example"] and message["Subject"] == f"CLM 报价单 {quote.number}"
    body = html_part(message)
    # 10 seats × 260 × 0.9 = 2,340 a month; 12 months + 6% VAT = 29,764.80, shown as ¥29,765
    assert "<td>专业版</td><td align=\"right\">10</td><td align=\"right\">10%</td><td align=\"right\">¥2,340</td>" in body
    assert "¥29,765" in body and "李娜，您好" in body
    [link] = delivery.links
    assert link.startswith("https://clm.example.com/q/")
    page = client.get(urlparse(link).path)
    assert page.status_code == 200 and quote.number in page.content.decode() and "年度订阅" not in page.content.decode()
    quote.refresh_from_db()
    assert quote.status == Quote.Status.SENT and quote.link_expires_at > timezone.now() + dt.timedelta(days=29)
    note = Interaction.objects.get(account=quote.opportunity.account)
    assert (note.type, note.direction, note.contact, note.owner) == ("email", "outbound", contact, owner)
    assert quote.number in note.summary and "Li.Na@Midea.example" in note.summary
    from clm.sales import quote_links

    quote_links.revoke(owner, quote)
    closed = client.get(urlparse(link).path)
    assert closed.status_code == 410 and "撤回" in closed.content.decode()
    assert client.get("/q/not-a-token/").status_code == 404


def test_a_contact_who_reads_english_gets_the_english_quote_and_an_old_link_expires(smtp, owner, quote, contact, client):
    contact.custom = {"language": "en"}
    contact.save()
    delivery = email_quote(owner, quote, contact)
    assert delivery.language == "en" and smtp.messages[0]["Subject"] == f"Quote {quote.number} from CLM"
    assert "Dear 李娜" in html_part(smtp.messages[0])
    Quote.objects.filter(pk=quote.pk).update(link_expires_at=timezone.now() - dt.timedelta(minutes=1))
    expired = client.get(urlparse(delivery.links[0]).path)
    assert expired.status_code == 410


def test_it_is_refused_before_approval_and_for_a_contact_of_another_account(smtp, owner, team_a, quote, contact, client):
    from tests.factories import make_user

    make_user("lead", Role.MANAGER, team_a)
    ApprovalRule.objects.create(name="15%+", above_discount=Decimal("0.15"), approver_role=Role.MANAGER)
    pending = quotes.submit(owner, quotes.revise(owner, quote, [{"product": quote.lines.get().product_id, "quantity": 10, "discount": "0.2"}]))
    assert pending.status == Quote.Status.PENDING
    with pytest.raises(ValidationError) as refused:
        email_quote(owner, pending, contact)
    assert "pending" in str(refused.value) or "审批" in str(refused.value)
    stranger = Contact.objects.create(account=make_account("别家"), name="王五", email="w@example.com", email_consent=True)
    approved = Quote.objects.get(pk=pending.pk)
    with pytest.raises(ValidationError) as wrong:
        email_quote(owner, approved, stranger)
    assert "美的集团" in wrong.value.message_dict["contact"][0]
    assert smtp.messages == [] and not Interaction.objects.exists()
    client.force_login(owner)
    answer = client.post(f"/quotes/{pending.pk}/email/", {"contact": contact.pk}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "The quote cannot be sent while an approval is pending." in answer.content.decode()


def test_the_quote_page_sends_it_to_the_customer(smtp, owner, quote, contact, client):
    client.force_login(owner)
    page = client.get(f"/quotes/{quote.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Send to customer" in page and "Li.Na@Midea.example" in page
    answer = client.post(f"/quotes/{quote.pk}/email/", {"contact": contact.pk}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "Emailed to the customer" in answer.content.decode() and len(smtp.messages) == 1
    assert "Withdraw the link" in answer.content.decode()
