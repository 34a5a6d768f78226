"""REST resources for the customer's voice: surveys (/surveys, with their response rates, and
sending to contacts by email or link), feedback forms (/feedback-forms, and a submission through
the API), and the feedback inbox (/feedback: status, reply, themes). The same services as the
pages, with the same record visibility; errors name the field."""

import datetime as dt
from typing import Annotated, Literal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from clm.automation import surveys as mail
from clm.automation.api_channels import require_member
from clm.core.access import restrict
from clm.core.crud import (
    DEFAULT_LIMIT,
    ApiError,
    InputSchema,
    Limit,
    Offset,
    Text,
    choice,
    one_or_404,
    paginate,
)
from clm.customers.models import Contact
from clm.service import feedback, surveys
from clm.service.feedback_models import FeedbackForm, FeedbackSubmission
from clm.service.models import Survey, SurveyInvitation, SurveyResponse

router = Router()
TAGS_SURVEYS, TAGS_FEEDBACK = ["surveys"], ["feedback"]


class SurveyIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    kind: choice(SurveyResponse.Kind)
    purpose: choice(Survey.Purpose) = Survey.Purpose.RELATIONSHIP
    question_zh: Annotated[Text, Field(min_length=1, max_length=500)]
    question_en: Annotated[Text, Field(min_length=1, max_length=500)]
    roles: list[choice(Contact.Role)] = []
    valid_days: Annotated[int, Field(ge=1, le=365)] = 14
    reminder_days: Annotated[int, Field(ge=0, le=60)] = 3
    active: bool = True


class Rate(Schema):
    invited: int = 0
    reached: int = 0
    answered: int = 0
    reminded: int = 0
    rate: float | None = None


class SurveyOut(Schema):
    id: int
    name: str
    kind: str
    purpose: str
    question_zh: str
    question_en: str
    roles: list[str]
    valid_days: int
    reminder_days: int
    active: bool
    created_at: dt.datetime
    response_rate: Rate


class SurveyPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[SurveyOut]


class SendIn(InputSchema):
    channel: Literal["email", "link"]
    contacts: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=1000)]


class InvitationOut(Schema):
    id: int
    contact: int
    account: int
    channel: str
    expires_at: dt.datetime
    sent_at: dt.datetime | None
    delivery_problem: str
    url: str | None = Field(None, description="the one-time link (channel link only; shown this once)")


def _with_rates(user, rows):
    rates = surveys.response_rates(user, rows)
    for survey in rows:
        survey.response_rate = rates.get(survey.pk, {})
    return rows


@router.get("/surveys", operation_id="list_surveys", response=SurveyPage, tags=TAGS_SURVEYS, summary="List surveys")
def list_surveys(request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    require_member(request.user)
    page = paginate(surveys.visible_surveys(request.user).order_by("-created_at", "-pk"), limit, offset)
    page["items"] = _with_rates(request.user, page["items"])
    return page


@router.post("/surveys", operation_id="create_survey", response={201: SurveyOut}, tags=TAGS_SURVEYS,
             summary="Create a survey")
def create_survey(request, payload: SurveyIn):
    survey = surveys.save_survey(request.user, payload.model_dump(), via="api")
    return Status(201, _with_rates(request.user, [survey])[0])


@router.get("/surveys/{int:id}", operation_id="get_survey", response=SurveyOut, tags=TAGS_SURVEYS,
            summary="One survey with its response rate")
def get_survey(request, id: int):
    require_member(request.user)
    return _with_rates(request.user, [one_or_404(surveys.visible_surveys(request.user), id)])[0]


@router.post("/surveys/{int:id}/send", operation_id="send_survey", response={201: list[InvitationOut]},
             tags=TAGS_SURVEYS, summary="Send a survey to contacts by email, or make their one-time links")
def send_survey(request, id: int, payload: SendIn):
    survey = one_or_404(surveys.visible_surveys(request.user), id)
    wanted = list(dict.fromkeys(payload.contacts))
    contacts = list(restrict(Contact.objects.filter(pk__in=wanted), request.user))
    if len(contacts) != len(wanted):
        missing = sorted(set(wanted) - {c.pk for c in contacts})
        raise ApiError(422, "invalid_data", _("Unknown contacts."), [
            {"loc": ["body", "payload", "contacts"], "message": _("No contact %(id)s among those you may see.") % {"id": pk}}
            for pk in missing])
    sent = mail.send_survey(request.user, survey, contacts, channel=payload.channel, via="api")
    return Status(201, [{
        "id": i.pk, "contact": i.contact_id, "account": i.account_id, "channel": i.channel, "expires_at": i.expires_at,
        "sent_at": i.sent_at, "delivery_problem": i.delivery_problem,
        "url": mail.survey_url(i) if i.channel == SurveyInvitation.Channel.LINK else None,
    } for i, _token in sent])


# --- feedback forms ------------------------------------------------------------------------------


class FieldIn(Schema):
    name: Annotated[str, Field(max_length=40)]
    label: Annotated[Text, Field(max_length=200)]
    type: Literal["text", "long_text", "choice", "multi_choice", "number", "email"]
    required: bool = False
    choices: list[Annotated[Text, Field(max_length=200)]] = []


class FormIn(InputSchema):
    key: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[-a-zA-Z0-9_]+$")]
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    intro: Text = ""
    audience: choice(FeedbackForm.Audience) = FeedbackForm.Audience.PUBLIC
    fields: Annotated[list[FieldIn], Field(min_length=1, max_length=40)]
    sla_days: Annotated[int, Field(ge=0, le=365)] = 7
    active: bool = True


class FormOut(Schema):
    id: int
    key: str
    title: str
    intro: str
    audience: str
    fields: list[dict]
    sla_days: int
    active: bool
    url: str

    @staticmethod
    def resolve_url(obj):
        from django.urls import reverse

        from clm.automation.channels import tracking

        return tracking.absolute(reverse("web:feedback_public", args=[obj.key]))


class SubmissionOut(Schema):
    id: int
    form: str
    values: dict
    category: str
    product: str
    account: int | None = Field(None, alias="account_id")
    contact: int | None = Field(None, alias="contact_id")
    email: str
    status: str
    owner: int | None = Field(None, alias="owner_id")
    team: int | None = Field(None, alias="team_id")
    due_at: dt.datetime
    reply: str
    closed_at: dt.datetime | None
    replied_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_form(obj):
        return obj.form.key


class SubmissionPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[SubmissionOut]


class SubmissionIn(InputSchema):
    values: dict[str, Text | float | list[Text] | None] = Field(description="{field name: value}")


class StatusIn(InputSchema):
    status: choice(FeedbackSubmission.Status)
    reply: Text = ""


class InboxFilters(Schema):
    status: choice(FeedbackSubmission.Status) | None = None
    overdue: bool = False


class Themes(Schema):
    months: list[str]
    categories: list[str]
    counts: dict[str, list[int]]
    total: int


@router.get("/feedback-forms", operation_id="list_feedback_forms", response=list[FormOut], tags=TAGS_FEEDBACK,
            summary="List feedback forms")
def list_feedback_forms(request):
    require_member(request.user)
    return list(FeedbackForm.objects.order_by("title", "pk"))


@router.post("/feedback-forms", operation_id="create_feedback_form", response={201: FormOut}, tags=TAGS_FEEDBACK,
             summary="Create a feedback form")
def create_feedback_form(request, payload: FormIn):
    return Status(201, feedback.save_form(request.user, payload.model_dump(), via="api"))


@router.post("/feedback-forms/{key}/submissions", operation_id="submit_feedback", response={201: SubmissionOut},
             tags=TAGS_FEEDBACK, summary="Submit a feedback form (values by field name)")
def submit_feedback(request, key: str, payload: SubmissionIn):
    form = get_object_or_404(FeedbackForm, key=key)
    item = feedback.submit(form, payload.values, user=request.user, via="api")
    return Status(201, item)


@router.get("/feedback", operation_id="list_feedback", response=SubmissionPage, tags=TAGS_FEEDBACK,
            summary="The feedback inbox")
def list_feedback(request, filters: Query[InboxFilters], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    require_member(request.user)
    rows = feedback.inbox(request.user, status=filters.status or "", overdue=filters.overdue)
    return paginate(rows, limit, offset)


@router.get("/feedback/themes", operation_id="get_feedback_themes", response=Themes, tags=TAGS_FEEDBACK,
            summary="Feedback counted by category and month (12 months)")
def get_feedback_themes(request):
    require_member(request.user)
    counted = feedback.themes(request.user)
    return {**counted, "months": [m.strftime("%Y-%m") for m in counted["months"]]}


@router.post("/feedback/{int:id}/status", operation_id="set_feedback_status", response=SubmissionOut,
             tags=TAGS_FEEDBACK, summary="Move feedback on; closing it emails the reply to the customer")
def set_feedback_status(request, id: int, payload: StatusIn):
    item = one_or_404(feedback.inbox(request.user), id)
    return feedback.set_status(request.user, item, payload.status, reply=payload.reply, via="api")
