"""Tasks and cases: the named operations that make and change them.

Each runs in one transaction, checks who may do it, writes the audit log (through
clm.core.services) and says what happened as a domain event once the transaction commits.
The views, the API, the playbook steps and the CLI all call these. An actor of None is the system
(a playbook step, a rule): it may do anything, and the audit log records no person."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.automation.models import Case, DigestSubscription, Priority, RootCause, Task
from clm.core import services
from clm.core.access import visible_accounts, visible_records
from clm.core.events import emit
from clm.core.models import AuditLog, User
from clm.customers.models import Account

TASK_FIELDS = ("title", "note", "due_at", "priority", "contact")
CASE_FIELDS = ("reason", "owner", "priority", "due_on", "status")


def _person(actor):
    return actor if getattr(actor, "pk", None) else None


def _require(actor, action: str, model) -> None:
    if actor is None:
        return
    if not actor.has_perm(f"automation.{action}_{model._meta.model_name}"):
        raise PermissionDenied(
            {
                ("add", "task"): _("You may not create tasks."),
                ("change", "task"): _("You may not change tasks."),
                ("add", "case"): _("You may not open cases."),
                ("change", "case"): _("You may not change cases."),
            }[action, model._meta.model_name]
        )


def _require_account(actor, account: Account | None) -> None:
    if actor is None or account is None:
        return
    if not visible_accounts(actor).filter(pk=account.pk).exists():
        raise PermissionDenied(_("You may not work on the account %(name)s.") % {"name": account.name})


def _require_visible(actor, record) -> None:
    if actor is not None and not visible_records(type(record), actor).filter(pk=record.pk).exists():
        raise PermissionDenied(_("You may not work on this record."))


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _check_assignee(user, field: str, errors: dict) -> None:
    if user is not None and not user.is_active:
        errors[field] = _("%(name)s is not an active user.") % {"name": user.get_username()}


def default_owner(account: Account | None):
    """Who work on an account goes to when nobody is named: its CSM, else its sales owner."""
    if account is None:
        return None
    return account.csm or account.sales_owner


def _enrollment_id(enrollment) -> int | None:
    return getattr(enrollment, "pk", enrollment)


def _task_event(name: str, task: Task, actor, **extra) -> None:
    emit(
        name,
        actor=actor,
        task_id=task.pk,
        account_id=task.account_id,
        assignee_id=task.assignee_id,
        case_id=task.case_id,
        enrollment_id=task.enrollment_id,
        **extra,
    )


# -- tasks ----------------------------------------------------------------------------------------


@transaction.atomic
def create_task(
    actor,
    *,
    title: str,
    account: Account | None = None,
    contact=None,
    assignee=None,
    due_at: dt.datetime | None = None,
    priority: str = Priority.NORMAL,
    source: str = Task.Source.MANUAL,
    case: Case | None = None,
    enrollment=None,
    note: str = "",
    via: str = "system",
) -> Task:
    """A new open task. With a case and no account, the task is on the case's account; with no
    assignee, it goes to the person creating it, or (made by the system) to the account's CSM."""
    actor = _person(actor)
    _require(actor, "add", Task)
    if case is not None and account is None:
        account = case.account
    _require_account(actor, account)
    if case is not None:
        _require_visible(actor, case)
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = _("Give the task a title.")
    if contact is not None and (account is None or contact.account_id != account.pk):
        errors["contact"] = _("%(name)s is not a contact of this task's account.") % {"name": contact.name}
    if case is not None and case.account_id != account.pk:
        errors["case"] = _("The case belongs to another account.")
    elif case is not None and not case.is_open:
        errors["case"] = _("The case is closed; reopen it or open a new one.")
    _check_assignee(assignee, "assignee", errors)
    if errors:
        raise ValidationError(errors)
    task = Task(
        title=title,
        account=account,
        contact=contact,
        assignee=assignee or actor or default_owner(account),
        due_at=_aware(due_at),
        priority=priority,
        source=source,
        case=case,
        enrollment_id=_enrollment_id(enrollment),
        note=note or "",
        created_by=actor,
    )
    services.save_new(task, actor=actor, via=via)
    _task_event("task.created", task, actor, source=task.source)
    return task


def _open_task(actor, task: Task) -> Task:
    """The task, locked and re-read, after checking that the actor may change it and that it is open."""
    actor = _person(actor)
    _require(actor, "change", Task)
    _require_visible(actor, task)
    locked = Task.objects.select_for_update().get(pk=task.pk)
    if not locked.is_open:
        raise ValidationError(
            {"status": _("This task is already %(status)s.") % {"status": locked.get_status_display()}}
        )
    return locked


def _saved(task: Task, locked: Task) -> Task:
    for field in Task._meta.concrete_fields:  # the caller's copy reflects what was saved
        setattr(task, field.attname, getattr(locked, field.attname))
    return task


@transaction.atomic
def complete_task(actor, task: Task, *, outcome: str = "", via: str = "system") -> Task:
    """Mark the task done with what came of it; its case, if still open, is now in progress."""
    locked = _open_task(actor, task)
    actor = _person(actor)
    services.update(
        locked,
        {"status": Task.Status.DONE, "outcome": outcome or "", "completed_at": timezone.now(), "snoozed_until": None},
        actor=actor,
        via=via,
    )
    if locked.case_id:
        case = Case.objects.select_for_update().get(pk=locked.case_id)
        if case.status == Case.Status.OPEN:
            services.update(case, {"status": Case.Status.IN_PROGRESS}, actor=actor, via=via)
    _task_event("task.completed", locked, actor, outcome=locked.outcome)
    return _saved(task, locked)


@transaction.atomic
def cancel_task(actor, task: Task, *, note: str = "", via: str = "system") -> Task:
    locked = _open_task(actor, task)
    changes = {"status": Task.Status.CANCELLED, "completed_at": timezone.now(), "snoozed_until": None}
    if note:
        changes["outcome"] = note
    services.update(locked, changes, actor=_person(actor), via=via)
    return _saved(task, locked)


@transaction.atomic
def reassign_task(actor, task: Task, assignee, *, via: str = "system") -> Task:
    locked = _open_task(actor, task)
    errors = {}
    if assignee is None:
        errors["assignee"] = _("Choose who the task goes to.")
    _check_assignee(assignee, "assignee", errors)
    if errors:
        raise ValidationError(errors)
    services.update(locked, {"assignee": assignee}, actor=_person(actor), via=via)
    return _saved(task, locked)


@transaction.atomic
def snooze_task(actor, task: Task, until: dt.datetime | None, *, via: str = "system") -> Task:
    """Hide the task from the lists of what is due until `until` (None wakes it now)."""
    locked = _open_task(actor, task)
    until = _aware(until)
    if until is not None and until <= timezone.now():
        raise ValidationError({"until": _("Snooze until a time in the future.")})
    services.update(locked, {"snoozed_until": until}, actor=_person(actor), via=via)
    return _saved(task, locked)


@transaction.atomic
def update_task(actor, task: Task, changes: dict, *, via: str = "system") -> Task:
    """Change an open task's title, note, due time, priority or contact."""
    locked = _open_task(actor, task)
    unknown = sorted(set(changes) - set(TASK_FIELDS))
    if unknown:
        raise ValidationError({k: _("This field cannot be changed here.") for k in unknown})
    errors = {}
    data = dict(changes)
    if "title" in data:
        data["title"] = (data["title"] or "").strip()
        if not data["title"]:
            errors["title"] = _("Give the task a title.")
    contact = data.get("contact")
    if contact is not None and contact.account_id != locked.account_id:
        errors["contact"] = _("%(name)s is not a contact of this task's account.") % {"name": contact.name}
    if "due_at" in data:
        data["due_at"] = _aware(data["due_at"])
    if errors:
        raise ValidationError(errors)
    services.update(locked, data, actor=_person(actor), via=via)
    return _saved(task, locked)


# -- cases ----------------------------------------------------------------------------------------


def _open_rule_case(account: Account, type: str, reason: str) -> Case | None:
    return (
        Case.objects.select_for_update()
        .filter(account=account, type=type, reason=reason, status__in=Case.OPEN_STATUSES)
        .exclude(rule="")
        .first()
    )


@transaction.atomic
def open_case(
    actor,
    *,
    account: Account,
    type: str,
    reason: str,
    owner=None,
    priority: str = Priority.NORMAL,
    due_on: dt.date | None = None,
    signal=None,
    rule: str = "",
    enrollment=None,
    via: str = "system",
) -> tuple[Case, bool]:
    """A new open case, or, when a rule or a signal opens it and an open case of that rule already
    exists for the account, type and reason, that one: returns (case, created)."""
    actor = _person(actor)
    _require(actor, "add", Case)
    _require_account(actor, account)
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("Say why the case is opened.")
    if signal is not None and signal.account_id != account.pk:
        errors["signal"] = _("The signal belongs to another account.")
    _check_assignee(owner, "owner", errors)
    if errors:
        raise ValidationError(errors)
    if signal is not None and not rule:
        rule = f"signal:{signal.kind}"
    if rule:
        existing = _open_rule_case(account, type, reason)
        if existing is not None:
            return existing, False
    case = Case(
        account=account,
        type=type,
        reason=reason,
        owner=owner or default_owner(account) or actor,
        priority=priority,
        due_on=due_on,
        signal=signal,
        rule=rule,
        enrollment_id=_enrollment_id(enrollment),
        created_by=actor,
    )
    try:
        with transaction.atomic():
            services.save_new(case, actor=actor, via=via)
    except (IntegrityError, ValidationError):
        # Another transaction opened the same rule's case first (the partial unique constraint).
        existing = _open_rule_case(account, type, reason) if rule else None
        if existing is None:
            raise
        return existing, False
    emit(
        "case.opened",
        actor=actor,
        case_id=case.pk,
        account_id=case.account_id,
        type=case.type,
        reason=case.reason,
        owner_id=case.owner_id,
        rule=case.rule,
        signal_id=case.signal_id,
        enrollment_id=case.enrollment_id,
    )
    return case, True


def _changeable_case(actor, case: Case) -> Case:
    actor = _person(actor)
    _require(actor, "change", Case)
    _require_visible(actor, case)
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if not locked.is_open:
        raise ValidationError({"status": _("This case is closed.")})
    return locked


def _case_saved(case: Case, locked: Case) -> Case:
    for field in Case._meta.concrete_fields:
        setattr(case, field.attname, getattr(locked, field.attname))
    return case


def find_root_cause(value) -> RootCause | None:
    """A root cause given as itself or by its code."""
    if value is None or isinstance(value, RootCause):
        return value
    found = RootCause.objects.filter(code=str(value), active=True).first()
    if found is None:
        codes = ", ".join(RootCause.objects.filter(active=True).values_list("code", flat=True))
        raise ValidationError({"root_cause": _("Unknown root cause %(code)s (known: %(codes)s).") % {
            "code": value, "codes": codes}})
    return found


@transaction.atomic
def close_case(actor, case: Case, *, outcome: str, root_cause=None, note: str = "", via: str = "system") -> Case:
    """Close the case as a success or a loss, with its root cause; its open tasks are cancelled."""
    locked = _changeable_case(actor, case)
    actor = _person(actor)
    errors = {}
    if outcome not in Case.Outcome.values:
        errors["outcome"] = _("Choose how the case ended: %(choices)s.") % {
            "choices": ", ".join(str(label) for label in Case.Outcome.labels)}
    try:
        cause = find_root_cause(root_cause)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        cause = None
    if cause is None and "root_cause" not in errors:
        errors["root_cause"] = _("Choose a root cause.")
    elif cause is not None and not cause.active:
        errors["root_cause"] = _("The root cause %(name)s is no longer offered.") % {"name": cause.label()}
    if errors:
        raise ValidationError(errors)
    services.update(
        locked,
        {
            "status": Case.Status.CLOSED,
            "outcome": outcome,
            "root_cause": cause,
            "close_note": note or "",
            "closed_at": timezone.now(),
        },
        actor=actor,
        via=via,
    )
    for task in Task.objects.select_for_update().filter(case=locked, status=Task.Status.OPEN):
        services.update(
            task,
            {"status": Task.Status.CANCELLED, "completed_at": timezone.now(), "outcome": _("The case was closed.")},
            actor=actor,
            via=via,
        )
    emit(
        "case.closed",
        actor=actor,
        case_id=locked.pk,
        account_id=locked.account_id,
        type=locked.type,
        outcome=locked.outcome,
        root_cause=cause.code,
    )
    return _case_saved(case, locked)


@transaction.atomic
def update_case(actor, case: Case, changes: dict, *, via: str = "system") -> Case:
    """Change an open case's reason, owner, priority, due date, or move it between open and in
    progress (closing goes through close_case, which asks for the outcome)."""
    locked = _changeable_case(actor, case)
    unknown = sorted(set(changes) - set(CASE_FIELDS))
    if unknown:
        raise ValidationError({k: _("This field cannot be changed here.") for k in unknown})
    errors = {}
    data = dict(changes)
    if "reason" in data:
        data["reason"] = (data["reason"] or "").strip()
        if not data["reason"]:
            errors["reason"] = _("Say why the case is opened.")
    if "status" in data and data["status"] not in Case.OPEN_STATUSES:
        errors["status"] = _("Close a case with its outcome and root cause.")
    _check_assignee(data.get("owner"), "owner", errors)
    if errors:
        raise ValidationError(errors)
    services.update(locked, data, actor=_person(actor), via=via)
    return _case_saved(case, locked)


def case_history(case: Case) -> QuerySet[AuditLog]:
    """The audit trail of the case and of its tasks, newest first."""
    task_ids = [str(pk) for pk in Task.objects.filter(case=case).values_list("pk", flat=True)]
    return AuditLog.objects.filter(
        Q(model="automation.case", object_id=str(case.pk)) | Q(model="automation.task", object_id__in=task_ids)
    ).select_related("actor")


# -- the daily digest's setting -------------------------------------------------------------------


def wants_digest(user: User) -> bool:
    subscription = DigestSubscription.objects.filter(user=user).first()
    return subscription is None or subscription.enabled


def set_digest(user: User, enabled: bool) -> None:
    DigestSubscription.objects.update_or_create(user=user, defaults={"enabled": enabled})
