"""Email against a real SMTP server (aiosmtpd on 127.0.0.1): rendering in the sandbox, tracking,
the one-click unsubscribe (RFC 8058), idempotency, consent, suppression, the frequency cap and
retries of transient SMTP failures."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from clm.automation.channels import send_email, send_emails, templates, tracking
from clm.automation.models import Delivery, EmailTemplate, EmailTemplateVariant, Engagement, Suppression
from clm.core import events, services
from clm.customers.models import Contact

pytestmark = pytest.mark.django_db

REPORT = "https://reports.example.com/2024/制造业.pdf"


def send(template, contact, key="k1", **context):
    return send_email(template=template, contact=contact, context={"report_url": REPORT, **context}, key=key)


def html_part(message) -> str:
    return message.get_body(("html",)).get_content()


def text_part(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def heard():
    got = []

    @events.listen("email.sent", "email.opened", "email.clicked", "email.suppressed")
    def record(event):
        got.append((event.name, event.payload))

    yield got
    events.unlisten(record)


@pytest.mark.django_db(transaction=True)
def test_it_sends_the_rendered_template_with_tracking_and_one_click_unsubscribe(
    smtp, welcome, contact, heard
):
    delivery = send(welcome, contact)
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 1 and delivery.sent_at
    assert delivery.account_id == contact.account_id and delivery.language == "zh-hans"
    [message] = smtp.messages
    assert smtp.envelopes[0].rcpt_tos == ["Li.Na@Midea.example"]
    assert message["Subject"] == "欢迎 李娜，来自 CLM"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(
        r"<(https://clm\.example\.com/e/u/[^>]+)>", message["List-Unsubscribe"].strip()
    ).group(1)
    assert unsubscribe == tracking.unsubscribe_url(delivery.pk)
    assert message["Message-ID"].endswith("@example.com>")
    body = html_part(message)
    # Both links go through the click redirect; the originals are kept on the delivery, in order.
    assert REPORT not in body and "https://example.com/a" not in body
    assert delivery.links == [REPORT, "https://example.com/a?x=1&y=2"]
    assert body.count("https://clm.example.com/e/c/") == 2
    assert tracking.open_url(delivery.pk) in body  # the pixel
    assert unsubscribe in body  # a footer link, since the template had none
    assert text_part(message).startswith("李娜，您好！报告：" + REPORT)
    assert (
        "email.sent",
        {
            "delivery_id": delivery.pk,
            "contact_id": contact.pk,
            "account_id": contact.account_id,
            "template": "welcome",
        },
    ) in heard


def test_a_second_send_with_the_same_key_sends_nothing_and_returns_the_first_delivery(smtp, welcome, contact):
    first = send(welcome, contact, key="playbook:7:step:3:contact:1")
    again = send(welcome, contact, key="playbook:7:step:3:contact:1")
    assert again.pk == first.pk and again.status == Delivery.Status.SENT
    assert len(smtp.messages) == 1 and Delivery.objects.count() == 1


def test_the_english_variant_goes_to_a_contact_who_reads_english(smtp, welcome, contact):
    contact.custom = {"language": "en"}
    contact.save()
    delivery = send(welcome, contact)
    assert delivery.language == "en" and smtp.messages[0]["Subject"] == "Welcome 李娜"
    assert "Unsubscribe: https://clm.example.com/e/u/" in text_part(smtp.messages[0])


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"email_consent": False}, Delivery.Reason.NO_CONSENT),
        ({"email": ""}, Delivery.Reason.NO_ADDRESS),
    ],
)
def test_it_refuses_a_contact_without_consent_or_address(smtp, welcome, contact, change, reason):
    Contact.objects.filter(pk=contact.pk).update(**change)
    contact.refresh_from_db()
    delivery = send(welcome, contact)
    assert delivery.status == Delivery.Status.REFUSED and delivery.reason == reason and delivery.error
    assert smtp.messages == [] and delivery.attempts == 0


@pytest.mark.parametrize("reason", list(Suppression.Reason))
def test_it_refuses_a_suppressed_address_whatever_its_case(smtp, welcome, contact, reason):
    Suppression.objects.create(address="li.na@midea.example", reason=reason)
    delivery = send(welcome, contact)
    assert delivery.status == Delivery.Status.REFUSED and delivery.reason == reason
    assert smtp.messages == []


def test_marketing_mail_stops_at_the_frequency_cap_and_service_mail_does_not(
    smtp, welcome, contact, settings
):
    settings.CLM_EMAIL_FREQUENCY_CAP, settings.CLM_EMAIL_FREQUENCY_DAYS = 2, 7
    sent = [send(welcome, contact, key=f"m{i}") for i in range(3)]
    assert [d.status for d in sent] == ["sent", "sent", "refused"]
    assert sent[2].reason == Delivery.Reason.FREQUENCY_CAP and "cap 2" in sent[2].error
    Delivery.objects.filter(pk=sent[0].pk).update(created_at=timezone.now() - timedelta(days=8))
    assert send(welcome, contact, key="m3").status == Delivery.Status.SENT  # the window moved on
    welcome.kind = EmailTemplate.Kind.TRANSACTIONAL
    welcome.save()
    assert send(welcome, contact, key="service").status == Delivery.Status.SENT
    assert len(smtp.messages) == 4


@pytest.mark.django_db(transaction=True)
def test_a_hard_bounce_fails_the_delivery_and_suppresses_the_address(smtp, welcome, contact, heard):
    smtp.refuse["Li.Na@Midea.example"] = ["550 5.1.1 no such user"]
    delivery = send(welcome, contact)
    assert delivery.status == Delivery.Status.FAILED and delivery.reason == Delivery.Reason.BOUNCED
    assert delivery.response_code == 550 and "no such user" in delivery.error
    assert Suppression.objects.filter(address="li.na@midea.example", reason="bounced").exists()
    assert send(welcome, contact, key="later").reason == Delivery.Reason.BOUNCED
    assert smtp.messages == []
    assert (
        "email.suppressed",
        {
            "address": "li.na@midea.example",
            "reason": "bounced",
            "contact_id": contact.pk,
            "account_id": contact.account_id,
        },
    ) in heard


def test_a_transient_smtp_failure_is_retried(smtp, welcome, contact):
    smtp.refuse["Li.Na@Midea.example"] = ["451 4.3.0 try again later"]
    delivery = send(welcome, contact)
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 2
    assert len(smtp.messages) == 1


def test_a_server_that_is_down_fails_the_delivery_after_the_retries(smtp, welcome, contact, settings):
    settings.EMAIL_PORT = 1  # nothing listens there
    delivery = send(welcome, contact)
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 3
    assert "after 3 attempts" in delivery.error and "ConnectionRefusedError" in delivery.error


def test_a_batch_goes_over_one_smtp_connection(smtp, welcome, account):
    contacts = [
        Contact.objects.create(account=account, name=f"C{i}", email=f"c{i}@example.com", email_consent=True)
        for i in range(5)
    ]
    deliveries = send_emails(
        {"template": welcome, "contact": c, "context": {"report_url": REPORT}, "key": f"b{c.pk}"}
        for c in contacts
    )
    assert [d.status for d in deliveries] == ["sent"] * 5
    assert len(smtp.messages) == 5 and smtp.connections == 1


def test_a_template_given_by_key_is_found_and_an_unknown_one_is_a_failed_delivery(smtp, welcome, contact):
    assert send("welcome", contact).status == Delivery.Status.SENT
    missing = send("no-such-template", contact, key="k2")
    assert missing.status == Delivery.Status.FAILED and "no-such-template" in missing.error


def test_a_missing_context_value_fails_the_delivery_naming_it(smtp, welcome, contact):
    delivery = send_email(template=welcome, contact=contact, context={}, key="k")
    assert delivery.status == Delivery.Status.FAILED and "report_url" in delivery.error
    assert smtp.messages == []


# --- the sandbox -----------------------------------------------------------------------------


def variant(template, **fields):
    template = EmailTemplate.objects.create(key="other", name="other", variables=template.variables)
    data = {"template": template, "language": "en", "subject": "s", "html": "<p>x</p>", **fields}
    with pytest.raises(ValidationError) as caught:
        services.create(EmailTemplateVariant, data)
    return caught.value.message_dict


@pytest.mark.parametrize(
    "field, source, expected",
    [
        ("html", "{{ settings.SECRET_KEY }}", "unknown variable settings"),
        ("subject", "{{ request }}", "unknown variable request"),
        ("html", "{{ contact.account.csm }}", "unknown variable contact.account"),
        ("html", "{{ contact.__class__ }}", "'__class__' is private"),
        ("text", "{{ ''.__class__.__base__.__subclasses__() }}", "'__subclasses__' is private"),
        ("html", "{{ contact['_state'] }}", "'_state' is private"),
        ("html", "<p>{% if contact.name %}x</p>", "line 1: Unexpected end of template"),
        ("text", "line one\n{{ contact.name }", "line 2:"),
    ],
)
def test_a_template_is_checked_when_saved_and_its_problem_named(welcome, field, source, expected):
    errors = variant(welcome, **{field: source})
    assert expected in errors[field][0], errors


def test_sandbox_refuses_reaching_python_internals_at_render_time_too():
    for source in ("{{ ''.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}", "{{ 'a' * 10**9 }}"):
        with pytest.raises(templates.TemplateProblem):
            templates.render(source, {})


def test_only_plain_data_reaches_a_template(contact):
    with pytest.raises(templates.TemplateProblem, match=r"context.who is a Contact, not plain data"):
        templates.plain({"who": contact})
    assert templates.plain({"a": [1, "x", {"b": None}]}) == {"a": [1, "x", {"b": None}]}


def test_html_values_are_escaped_and_text_values_are_not():
    values = {"contact": {"name": "<b>A&B</b>"}}
    assert templates.render("{{ contact.name }}", values, html=True) == "&lt;b&gt;A&amp;B&lt;/b&gt;"
    assert templates.render("{{ contact.name }}", values) == "<b>A&B</b>"


def test_declared_variables_may_not_shadow_the_ones_clm_gives(db):
    with pytest.raises(ValidationError) as caught:
        services.create(EmailTemplate, {"key": "x", "name": "x", "variables": ["contact", "ok_name"]})
    assert "contact is given by CLM" in caught.value.message_dict["variables"][0]


# --- tracking and unsubscribe ------------------------------------------------------------------


def path_of(url: str) -> str:
    return url.removeprefix("https://clm.example.com")


@pytest.mark.django_db(transaction=True)
def test_a_click_redirects_to_the_link_that_was_in_the_message_and_is_recorded(smtp, welcome, contact, heard):
    delivery = send(welcome, contact)
    response = Client().get(path_of(tracking.click_url(delivery.pk, 1)))
    assert response.status_code == 302 and response["Location"] == "https://example.com/a?x=1&y=2"
    delivery.refresh_from_db()
    assert delivery.clicked_at and delivery.opened_at  # a click is an open as well
    click = Engagement.objects.get(kind="click")
    assert (click.delivery_id, click.account_id, click.url) == (
        delivery.pk,
        contact.account_id,
        "https://example.com/a?x=1&y=2",
    )
    assert (
        "email.clicked",
        {
            "delivery_id": delivery.pk,
            "key": delivery.key,
            "contact_id": contact.pk,
            "account_id": contact.account_id,
            "template": "welcome",
            "url": "https://example.com/a?x=1&y=2",
        },
    ) in heard


def test_a_click_link_cannot_be_forged_or_pointed_elsewhere(smtp, welcome, contact):
    delivery = send(welcome, contact)
    client = Client()
    good = path_of(tracking.click_url(delivery.pk, 0))
    assert client.get(good[:-2] + "xx").status_code == 404  # a tampered signature
    assert client.get(path_of(tracking.click_url(delivery.pk, 5))).status_code == 404  # no 6th link
    assert (
        client.get("/e/c/" + tracking.token(tracking.OPEN, delivery.pk, 0)).status_code == 404
    )  # another salt
    assert Engagement.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_open_pixel_records_the_first_open_only(smtp, welcome, contact, heard):
    delivery = send(welcome, contact)
    client = Client()
    for _ in range(3):
        response = client.get(path_of(tracking.open_url(delivery.pk)))
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert Engagement.objects.filter(kind="open").count() == 1
    assert [name for name, _ in heard].count("email.opened") == 1
    assert client.get("/e/o/forged.gif").status_code == 200  # the same pixel, nothing recorded
    assert Engagement.objects.count() == 1


def test_one_click_unsubscribe_by_post_suppresses_the_address(smtp, welcome, contact):
    delivery = send(welcome, contact)
    url = path_of(tracking.unsubscribe_url(delivery.pk))
    response = Client(enforce_csrf_checks=True).post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    row = Suppression.objects.get()
    assert (row.address, row.reason, row.contact_id, row.source) == (
        "li.na@midea.example",
        "unsubscribed",
        contact.pk,
        "one-click header",
    )
    assert send(welcome, contact, key="next").reason == Delivery.Reason.UNSUBSCRIBED


def test_the_unsubscribe_page_asks_first_in_the_language_of_the_email(smtp, welcome, contact):
    delivery = send(welcome, contact)
    url = path_of(tracking.unsubscribe_url(delivery.pk))
    page = Client().get(url).content.decode()
    assert "退订" in page and "Li.Na@Midea.example" in page and "<form" in page
    assert Suppression.objects.count() == 0  # a link scanner's GET changes nothing
    done = Client().post(url).content.decode()
    assert "已退订" in done and Suppression.objects.count() == 1
    contact.custom = {"language": "en"}
    contact.save()
    english = send(welcome, contact, key="en")
    page = Client().get(path_of(tracking.unsubscribe_url(english.pk))).content.decode()
    assert "Unsubscribe" in page and "Stop emails from CLM" in page


def test_a_forged_unsubscribe_link_changes_nothing(db):
    response = Client().post("/e/u/1:forged")
    assert response.status_code == 404 and Suppression.objects.count() == 0


def test_a_batch_checks_and_writes_per_hundred_messages_not_per_message(
    smtp, welcome, account, django_assert_max_num_queries
):
    contacts = Contact.objects.bulk_create(
        Contact(account=account, name=f"C{i}", email=f"c{i}@example.com", email_consent=True) for i in range(150)
    )
    items = [{"template": "welcome", "contact": c, "context": {"report_url": REPORT}, "key": f"b{c.pk}"} for c in contacts]
    # templates, accounts, the workspace once; per batch of 100: the claim (insert, locked read,
    # consent, suppression, cap, two writes) and the outcomes
    with django_assert_max_num_queries(30):
        deliveries = send_emails(items)
    assert [d.status for d in deliveries] == ["sent"] * 150
    assert len(smtp.messages) == 150 and smtp.connections == 1
    stored = Delivery.objects.filter(status="sent", attempts=1, response_code=250, language="zh-hans")
    assert stored.exclude(sent_at=None).exclude(links=[]).count() == 150


def test_within_one_batch_each_check_holds_as_it_would_one_message_at_a_time(smtp, welcome, account, settings):
    settings.CLM_EMAIL_FREQUENCY_CAP, settings.CLM_EMAIL_FREQUENCY_DAYS = 2, 7
    often, silent, gone = (
        Contact.objects.create(account=account, name=n, email=f"{n}@example.com", email_consent=n != "silent")
        for n in ("often", "silent", "gone")
    )
    Suppression.objects.create(address="gone@example.com", reason=Suppression.Reason.UNSUBSCRIBED)
    items = [("m1", often), ("m2", often), ("m1", often), ("m3", often), ("s", silent), ("g", gone)]
    deliveries = send_emails(
        {"template": welcome, "contact": c, "context": {"report_url": REPORT}, "key": k} for k, c in items
    )
    assert [(d.key, d.status, d.reason) for d in deliveries] == [
        ("m1", "sent", ""),
        ("m2", "sent", ""),
        ("m1", "sent", ""),  # the same key again: the same delivery, sent once
        ("m3", "refused", "frequency_cap"),
        ("s", "refused", "no_consent"),
        ("g", "refused", "unsubscribed"),
    ]
    assert len(smtp.messages) == 2 and Delivery.objects.count() == 5
    assert send_emails([{"template": welcome, "contact": often, "context": {"report_url": REPORT}, "key": "m1"}])[0].pk == deliveries[0].pk
    assert len(smtp.messages) == 2
