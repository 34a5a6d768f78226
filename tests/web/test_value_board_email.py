"""The value board's link emailed to a customer's contact through a real SMTP server on 127.0.0.1:
the CSM picks the contact on the plan page, the contact receives a working link in their
language, the email is on the account's timeline; revoking the link makes the emailed link open
the refusal page; a contact who may not be emailed gets nothing, and no live link is left."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from clm.customers.models import Contact, Interaction
from clm.success import plans
from clm.success.models import ValueBoardLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(huawei):
    today = timezone.localdate()
    made = plans.create_plan(None, huawei, title="2026 客户成长计划", starts_on=today - dt.timedelta(days=40),
                             ends_on=today + dt.timedelta(days=325))
    plans.add_objective(None, made, goal="每天都在用", target=9, unit="人/天", metric="active_users")
    return made


def test_the_csm_emails_the_board_link_and_revoking_it_closes_the_emailed_link(login, csm, plan, huawei, smtp, client):
    tom = Contact.objects.create(account=huawei, name="Tom Lee", email="tom@huawei.example", email_consent=True,
                                 role="decision_maker", custom={"language": "en"})
    signed_in = login(csm)
    page = signed_in.get(f"/plans/{plan.pk}/").content.decode()
    assert "tom@huawei.example" in page
    response = signed_in.post(f"/plans/{plan.pk}/email_link/", {"contact": tom.pk, "days": 30})
    assert response.status_code == 302
    [message] = smtp.messages
    assert message["To"] == "tom@huawei.example" and "the value board of 2026 客户成长计划" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    path = re.search(r"https://clm\.example\.com(/board/[^\s]+/)", body).group(1)
    link = ValueBoardLink.objects.get()
    assert link.language == "en" and f"valid until {link.expires_at.date().isoformat()}" in body
    note = Interaction.objects.get(account=huawei, contact=tom)
    assert (note.type, note.direction, note.contact, note.owner) == ("email", "outbound", tom, csm)
    # the note is written in the CSM's language (Chinese here), the email in the contact's
    assert "效果数据看板链接发送给 Tom Lee（tom@huawei.example）" in note.summary
    assert "发送给 Tom Lee" in signed_in.get(f"/accounts/{huawei.pk}/").content.decode()  # on the timeline
    client.logout()  # the customer has no account here (login() signs in this same client)
    opened = client.get(path)
    assert opened.status_code == 200 and "每天都在用" in opened.content.decode()
    assert login(csm).post(f"/plans/{plan.pk}/revoke/", {"link": link.pk}).status_code == 302
    assert ValueBoardLink.objects.get().revoked_at is not None
    client.logout()
    refused = client.get(path)
    assert refused.status_code == 410 and "The link was withdrawn" in refused.content.decode()


def test_a_contact_who_may_not_be_emailed_gets_nothing_and_no_link_stays_live(login, csm, plan, huawei, smtp):
    no = Contact.objects.create(account=huawei, name="李娜", email="li@huawei.example", email_consent=False)
    response = login(csm).post(f"/plans/{plan.pk}/email_link/", {"contact": no.pk, "days": 30})
    assert response.status_code == 422
    assert "was not sent" in response.content.decode() or "未发送" in response.content.decode()
    assert smtp.messages == [] and not Interaction.objects.filter(contact=no).exists()
    assert not ValueBoardLink.objects.filter(revoked_at__isnull=True).exists()
    assert login(csm).post(f"/plans/{plan.pk}/email_link/", {"contact": 999999, "days": 30}).status_code == 422
