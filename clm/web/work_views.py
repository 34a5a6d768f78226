"""The work pages: create, complete, snooze and reassign tasks inline (htmx), open a case from an
account, and the case page with its tasks, history and closing form. Views parse the form, find
what the user may see and call clm.automation.work, which decides who may do what."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clm.automation import work
from clm.automation.models import Case, Task
from clm.core.access import visible_accounts, visible_records
from clm.core.crud import one_or_404
from clm.web import worklist
from clm.web.views import _safe_next, is_htmx
from clm.web.work_forms import CaseCloseForm, CaseForm, CompleteForm, ReassignForm, SnoozeForm, TaskForm


def _errors(exc) -> str:
    if isinstance(exc, PermissionDenied):
        return str(exc) or _("You may not do this.")
    return " ".join(m for ms in getattr(exc, "message_dict", {"": exc.messages}).values() for m in ms)


def _panel(request, *, account=None, case=None, form=None, status=200):
    """The task list that a new task was added to, re-read: the case's, the account's or mine."""
    context = {"task_form": form or TaskForm(), "can_add": request.user.has_perm("automation.add_task"),
               "next": _safe_next(request, reverse("web:home"))}  # the page the panel is on, not this address
    if case is not None:
        context.update(case=case, tasks=worklist.case_view(case).tasks, panel="case")
        return render(request, "web/work/_case_tasks.html", context, status=status)
    if account is not None:
        context.update(
            account=account, work=worklist.account_work(account, request.user), panel="account",
            case_form=CaseForm(), can_open_case=request.user.has_perm("automation.add_case"),
        )
        return render(request, "web/work/_account_work.html", context, status=status)
    context.update(mine=worklist.my_worklist(request.user), panel="home")
    return render(request, "web/work/_my_tasks.html", context, status=status)


@login_required
@require_POST
def task_create(request):
    account_id, case_id = request.POST.get("account", ""), request.POST.get("case", "")
    account = one_or_404(visible_accounts(request.user), int(account_id)) if account_id.isascii() and account_id.isdigit() else None
    case = one_or_404(visible_records(Case, request.user).select_related("account"), int(case_id)) if case_id.isascii() and case_id.isdigit() else None
    form = TaskForm(request.POST)
    if form.is_valid():
        try:
            work.create_task(request.user, account=account, case=case, via="ui", **form.cleaned_data)
        except (PermissionDenied, ValidationError) as exc:
            form.add_error(None, _errors(exc))
    ok = not form.errors
    if not is_htmx(request):
        if ok:
            messages.success(request, _("Task added."))
        else:
            messages.error(request, _("The task was not added: %(errors)s") % {"errors": " ".join(
                e for es in form.errors.values() for e in es)})
        return redirect(_safe_next(request, reverse("web:home")))
    return _panel(request, account=account, case=case, form=None if ok else form, status=200 if ok else 422)


ACTIONS = {
    "complete": (CompleteForm, lambda user, task, form: work.complete_task(user, task, outcome=form.cleaned_data["outcome"], via="ui")),
    "cancel": (CompleteForm, lambda user, task, form: work.cancel_task(user, task, note=form.cleaned_data["outcome"], via="ui")),
    "snooze": (SnoozeForm, lambda user, task, form: work.snooze_task(user, task, form.until(), via="ui")),
    "reassign": (ReassignForm, lambda user, task, form: work.reassign_task(user, task, form.cleaned_data["assignee"], via="ui")),
}


@login_required
@require_POST
def task_action(request, pk, action):
    """Complete, cancel, snooze or reassign one task; htmx gets the task's row back."""
    if action not in ACTIONS:
        return redirect("web:home")
    task = one_or_404(visible_records(Task, request.user).select_related("account", "case", "assignee"), pk)
    form_class, act = ACTIONS[action]
    form = form_class(request.POST)
    error = ""
    if form.is_valid():
        try:
            act(request.user, task, form)
        except (PermissionDenied, ValidationError) as exc:
            error = _errors(exc)
    else:
        error = " ".join(e for es in form.errors.values() for e in es)
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        return redirect(_safe_next(request, reverse("web:home")))
    task = Task.objects.select_related("account", "case", "assignee").get(pk=task.pk)
    # the row's forms go back to the page the row is on, not to this action's address
    context = {"task": task, "row_error": error, "panel": request.POST.get("panel", ""),
               "next": _safe_next(request, reverse("web:home"))}
    return render(request, "web/work/_task_row.html", context, status=422 if error else 200)


@login_required
@require_POST
def case_create(request, pk):
    account = one_or_404(visible_accounts(request.user), pk)
    form = CaseForm(request.POST)
    if form.is_valid():
        try:
            case, _created = work.open_case(request.user, account=account, via="ui", **form.cleaned_data)
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _("The case was not opened: %(errors)s") % {"errors": _errors(exc)})
        else:
            messages.success(request, _("Case opened."))
            return redirect("web:case", pk=case.pk)
    else:
        messages.error(request, _("The case was not opened: %(errors)s") % {"errors": " ".join(
            e for es in form.errors.values() for e in es)})
    return redirect("web:account", pk=account.pk)


def _case_page(request, case, close_form=None, status=200):
    context = {
        "v": worklist.case_view(case),
        "case": case,
        "account": case.account,
        "tasks": None,
        "task_form": TaskForm(),
        "close_form": close_form or CaseCloseForm(),
        "can_add": request.user.has_perm("automation.add_task"),
        "can_change": request.user.has_perm("automation.change_case"),
        "panel": "case",
        "nav": "accounts",
    }
    context["tasks"] = context["v"].tasks
    return render(request, "web/case.html", context, status=status)


def _visible_case(request, pk):
    return one_or_404(
        visible_records(Case, request.user).select_related("account", "owner", "root_cause", "signal", "created_by"), pk
    )


@login_required
@require_GET
def case_detail(request, pk):
    return _case_page(request, _visible_case(request, pk))


@login_required
@require_POST
def case_close(request, pk):
    case = _visible_case(request, pk)
    form = CaseCloseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            work.close_case(request.user, case, outcome=data["outcome"], root_cause=data["root_cause"], note=data["note"], via="ui")
        except (PermissionDenied, ValidationError) as exc:
            form.add_error(None, _errors(exc))
        else:
            messages.success(request, _("Case closed."))
            return redirect("web:case", pk=case.pk)
    return _case_page(request, case, close_form=form, status=422)
