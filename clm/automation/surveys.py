"""The customer's voice through the email channel: survey invitations and their one reminder
(frequency-capped, unsubscribes respected: they go through clm.automation.channels like any
marketing mail), the transactional survey sent when a ticket closes, and the reply that closes
the loop on a feedback submission. The records and rules are clm.service's."""

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

from clm.automation.channels import send_emails, tracking
from clm.automation.channels.library import save_template
from clm.automation.models import Delivery, EmailTemplate
from clm.core.events import Event, listen
from clm.core.models import Workspace
from clm.customers.models import Contact
from clm.service import feedback, surveys
from clm.service.models import FeedbackSubmission, Survey, SurveyInvitation, Ticket

INVITATION, REMINDER, REPLY = "survey-invitation", "survey-reminder", "feedback-reply"

# The shipped templates, made the first time they are needed; editable under Channels afterwards.
SHIPPED = {
    INVITATION: {
        "name": "Survey invitation", "kind": EmailTemplate.Kind.MARKETING, "variables": ["survey_url", "question"],
        "variants": [
            {"language": "zh-hans", "subject": "{{ company.name }} 想听听您的意见",
             "html": "<p>{{ contact.name }}，您好：</p><p>{{ question }}</p>"
                     '<p><a href="{{ survey_url }}">点此作答（约 1 分钟）</a></p><p>{{ company.name }}</p>',
             "text": "{{ contact.name }}，您好：\n\n{{ question }}\n\n点此作答（约 1 分钟）：{{ survey_url }}\n\n{{ company.name }}"},
            {"language": "en", "subject": "{{ company.name }} would like your opinion",
             "html": "<p>Dear {{ contact.name }},</p><p>{{ question }}</p>"
                     '<p><a href="{{ survey_url }}">Answer (about a minute)</a></p><p>{{ company.name }}</p>',
             "text": "Dear {{ contact.name }},\n\n{{ question }}\n\nAnswer (about a minute): {{ survey_url }}\n\n{{ company.name }}"},
        ],
    },
    REMINDER: {
        "name": "Survey reminder", "kind": EmailTemplate.Kind.MARKETING, "variables": ["survey_url", "question"],
        "variants": [
            {"language": "zh-hans", "subject": "提醒：{{ company.name }} 的一个小问题",
             "html": "<p>{{ contact.name }}，您好：</p><p>前几天我们请您回答：{{ question }}</p>"
                     '<p><a href="{{ survey_url }}">点此作答</a>，您的意见对我们很重要。</p><p>{{ company.name }}</p>',
             "text": "{{ contact.name }}，您好：\n\n前几天我们请您回答：{{ question }}\n\n点此作答：{{ survey_url }}\n\n{{ company.name }}"},
            {"language": "en", "subject": "Reminder: one question from {{ company.name }}",
             "html": "<p>Dear {{ contact.name }},</p><p>A few days ago we asked: {{ question }}</p>"
                     '<p><a href="{{ survey_url }}">Answer here</a>; your opinion matters to us.</p><p>{{ company.name }}</p>',
             "text": "Dear {{ contact.name }},\n\nA few days ago we asked: {{ question }}\n\nAnswer here: {{ survey_url }}\n\n{{ company.name }}"},
        ],
    },
    REPLY: {
        "name": "Feedback reply", "kind": EmailTemplate.Kind.TRANSACTIONAL, "variables": ["form_title", "reply", "status"],
        "variants": [
            {"language": "zh-hans", "subject": "关于您的反馈（{{ form_title }}）",
             "html": "<p>{{ contact.name }}，您好：</p><p>感谢您的反馈。处理结果：{{ status }}</p><p>{{ reply }}</p><p>{{ company.name }}</p>"},
            {"language": "en", "subject": "About your feedback ({{ form_title }})",
             "html": "<p>Dear {{ contact.name }},</p><p>Thank you for your feedback. Outcome: {{ status }}</p><p>{{ reply }}</p><p>{{ company.name }}</p>"},
        ],
    },
}


def ensure_template(key: str) -> EmailTemplate:
    found = EmailTemplate.objects.filter(key=key).first()
    if found is not None:
        return found
    return save_template(None, {"key": key, **SHIPPED[key]}, via="system")


def survey_url(invitation: SurveyInvitation) -> str:
    return tracking.absolute(reverse("web:survey_answer", args=[surveys.token_for(invitation)]))


def _language(contact: Contact) -> str:
    wanted = contact.custom.get("language") if isinstance(contact.custom, dict) else ""
    return "zh-hans" if not isinstance(wanted, str) or wanted.lower().startswith("zh") or not wanted else "en"


def _problem(delivery: Delivery) -> str:
    if delivery.status == Delivery.Status.SENT:
        return ""
    return delivery.reason or delivery.status


def email_invitations(invitations: list[SurveyInvitation], *, reminder: bool = False) -> list[Delivery]:
    """Email each invitation (or its reminder) once; the invitations record what happened. Call
    outside a transaction, after the one that made them committed."""
    if not invitations:
        return []
    template = ensure_template(REMINDER if reminder else INVITATION)
    items = [
        {
            "template": template, "contact": i.contact,
            "key": f"{'survey-reminder' if reminder else 'survey'}:{i.pk}",
            "context": {"survey_url": survey_url(i), "question": i.survey.question(_language(i.contact))},
        }
        for i in invitations
    ]
    deliveries = send_emails(items)
    surveys.mark_sent([(i, _problem(d)) for i, d in zip(invitations, deliveries, strict=True)], reminder=reminder)
    return deliveries


def send_survey(actor, survey: Survey, contacts: list[Contact], *, channel: str, via: str = "ui"):
    """Invite the contacts (refused as a whole when any is not the actor's to survey) and, by
    email, send the invitations: [(invitation, token)]; the token is for the link channel, where
    the caller hands the links over."""
    invitations = surveys.invite(actor, survey, contacts, channel=channel, via=via)
    if channel == SurveyInvitation.Channel.EMAIL:
        email_invitations(invitations)
    return [(i, surveys.token_for(i)) for i in invitations]


def send_reminders() -> int:
    """The one reminder to each emailed invitation unanswered after its survey's reminder days."""
    due = surveys.due_reminders()
    email_invitations(due, reminder=True)
    return len(due)


@listen("ticket.closed")
def survey_after_ticket(event: Event) -> None:
    """A closed ticket with a contact gets the transactional survey, once per ticket."""
    from clm.automation import tasks

    if event.payload.get("before") in ("resolved", "closed"):
        return
    tasks.survey_closed_ticket(event.payload["ticket_id"])


def survey_closed_ticket(ticket_id: int) -> SurveyInvitation | None:
    survey = surveys.transactional_survey()
    ticket = Ticket.objects.select_related("contact").filter(pk=ticket_id).first()
    if survey is None or ticket is None or ticket.contact is None:
        return None
    with transaction.atomic():
        if SurveyInvitation.objects.filter(survey=survey, ticket=ticket).exists():
            return None
        [invitation] = surveys.invite(None, survey, [ticket.contact], channel="email", ticket=ticket, via="system")
    email_invitations([invitation])
    return invitation


@listen("feedback.closed")
def reply_when_closed(event: Event) -> None:
    from clm.automation import tasks

    tasks.reply_to_feedback(event.payload["submission_id"])


def reply_to_feedback(submission_id: int) -> str:
    """Email the reply of a closed submission: through the email channel to its contact (consent
    and suppression respected), or straight to the address a non-contact gave. Returns '' or the
    reason it was not sent, which the submission keeps."""
    submission = FeedbackSubmission.objects.select_related("form", "contact").get(pk=submission_id)
    if not submission.is_closed or not submission.reply:
        return "not_closed"
    language = submission.language or (_language(submission.contact) if submission.contact else "zh-hans")
    with translation.override(language):
        status = str(FeedbackSubmission.Status(submission.status).label)
    context = {"form_title": submission.form.title, "reply": submission.reply, "status": status}
    key = f"feedback-reply:{submission.pk}:{submission.closed_at.isoformat()}"
    if submission.contact is not None:
        [delivery] = send_emails([{"template": ensure_template(REPLY), "contact": submission.contact,
                                   "context": context, "key": key}])
        problem = _problem(delivery)
    elif submission.email:
        problem = _reply_directly(submission, context, language)
    else:
        problem = "no_address"
    feedback.mark_replied(submission.pk, problem)
    return problem


def _reply_directly(submission: FeedbackSubmission, context: dict, language: str) -> str:
    company = Workspace.current().name
    with translation.override(language):
        subject = _("About your feedback (%(form)s)") % {"form": submission.form.title}
        text = "\n\n".join([_("Thank you for your feedback. Outcome: %(status)s") % {"status": context["status"]},
                            submission.reply, company])
    html = linebreaks(escape(text))
    message = EmailMultiAlternatives(subject, text, to=[submission.email])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except OSError as exc:
        return f"failed: {type(exc).__name__}"[:300]
    return ""
