"""REST resources for the work people do: /tasks and /cases (with their tasks and history) and
the root causes a case closes with. Reads go through the models' visibility rules (a record the
caller cannot see is a 404); every change goes through clm.automation.work, which checks
permissions, validates and audits with via="api"."""

import datetime as dt
from typing import Annotated

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from clm.automation import work
from clm.automation.models import Case, Priority, RootCause, Task
from clm.core.access import restrict, visible_accounts, visible_records
from clm.core.crud import (
    DEFAULT_LIMIT,
    Id,
    InputSchema,
    Limit,
    LocalDatetime,
    Offset,
    Text,
    choice,
    invalid,
    one_or_404,
    paginate,
    require,
)
from clm.core.models import User
from clm.customers.models import Contact

router = Router()

Title = Annotated[Text, Field(min_length=1, max_length=200)]
Reason = Annotated[Text, Field(min_length=1, max_length=200)]


# -- schemas --------------------------------------------------------------------------------------


class TaskOut(Schema):
    id: int
    title: str
    account: int | None = Field(validation_alias="account_id")
    account_name: str | None = Field(None, description="the account's name, for display")
    contact: int | None = Field(validation_alias="contact_id")
    assignee: int | None = Field(validation_alias="assignee_id")
    due_at: dt.datetime | None
    priority: str
    status: str = Field(description="open, done or cancelled")
    snoozed_until: dt.datetime | None
    overdue: bool = Field(False, description="open, past its due time and not snoozed")
    note: str
    outcome: str
    source: str = Field(description="manual, playbook or signal")
    case: int | None = Field(validation_alias="case_id")
    enrollment_id: int | None
    created_by: int | None = Field(validation_alias="created_by_id")
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None

    @staticmethod
    def resolve_account_name(obj):
        return obj.account.name if obj.account_id else None

    @staticmethod
    def resolve_overdue(obj):
        return obj.is_overdue()


class TaskPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[TaskOut]


class TaskCreate(InputSchema):
    title: Title
    account: Id | None = None
    contact: Id | None = None
    assignee: Id | None = Field(None, description="the user it goes to; you, when left out")
    due_at: LocalDatetime | None = None
    priority: choice(Priority) = Priority.NORMAL
    case: Id | None = Field(None, description="the case it carries out (its account is taken when none is given)")
    note: Text = ""


class TaskPatch(InputSchema):
    title: Title | None = None
    contact: Id | None = None
    due_at: LocalDatetime | None = None
    priority: choice(Priority) | None = None
    note: Text | None = None


class TaskComplete(InputSchema):
    outcome: Text = Field("", description="what came of it")


class TaskCancel(InputSchema):
    note: Text = ""


class TaskReassign(InputSchema):
    assignee: Id


class TaskSnooze(InputSchema):
    until: LocalDatetime | None = Field(..., description="hidden from the due lists until then; null wakes it")


class RootCauseOut(Schema):
    code: str
    name_en: str
    name_zh: str
    active: bool


class CaseOut(Schema):
    id: int
    account: int = Field(validation_alias="account_id")
    account_name: str
    type: str
    reason: str
    owner: int | None = Field(validation_alias="owner_id")
    priority: str
    status: str = Field(description="open, in_progress or closed")
    due_on: dt.date | None
    signal: int | None = Field(validation_alias="signal_id")
    rule: str
    enrollment_id: int | None
    outcome: str = Field(description="closed_success or closed_lost once closed")
    root_cause: str | None = Field(None, description="the root cause's code")
    close_note: str
    open_tasks: int = 0
    created_by: int | None = Field(validation_alias="created_by_id")
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_account_name(obj):
        return obj.account.name

    @staticmethod
    def resolve_root_cause(obj):
        return obj.root_cause.code if obj.root_cause_id else None

    @staticmethod
    def resolve_open_tasks(obj):
        return getattr(obj, "open_task_count", None) or obj.tasks.filter(status=Task.Status.OPEN).count()


class CasePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CaseOut]


class CaseCreate(InputSchema):
    account: Id
    type: choice(Case.Type)
    reason: Reason
    owner: Id | None = Field(None, description="the account's CSM (else its sales owner) when left out")
    priority: choice(Priority) = Priority.NORMAL
    due_on: dt.date | None = None


class CasePatch(InputSchema):
    reason: Reason | None = None
    owner: Id | None = None
    priority: choice(Priority) | None = None
    due_on: dt.date | None = None
    status: choice(Case.Status) | None = Field(None, description="open or in_progress; close with /close")


class CaseClose(InputSchema):
    outcome: choice(Case.Outcome)
    root_cause: Annotated[Text, Field(max_length=40)] = Field(..., description="a root cause's code")
    note: Text = ""


class HistoryOut(Schema):
    at: dt.datetime
    actor: int | None = Field(validation_alias="actor_id")
    actor_name: str | None = None
    via: str
    action: str
    record: str = Field(description="case or task")
    record_id: int
    record_repr: str
    changes: dict

    @staticmethod
    def resolve_actor_name(obj):
        return obj.actor.get_full_name() or obj.actor.get_username() if obj.actor_id else None

    @staticmethod
    def resolve_record(obj):
        return obj.model.rsplit(".", 1)[-1]

    @staticmethod
    def resolve_record_id(obj):
        return int(obj.object_id)

    @staticmethod
    def resolve_record_repr(obj):
        return obj.object_repr


class HistoryPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[HistoryOut]


# -- references: ids to records the caller may use -------------------------------------------------


def _account(user, pk):
    account = visible_accounts(user).filter(pk=pk).first()
    if account is None:
        raise invalid({"account": f"unknown account {pk}"})
    return account


def _contact(user, pk):
    contact = restrict(Contact.objects.all(), user).filter(pk=pk).first()
    if contact is None:
        raise invalid({"contact": f"unknown contact {pk}"})
    return contact


def _user(pk, field: str):
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise invalid({field: f"unknown user {pk}"})
    return user


def _case(user, pk):
    case = visible_records(Case, user).filter(pk=pk).select_related("account").first()
    if case is None:
        raise invalid({"case": f"unknown case {pk}"})
    return case


def _task(request, id: int) -> Task:
    require(request.user, "view", Task)
    return one_or_404(visible_records(Task, request.user).select_related("account"), id)


def _case_of(request, id: int) -> Case:
    require(request.user, "view", Case)
    return one_or_404(visible_records(Case, request.user).select_related("account", "root_cause"), id)


# -- tasks ----------------------------------------------------------------------------------------


@router.get("/tasks", operation_id="list_tasks", response=TaskPage, tags=["tasks"], summary="List tasks")
def list_tasks(
    request,
    mine: bool = Query(False, description="only tasks assigned to me"),
    overdue: bool = Query(False, description="only open tasks past their due time and not snoozed"),
    status: choice(Task.Status) | None = None,
    account: Id | None = None,
    assignee: Id | None = None,
    case: Id | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
):
    require(request.user, "view", Task)
    tasks = visible_records(Task, request.user).select_related("account")
    if mine:
        tasks = tasks.filter(assignee=request.user)
    if overdue:
        now = timezone.now()
        tasks = tasks.filter(status=Task.Status.OPEN, due_at__lt=now).exclude(snoozed_until__gt=now)
    if status:
        tasks = tasks.filter(status=status)
    for field, value in (("account_id", account), ("assignee_id", assignee), ("case_id", case)):
        if value is not None:
            tasks = tasks.filter(**{field: value})
    return paginate(tasks.order_by(*Task._meta.ordering), limit, offset)


@router.post("/tasks", operation_id="create_task", response={201: TaskOut}, tags=["tasks"], summary="Create a task")
def create_task(request, payload: TaskCreate):
    user = request.user
    data = payload.model_dump(exclude_unset=True)
    case = _case(user, data["case"]) if data.get("case") else None
    account = _account(user, data["account"]) if data.get("account") else None
    task = work.create_task(
        user,
        title=payload.title,
        account=account,
        contact=_contact(user, data["contact"]) if data.get("contact") else None,
        assignee=_user(data["assignee"], "assignee") if data.get("assignee") else None,
        due_at=payload.due_at,
        priority=payload.priority,
        case=case,
        note=payload.note,
        via="api",
    )
    return Status(201, task)


@router.get("/tasks/{int:id}", operation_id="get_task", response=TaskOut, tags=["tasks"], summary="One task")
def get_task(request, id: int):
    return _task(request, id)


@router.patch("/tasks/{int:id}", operation_id="update_task", response=TaskOut, tags=["tasks"], summary="Change an open task")
def update_task(request, id: int, payload: TaskPatch):
    task = _task(request, id)
    changes = payload.model_dump(exclude_unset=True)
    if changes.get("contact") is not None:
        changes["contact"] = _contact(request.user, changes["contact"])
    for key in ("title", "priority", "note"):
        if key in changes and changes[key] is None:
            raise invalid({key: "may not be null"})
    return work.update_task(request.user, task, changes, via="api")


@router.post("/tasks/{int:id}/complete", operation_id="complete_task", response=TaskOut, tags=["tasks"], summary="Mark a task done")
def complete_task(request, id: int, payload: TaskComplete):
    return work.complete_task(request.user, _task(request, id), outcome=payload.outcome, via="api")


@router.post("/tasks/{int:id}/cancel", operation_id="cancel_task", response=TaskOut, tags=["tasks"], summary="Cancel a task")
def cancel_task(request, id: int, payload: TaskCancel):
    return work.cancel_task(request.user, _task(request, id), note=payload.note, via="api")


@router.post("/tasks/{int:id}/reassign", operation_id="reassign_task", response=TaskOut, tags=["tasks"], summary="Give a task to someone else")
def reassign_task(request, id: int, payload: TaskReassign):
    task = _task(request, id)
    return work.reassign_task(request.user, task, _user(payload.assignee, "assignee"), via="api")


@router.post("/tasks/{int:id}/snooze", operation_id="snooze_task", response=TaskOut, tags=["tasks"], summary="Snooze a task")
def snooze_task(request, id: int, payload: TaskSnooze):
    return work.snooze_task(request.user, _task(request, id), payload.until, via="api")


# -- cases ----------------------------------------------------------------------------------------


@router.get("/cases/root-causes", operation_id="list_root_causes", response=list[RootCauseOut], tags=["cases"], summary="Root causes to close with")
def list_root_causes(request):
    return RootCause.objects.all()


@router.get("/cases", operation_id="list_cases", response=CasePage, tags=["cases"], summary="List cases")
def list_cases(
    request,
    mine: bool = Query(False, description="only cases I own"),
    open: bool = Query(False, description="only open and in-progress cases"),
    status: choice(Case.Status) | None = None,
    type: choice(Case.Type) | None = None,
    account: Id | None = None,
    owner: Id | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
):
    require(request.user, "view", Case)
    cases = visible_records(Case, request.user).select_related("account", "root_cause")
    if mine:
        cases = cases.filter(owner=request.user)
    if open:
        cases = cases.filter(status__in=Case.OPEN_STATUSES)
    for field, value in (("status", status), ("type", type), ("account_id", account), ("owner_id", owner)):
        if value:
            cases = cases.filter(**{field: value})
    return paginate(cases.order_by("-created_at", "-id"), limit, offset)


@router.post("/cases", operation_id="create_case", response={201: CaseOut}, tags=["cases"], summary="Open a case")
def create_case(request, payload: CaseCreate):
    user = request.user
    case, _ = work.open_case(
        user,
        account=_account(user, payload.account),
        type=payload.type,
        reason=payload.reason,
        owner=_user(payload.owner, "owner") if payload.owner else None,
        priority=payload.priority,
        due_on=payload.due_on,
        via="api",
    )
    return Status(201, case)


@router.get("/cases/{int:id}", operation_id="get_case", response=CaseOut, tags=["cases"], summary="One case")
def get_case(request, id: int):
    return _case_of(request, id)


@router.patch("/cases/{int:id}", operation_id="update_case", response=CaseOut, tags=["cases"], summary="Change an open case")
def update_case(request, id: int, payload: CasePatch):
    case = _case_of(request, id)
    changes = payload.model_dump(exclude_unset=True)
    if changes.get("owner") is not None:
        changes["owner"] = _user(changes["owner"], "owner")
    for key in ("reason", "priority", "status"):
        if key in changes and changes[key] is None:
            raise invalid({key: "may not be null"})
    return work.update_case(request.user, case, changes, via="api")


@router.post("/cases/{int:id}/close", operation_id="close_case", response=CaseOut, tags=["cases"], summary="Close a case with its outcome")
def close_case(request, id: int, payload: CaseClose):
    case = _case_of(request, id)
    return work.close_case(
        request.user, case, outcome=payload.outcome, root_cause=payload.root_cause, note=payload.note, via="api"
    )


@router.get("/cases/{int:id}/tasks", operation_id="list_case_tasks", response=TaskPage, tags=["cases"], summary="The tasks of a case")
def case_tasks(request, id: int, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    case = _case_of(request, id)
    tasks = Task.objects.filter(case=case).select_related("account").order_by(*Task._meta.ordering)
    return paginate(tasks, limit, offset)


@router.get("/cases/{int:id}/history", operation_id="list_case_history", response=HistoryPage, tags=["cases"], summary="What happened to a case")
def case_history(request, id: int, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    return paginate(work.case_history(_case_of(request, id)), limit, offset)
