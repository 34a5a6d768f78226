"""The read models of the work pages: my tasks (overdue, today, upcoming), my open cases and my
accounts ranked by what is at stake; an account's open work; one case whole. Each is a fixed
number of queries."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from clm.automation import ranking
from clm.automation.models import Case, RootCause, Task
from clm.automation.work import case_history
from clm.core.access import visible_accounts, visible_records
from clm.core.models import User
from clm.customers.models import Account, Contact
from clm.lifecycle.models import Signal
from clm.web import explain
from clm.web.templatetags.workspace import person

UPCOMING_SHOWN = 20
CASES_SHOWN = 30
STAKES_SHOWN = 10


@dataclass
class TaskGroups:
    overdue: list[Task] = field(default_factory=list)
    today: list[Task] = field(default_factory=list)
    upcoming: list[Task] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.upcoming)


def group_tasks(tasks, now: dt.datetime) -> TaskGroups:
    """Open tasks by when they need doing: overdue, due later today (local time), upcoming (later,
    undated or snoozed)."""
    tomorrow = dt.datetime.combine(
        timezone.localdate(now) + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    groups = TaskGroups()
    for task in tasks:
        if task.is_snoozed(now) or task.due_at is None or task.due_at >= tomorrow:
            groups.upcoming.append(task)
        elif task.due_at < now:
            groups.overdue.append(task)
        else:
            groups.today.append(task)
    groups.upcoming = groups.upcoming[:UPCOMING_SHOWN]
    return groups


def open_cases(queryset):
    return list(
        queryset.filter(status__in=Case.OPEN_STATUSES)
        .select_related("account", "owner")
        .annotate(open_task_count=Count("tasks", filter=Q(tasks__status=Task.Status.OPEN)))
        .order_by("due_on", "-created_at")[:CASES_SHOWN]
    )


@dataclass
class Worklist:
    tasks: TaskGroups
    cases: list[Case]
    stakes: list[tuple[Account, ranking.Stake]]


def my_worklist(user, now: dt.datetime | None = None) -> Worklist:
    now = now or timezone.now()
    tasks = (
        visible_records(Task, user)
        .filter(assignee=user, status=Task.Status.OPEN)
        .select_related("account", "case", "assignee")
        .order_by(*Task._meta.ordering)[:500]
    )
    mine = visible_accounts(user).filter(Q(sales_owner=user) | Q(csm=user))
    stakes = ranking.accounts_at_stake(mine, limit=STAKES_SHOWN)
    names = Account.objects.in_bulk([s.account_id for s in stakes])
    _with_open_signals(names.values())
    return Worklist(
        tasks=group_tasks(tasks, now),
        cases=open_cases(visible_records(Case, user).filter(owner=user)),
        stakes=[(names[s.account_id], s) for s in stakes],
    )


def _with_open_signals(accounts) -> None:
    """Each account's open early-warning signals, named in the reader's language (one query)."""
    accounts = list(accounts)
    titles = defaultdict(list)
    for row in Signal.objects.filter(account__in=accounts, closed_on__isnull=True).order_by("-opened_on", "id"):
        titles[row.account_id].append(explain.signal_title(row.kind, row.title))
    for account in accounts:
        account.signal_titles = titles[account.pk]


@dataclass
class AccountWork:
    tasks: list[Task]
    cases: list[Case]


def account_work(account: Account, user) -> AccountWork:
    return AccountWork(
        tasks=list(
            visible_records(Task, user).filter(account=account, status=Task.Status.OPEN)
            .select_related("assignee", "case", "account").order_by(*Task._meta.ordering)[:50]
        ),
        cases=open_cases(visible_records(Case, user).filter(account=account)),
    )


@dataclass
class CaseView:
    case: Case
    tasks: list[Task]
    history: list
    root_causes: list[RootCause]


def case_view(case: Case) -> CaseView:
    history = list(case_history(case)[:100])
    readable_changes(history)
    return CaseView(
        case=case,
        tasks=list(case.tasks.select_related("assignee", "account").order_by("status", *Task._meta.ordering)),
        history=history,
        root_causes=list(RootCause.objects.filter(active=True)),
    )


# Bookkeeping fields the history does not repeat (the entry's own time says when).
UNSHOWN = {"completed_at", "closed_at", "updated_at", "created_at", "enrollment_id", "created_by_id"}
REFERENCES = {"assignee_id": User, "owner_id": User, "root_cause_id": RootCause, "contact_id": Contact}


def readable_changes(entries) -> None:
    """Each audit entry's changes as (label, before, after) in the reader's language: field names,
    choice labels, people's names and local times instead of keys, codes and ids."""
    ids = defaultdict(set)
    for entry in entries:
        for name, values in entry.changes.items():
            if name in REFERENCES:
                ids[name].update(v for v in values if v is not None)
    named = {name: REFERENCES[name].objects.in_bulk(list(pks)) for name, pks in ids.items()}
    labels = {"assignee_id": _("Assignee"), "owner_id": _("Owner"), "root_cause_id": _("Root cause"),
              "contact_id": _("Contact")}
    for entry in entries:
        model = Case if entry.model == "automation.case" else Task
        fields = {f.attname: f for f in model._meta.concrete_fields}
        rows = []
        for name, values in entry.changes.items():
            if name in UNSHOWN or name not in fields or entry.action == "create":
                continue
            field = fields[name]
            label = labels.get(name) or str(field.verbose_name)
            rows.append((label, *(_readable(field, name, v, named) for v in values)))
        entry.readable = rows


def _readable(field, name, value, named):
    if value in (None, ""):
        return "–"
    if name in named:
        obj = named[name].get(value)
        if obj is None:
            return "–"
        return person(obj) if isinstance(obj, User) else (obj.label() if isinstance(obj, RootCause) else str(obj))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field.get_internal_type() == "DateTimeField":
        moment = parse_datetime(str(value))
        return formats.date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else value
    return value
