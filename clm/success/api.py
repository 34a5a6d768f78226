"""REST resources of the success programmes: activation definitions, onboardings and their
milestones, success plans with objectives, milestones, QBRs and value-board links. Reads go
through record visibility (a plan or onboarding the caller cannot see is a 404); every change goes
through clm.success's services, which check permissions, validate and audit with via="api"."""

import datetime as dt
from typing import Annotated

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from clm.automation.api import _account, _user
from clm.core.access import restrict, visible_records
from clm.core.crud import (
    DEFAULT_LIMIT,
    Id,
    InputSchema,
    Limit,
    Offset,
    Text,
    choice,
    invalid,
    one_or_404,
    paginate,
    require,
)
from clm.customers.models import Contact
from clm.success import board, onboarding, plans
from clm.success.models import (
    ActivationDefinition,
    Objective,
    Onboarding,
    OnboardingStep,
    PlanMilestone,
    SuccessPlan,
    ValueBoardLink,
)

router = Router(tags=["success"])
Title = Annotated[Text, Field(min_length=1, max_length=200)]


# -- schemas --------------------------------------------------------------------------------------


class MilestoneDefinitionOut(Schema):
    id: int
    name: str
    name_zh: str
    kind: str = Field(description="core_feature, active_users, integration, event or manual")
    target: str = Field(description="the feature key or event name counted (empty: any core feature)")
    count: int
    days_allowed: int
    first_value: bool


class DefinitionOut(Schema):
    id: int
    name: str
    name_zh: str
    product: int | None = Field(validation_alias="product_id")
    industry: str
    tier: str
    active: bool
    milestones: list[MilestoneDefinitionOut]

    @staticmethod
    def resolve_milestones(obj):
        return list(obj.milestones.all())


class StepOut(Schema):
    id: int
    milestone: str = Field(validation_alias="milestone.name")
    kind: str = Field(validation_alias="milestone.kind")
    due_on: dt.date
    completed_on: dt.date | None
    completed_by: int | None = Field(validation_alias="completed_by_id")
    completed_via: str = Field(description="usage, hand, or empty while open")
    evidence: str
    case: int | None = Field(validation_alias="case_id")


class OnboardingOut(Schema):
    id: int
    account: int = Field(validation_alias="account_id")
    account_name: str = Field(validation_alias="account.name")
    definition: int = Field(validation_alias="definition_id")
    started_on: dt.date
    status: str = Field(description="in_progress, activated or cancelled")
    activated_on: dt.date | None
    first_value_on: dt.date | None
    steps: list[StepOut]

    @staticmethod
    def resolve_steps(obj):
        return list(obj.steps.select_related("milestone").all())


class OnboardingPage(Schema):
    count: int
    items: list[OnboardingOut]


class OnboardingStart(InputSchema):
    account: Id
    started_on: dt.date | None = Field(None, description="the contract start; default: the latest contract's")
    definition: Id | None = Field(None, description="default: the active definition that fits the account best")


class StepComplete(InputSchema):
    on: dt.date | None = Field(None, description="the day it was reached; default today")
    note: Annotated[Text, Field(max_length=200)] = ""


class ObjectiveOut(Schema):
    id: int
    goal: str
    target: float
    unit: str
    metric: str
    feature: str
    baseline: float
    current: float | None
    current_on: dt.date | None
    progress: float | None = Field(None, description="0–1 from the baseline to the target")

    @staticmethod
    def resolve_progress(obj):
        from clm.success.rules import progress

        return progress(obj.baseline, obj.target, obj.current)


class MilestoneOut(Schema):
    id: int
    title: str
    due_on: dt.date
    owner_user: int | None = Field(validation_alias="owner_user_id")
    owner_contact: int | None = Field(validation_alias="owner_contact_id")
    done_on: dt.date | None


class QbrOut(Schema):
    id: int
    held_on: dt.date
    agenda: str
    outcomes: str
    contacts: list[int]
    users: list[int]
    next_steps: list[int] = Field(description="the tasks made from its next steps")

    @staticmethod
    def resolve_contacts(obj):
        return [c.pk for c in obj.contacts.all()]

    @staticmethod
    def resolve_users(obj):
        return [u.pk for u in obj.users.all()]

    @staticmethod
    def resolve_next_steps(obj):
        return [t.pk for t in obj.next_steps.all()]


class PlanOut(Schema):
    id: int
    account: int = Field(validation_alias="account_id")
    account_name: str = Field(validation_alias="account.name")
    title: str
    starts_on: dt.date
    ends_on: dt.date | None
    owner: int | None = Field(validation_alias="owner_id")
    status: str = Field(description="on_track, behind or stuck")
    status_display: str = Field(description="the status in the caller's language")
    status_since: dt.date | None
    status_facts: dict = Field(description="what the status rule saw")
    closed_on: dt.date | None
    objectives: list[ObjectiveOut]
    milestones: list[MilestoneOut]
    qbrs: list[QbrOut]

    @staticmethod
    def resolve_status_display(obj):
        return str(obj.get_status_display())

    @staticmethod
    def resolve_objectives(obj):
        return list(obj.objectives.all())

    @staticmethod
    def resolve_milestones(obj):
        return list(obj.milestones.all())

    @staticmethod
    def resolve_qbrs(obj):
        return list(obj.qbrs.prefetch_related("contacts", "users", "next_steps"))


class PlanPage(Schema):
    count: int
    items: list[PlanOut]


class PlanCreate(InputSchema):
    account: Id
    title: Title
    starts_on: dt.date
    ends_on: dt.date | None = None
    owner: Id | None = None


class PlanPatch(InputSchema):
    title: Title | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    owner: Id | None = None


class ObjectiveCreate(InputSchema):
    goal: Title
    target: float
    unit: Annotated[Text, Field(max_length=30)] = ""
    metric: choice(Objective.Metric, blank=True) = ""
    feature: Annotated[Text, Field(max_length=100)] = ""
    baseline: float | None = Field(None, description="required without a metric; with one, default: the 30 days before the plan")
    current: float | None = Field(None, description="without a metric: the value now")


class ObjectivePatch(InputSchema):
    goal: Title | None = None
    target: float | None = None
    unit: Annotated[Text, Field(max_length=30)] | None = None
    baseline: float | None = None
    current: float | None = None


class MilestoneCreate(InputSchema):
    title: Title
    due_on: dt.date
    owner_user: Id | None = None
    owner_contact: Id | None = Field(None, description="a contact of the plan's account")


class MilestoneComplete(InputSchema):
    on: dt.date | None = None


class NextStep(InputSchema):
    title: Title
    due_on: dt.date | None = None
    assignee: Id | None = None
    contact: Id | None = None


class QbrCreate(InputSchema):
    held_on: dt.date
    agenda: Annotated[Text, Field(min_length=1, max_length=5000)]
    outcomes: Annotated[Text, Field(max_length=5000)] = ""
    contacts: list[Id] = Field(default_factory=list, max_length=50)
    users: list[Id] = Field(default_factory=list, max_length=50)
    next_steps: list[NextStep] = Field(default_factory=list, max_length=20)


class LinkCreate(InputSchema):
    language: choice(ValueBoardLink.Language) = ValueBoardLink.Language.ZH
    days: int = Field(board.DEFAULT_DAYS, ge=1, le=board.MAX_DAYS)


class LinkOut(Schema):
    id: int
    language: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    views: int
    last_viewed_at: dt.datetime | None


class LinkCreated(LinkOut):
    url: str = Field(description="the board's address with its token: shown this once")


# -- look-ups -----------------------------------------------------------------------------------


def _contact(user, pk, field="contact"):
    contact = restrict(Contact.objects.all(), user).filter(pk=pk).first()
    if contact is None:
        raise invalid({field: _("unknown contact %(id)s") % {"id": pk}})
    return contact


def _plan(request, id: int) -> SuccessPlan:
    require(request.user, "view", SuccessPlan)
    return one_or_404(visible_records(SuccessPlan, request.user).select_related("account"), id)


def _onboarding(request, id: int) -> Onboarding:
    require(request.user, "view", Onboarding)
    return one_or_404(visible_records(Onboarding, request.user).select_related("account"), id)


# -- onboarding ---------------------------------------------------------------------------------


@router.get("/activation-definitions", operation_id="list_activation_definitions", response=list[DefinitionOut],
            summary="Activation definitions and their milestones")
def list_definitions(request):
    require(request.user, "view", ActivationDefinition)
    return ActivationDefinition.objects.prefetch_related("milestones")


@router.get("/onboardings", operation_id="list_onboardings", response=OnboardingPage, summary="List onboardings")
def list_onboardings(
    request,
    status: choice(Onboarding.Status) | None = None,
    account: Id | None = None,
    late: bool = Query(False, description="only onboardings with a milestone past its due date"),
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
):
    require(request.user, "view", Onboarding)
    rows = visible_records(Onboarding, request.user).select_related("account")
    if status:
        rows = rows.filter(status=status)
    if account:
        rows = rows.filter(account_id=account)
    if late:
        rows = rows.filter(steps__completed_on__isnull=True, steps__due_on__lt=timezone.localdate()).distinct()
    return paginate(rows.order_by("-started_on", "-id"), limit, offset)


@router.post("/onboardings", operation_id="start_onboarding", response={201: OnboardingOut},
             summary="Start an account's onboarding")
def start_onboarding(request, payload: OnboardingStart):
    definition = None
    if payload.definition:
        definition = ActivationDefinition.objects.filter(pk=payload.definition, active=True).first()
        if definition is None:
            raise invalid({"definition": _("unknown activation definition %(id)s") % {"id": payload.definition}})
    made = onboarding.start_onboarding(request.user, _account(request.user, payload.account),
                                       started_on=payload.started_on, definition=definition, via="api")
    return Status(201, made)


@router.get("/onboardings/{int:id}", operation_id="get_onboarding", response=OnboardingOut, summary="One onboarding")
def get_onboarding(request, id: int):
    return _onboarding(request, id)


@router.post("/onboardings/{int:id}/steps/{int:step}/complete", operation_id="complete_onboarding_step",
             response=OnboardingOut, summary="Mark an onboarding milestone done by hand")
def complete_step(request, id: int, step: int, payload: StepComplete):
    found = _onboarding(request, id)
    row = one_or_404(OnboardingStep.objects.filter(onboarding=found), step)
    onboarding.complete_step(request.user, row, on=payload.on, note=payload.note, via="api")
    found.refresh_from_db()
    return found


# -- success plans ------------------------------------------------------------------------------


@router.get("/success-plans", operation_id="list_success_plans", response=PlanPage, summary="List success plans")
def list_plans(
    request,
    status: choice(SuccessPlan.Status) | None = None,
    account: Id | None = None,
    closed: bool = Query(False, description="closed plans instead of open ones"),
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
):
    require(request.user, "view", SuccessPlan)
    rows = visible_records(SuccessPlan, request.user).select_related("account").filter(closed_on__isnull=not closed)
    if status:
        rows = rows.filter(status=status)
    if account:
        rows = rows.filter(account_id=account)
    return paginate(rows.order_by("-starts_on", "-id"), limit, offset)


@router.post("/success-plans", operation_id="create_success_plan", response={201: PlanOut},
             summary="Start a success plan")
def create_plan(request, payload: PlanCreate):
    plan = plans.create_plan(
        request.user, _account(request.user, payload.account), title=payload.title, starts_on=payload.starts_on,
        ends_on=payload.ends_on, owner=_user(payload.owner, "owner") if payload.owner else None, via="api",
    )
    return Status(201, plan)


@router.get("/success-plans/{int:id}", operation_id="get_success_plan", response=PlanOut, summary="One success plan")
def get_plan(request, id: int):
    return _plan(request, id)


@router.patch("/success-plans/{int:id}", operation_id="update_success_plan", response=PlanOut,
              summary="Change a success plan")
def update_plan(request, id: int, payload: PlanPatch):
    plan = _plan(request, id)
    changes = payload.model_dump(exclude_unset=True)
    if changes.get("owner") is not None:
        changes["owner"] = _user(changes["owner"], "owner")
    for key in ("title", "starts_on"):
        if key in changes and changes[key] is None:
            raise invalid({key: _("may not be empty")})
    return plans.update_plan(request.user, plan, changes, via="api")


@router.post("/success-plans/{int:id}/close", operation_id="close_success_plan", response=PlanOut,
             summary="Close a success plan")
def close_plan(request, id: int):
    return plans.close_plan(request.user, _plan(request, id), via="api")


@router.post("/success-plans/{int:id}/objectives", operation_id="create_plan_objective", response={201: ObjectiveOut},
             summary="Add an objective to a plan")
def add_objective(request, id: int, payload: ObjectiveCreate):
    made = plans.add_objective(request.user, _plan(request, id), via="api", **payload.model_dump())
    return Status(201, made)


@router.patch("/success-plans/{int:id}/objectives/{int:objective}", operation_id="update_plan_objective",
              response=ObjectiveOut, summary="Change an objective")
def update_objective(request, id: int, objective: int, payload: ObjectivePatch):
    found = one_or_404(Objective.objects.filter(plan=_plan(request, id)).select_related("plan"), objective)
    return plans.update_objective(request.user, found, payload.model_dump(exclude_unset=True), via="api")


@router.post("/success-plans/{int:id}/milestones", operation_id="create_plan_milestone", response={201: MilestoneOut},
             summary="Add a milestone to a plan")
def add_milestone(request, id: int, payload: MilestoneCreate):
    plan = _plan(request, id)
    made = plans.add_milestone(
        request.user, plan, title=payload.title, due_on=payload.due_on,
        owner_user=_user(payload.owner_user, "owner_user") if payload.owner_user else None,
        owner_contact=_contact(request.user, payload.owner_contact, "owner_contact") if payload.owner_contact else None,
        via="api",
    )
    return Status(201, made)


@router.post("/success-plans/{int:id}/milestones/{int:milestone}/complete", operation_id="complete_plan_milestone",
             response=MilestoneOut, summary="Mark a plan milestone done")
def complete_milestone(request, id: int, milestone: int, payload: MilestoneComplete):
    found = one_or_404(PlanMilestone.objects.filter(plan=_plan(request, id)).select_related("plan"), milestone)
    return plans.complete_milestone(request.user, found, on=payload.on, via="api")


@router.post("/success-plans/{int:id}/qbrs", operation_id="create_qbr", response={201: QbrOut},
             summary="Record a QBR; its next steps become tasks")
def record_qbr(request, id: int, payload: QbrCreate):
    plan, user = _plan(request, id), request.user
    steps = [
        {"title": s.title, "due_on": s.due_on,
         "assignee": _user(s.assignee, "next_steps") if s.assignee else None,
         "contact": _contact(user, s.contact, "next_steps") if s.contact else None}
        for s in payload.next_steps
    ]
    made = plans.record_qbr(
        user, plan, held_on=payload.held_on, agenda=payload.agenda, outcomes=payload.outcomes,
        contacts=[_contact(user, c, "contacts") for c in payload.contacts],
        users=[_user(u, "users") for u in payload.users], next_steps=steps, via="api",
    )
    return Status(201, made)


@router.get("/success-plans/{int:id}/links", operation_id="list_value_board_links", response=list[LinkOut],
            summary="The value-board links of a plan")
def list_links(request, id: int):
    return list(_plan(request, id).links.all())


@router.post("/success-plans/{int:id}/links", operation_id="create_value_board_link", response={201: LinkCreated},
             summary="A signed link to the customer-facing value board")
def create_link(request, id: int, payload: LinkCreate):
    link, token = board.create_link(request.user, _plan(request, id), language=payload.language, days=payload.days,
                                    via="api")
    link.url = board_url(token)
    return Status(201, link)


@router.post("/success-plans/{int:id}/links/{int:link}/revoke", operation_id="revoke_value_board_link",
             response=LinkOut, summary="Revoke a value-board link")
def revoke_link(request, id: int, link: int):
    found = one_or_404(ValueBoardLink.objects.filter(plan=_plan(request, id)).select_related("plan"), link)
    return board.revoke_link(request.user, found, via="api")


def board_url(token: str) -> str:
    return settings.CLM_PUBLIC_URL.rstrip("/") + reverse("web:value_board", args=[token])
