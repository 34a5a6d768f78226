"""Surveys sent through the email channel to a real SMTP server (aiosmtpd on 127.0.0.1): a
relationship survey to the decision chain's chosen roles, answered through the public page from
the emailed link; unsubscribes and the frequency cap respected; one reminder; the transactional
survey after a ticket closes; a detractor's answer enrolls the nps-detractor-call play; the reply
that closes a feedback submission's loop."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from clm.automation import surveys as mail
from clm.automation.models import Suppression, Task
from clm.automation.playbooks import services as playbooks
from clm.core import services
from clm.customers.models import Contact
from clm.service import feedback, surveys
from clm.service.models import FeedbackForm, Survey, SurveyInvitation, SurveyResponse, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def nps(db):
    return Survey.objects.create(
        name="2026 Q4 关系型 NPS", kind="nps", question_zh="您有多大可能向同行推荐我们？",
        question_en="How likely are you to recommend us to a colleague?", roles=["decision_maker", "influencer"],
        reminder_days=3, valid_days=14,
    )


@pytest.fixture
def chain(account):
    """The decision chain: a decision maker (Chinese), an influencer (English), a user."""
    return [
        Contact.objects.create(account=account, name="李娜", email="li.na@midea.example", email_consent=True,
                               role="decision_maker"),
        Contact.objects.create(account=account, name="Tom Lee", email="tom@midea.example", email_consent=True,
                               role="influencer", custom={"language": "en"}),
        Contact.objects.create(account=account, name="王强", email="wq@midea.example", email_consent=True, role="user"),
    ]


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https://clm\.example\.com(/s/[^\s]+/)", text).group(1)


def test_a_relationship_survey_reaches_the_chosen_roles_in_their_language_and_is_answered_once(
    smtp, nps, chain, csm
):
    recipients = surveys.recipients(nps, Contact.objects.filter(account=chain[0].account))
    assert [c.name for c in recipients] == ["李娜", "Tom Lee"]  # the user is not in the survey's roles
    mail.send_survey(None, nps, recipients, channel="email")
    by_address = {m["To"]: m for m in smtp.messages}
    assert set(by_address) == {"li.na@midea.example", "tom@midea.example"}
    assert "您有多大可能向同行推荐我们？" in by_address["li.na@midea.example"].get_body(("plain",)).get_content()
    assert by_address["tom@midea.example"]["Subject"] == "CLM would like your opinion"
    # the token is in the link, never in the database: only its SHA-256
    path = link_in(by_address["li.na@midea.example"])
    token = path.split("/")[2]
    invitation = SurveyInvitation.objects.get(contact=chain[0])
    assert invitation.sent_at and invitation.delivery_problem == ""
    assert token not in {invitation.salt, invitation.token_hash} and invitation.token_hash == surveys.hash_token(token)

    client = Client()
    page = client.get(path)
    assert page.status_code == 200 and "您有多大可能向同行推荐我们？" in page.content.decode()
    assert 'lang="zh-Hans"' in page.content.decode() and "CLM" in page.content.decode()
    assert client.post(path, {"score": "3", "comment": "实施太慢"}).status_code == 200
    response = SurveyResponse.objects.get()
    assert (response.kind, response.score, response.comment, response.survey_id) == ("nps", 3, "实施太慢", nps.pk)
    assert response.contact_id == chain[0].pk and response.account_id == chain[0].account_id

    again = client.post(path, {"score": "10"})
    assert again.status_code == 410 and "您已经回答过了" in again.content.decode()
    assert SurveyResponse.objects.count() == 1
    # the response rate: 1 answered of 2 reached
    assert surveys.response_rates(csm, [nps])[nps.pk] == {
        "invited": 2, "reached": 2, "answered": 1, "reminded": 0, "rate": 0.5}


def test_an_unsubscribed_contact_is_not_emailed_and_the_cap_holds(smtp, nps, chain, settings):
    Suppression.objects.create(address="tom@midea.example", reason=Suppression.Reason.UNSUBSCRIBED)
    settings.CLM_EMAIL_FREQUENCY_CAP = 1
    mail.send_survey(None, nps, chain[:2], channel="email")
    assert [m["To"] for m in smtp.messages] == ["li.na@midea.example"]
    assert SurveyInvitation.objects.get(contact=chain[1]).delivery_problem == "unsubscribed"
    other = Survey.objects.create(name="CSAT", kind="csat", question_zh="满意吗？", question_en="Satisfied?")
    mail.send_survey(None, other, [chain[0]], channel="email")
    assert len(smtp.messages) == 1  # over the cap of one marketing email a week
    assert SurveyInvitation.objects.get(survey=other).delivery_problem == "frequency_cap"


def test_one_reminder_goes_to_those_who_have_not_answered(smtp, nps, chain):
    mail.send_survey(None, nps, chain[:2], channel="email")
    answered = SurveyInvitation.objects.get(contact=chain[1])
    surveys.answer(surveys.token_for(answered), 9)
    assert mail.send_reminders() == 0  # not yet three days
    SurveyInvitation.objects.update(sent_at=timezone.now() - dt.timedelta(days=3, minutes=1))
    assert mail.send_reminders() == 1
    reminder = smtp.messages[-1]
    assert reminder["To"] == "li.na@midea.example" and reminder["Subject"].startswith("提醒")
    assert link_in(reminder) == link_in(smtp.messages[0])  # the same link works
    assert mail.send_reminders() == 0 and len(smtp.messages) == 3  # once only


def test_a_closed_ticket_gets_the_transactional_survey_once(smtp, chain):
    csat = Survey.objects.create(name="工单满意度", kind="csat", purpose="transactional",
                                 question_zh="您对这次服务满意吗？", question_en="How satisfied are you with this support?")
    ticket = services.create(Ticket, {"account": chain[1].account, "contact": chain[1], "subject": "导出失败",
                                      "opened_at": timezone.now()})
    services.update(ticket, {"status": "resolved", "resolved_at": timezone.now()})
    services.update(ticket, {"status": "closed"})  # resolved → closed: no second survey
    [message] = smtp.messages
    assert message["To"] == "tom@midea.example" and "How satisfied are you" in message.get_body(("plain",)).get_content()
    invitation = SurveyInvitation.objects.get()
    assert invitation.survey == csat and invitation.ticket == ticket


def test_a_detractor_answer_enrolls_the_call_play(smtp, nps, chain, admin_user, csm):
    account = chain[0].account
    account.csm = csm
    account.save()
    playbooks.enable_template("nps-detractor-call", actor=admin_user)
    [(invitation, token)] = mail.send_survey(None, nps, [chain[0]], channel="link")
    assert smtp.messages == []  # by link: nothing emailed
    surveys.answer(token, 4, "")
    task = Task.objects.get(account=account)
    assert task.assignee == csm and "48" in task.title


def test_only_a_promoter_on_the_advocates_list_is_asked_for_a_referral(nps, chain, admin_user, owner):
    from clm.customers.models import Account
    from clm.value.models import CLVEstimate
    from tests.factories import make_account

    healthy = chain[0].account
    Account.objects.filter(pk=healthy.pk).update(lifecycle_stage="mature", health_band="green", health_score=86,
                                                 sales_owner=owner)
    red = make_account("风险客户", lifecycle_stage="mature", health_band="red", health_score=41, sales_owner=owner)
    low = make_account("低价值客户", lifecycle_stage="growth", health_band="green", health_score=80, sales_owner=owner)
    # the customers' median CLV is ¥600,000: the healthy account is at it, the low-value one below
    for account, value in ((healthy, 600000), (red, 900000), (low, 1000)):
        CLVEstimate.objects.create(account=account, as_of=dt.date(2026, 1, 1), method="sbg", value=value,
                                   historical_value=0, future_value=value)
    contacts = [chain[0]] + [
        Contact.objects.create(account=a, name=n, email=e, email_consent=True, role="decision_maker")
        for a, n, e in ((red, "赵敏", "zhao@red.example"), (low, "钱多", "qian@low.example"))]
    playbooks.enable_template("promoter-referral-ask", actor=admin_user)
    for contact in contacts:
        [(_invitation, token)] = mail.send_survey(None, nps, [contact], channel="link")
        surveys.answer(token, 10, "")
    assert list(Task.objects.values_list("account__name", "assignee__username")) == [(healthy.name, "owner")]


def test_closing_feedback_emails_the_reply_to_the_contact_and_to_a_stranger(smtp, chain, admin_user):
    form = feedback.save_form(admin_user, {"key": "ideas", "title": "产品建议", "fields": [
        {"name": "email", "label": "邮箱", "type": "email", "required": True},
        {"name": "idea", "label": "建议", "type": "long_text", "required": True}]})
    from_contact = feedback.submit(form, {"email": "li.na@midea.example", "idea": "希望支持钉钉登录"})
    from_stranger = feedback.submit(form, {"email": "someone@else.example", "idea": "Dark mode"}, language="en")
    feedback.set_status(admin_user, from_contact, "planned")
    assert smtp.messages == []
    feedback.set_status(admin_user, from_contact, "done", reply="钉钉登录已在 3.2 版上线。")
    feedback.set_status(admin_user, from_stranger, "declined", reply="Not planned this year.")
    to_contact, to_stranger = smtp.messages
    assert to_contact["To"] == "li.na@midea.example" and "钉钉登录已在 3.2 版上线。" in to_contact.get_body(("plain",)).get_content()
    assert "已完成" in to_contact.get_body(("plain",)).get_content()
    assert to_stranger["To"] == "someone@else.example" and "Not planned this year." in to_stranger.get_body(("plain",)).get_content()
    assert "Declined" in to_stranger.get_body(("plain",)).get_content()
    from_contact.refresh_from_db()
    assert from_contact.replied_at and from_contact.reply_problem == ""
    assert FeedbackForm.objects.get().submissions.filter(replied_at__isnull=False).count() == 2
