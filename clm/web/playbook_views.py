"""The playbook pages: the list, a playbook drawn as a flow with its versions and enrollments, an
enrollment's path, and in-place editing of steps for administrators and managers. Every change
builds the whole document and goes through clm.automation.playbooks.services.save_document,
which validates it and saves a new version; a refusal comes back beside the step, form filled."""

from __future__ import annotations

import json
import re

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clm.automation.models import Enrollment, Playbook, StepRun
from clm.automation.playbooks import services
from clm.core.access import restrict
from clm.core.crud import one_or_404
from clm.web import playbooks as words
from clm.web.templatetags.workspace import person
from clm.web.views import is_htmx

# The settings each step type's form shows, in the order shown: (setting, kind).
FORM = {
    "wait": [("days", "int"), ("hours", "int"), ("minutes", "int"), ("until", "date"), ("event", "event"),
             ("timeout_days", "int")],
    "create_task": [("title", "i18n"), ("assignee", "person"), ("due_days", "int"), ("priority", "priority"),
                    ("note", "text")],
    "open_case": [("case_type", "case_type"), ("reason", "i18n"), ("owner", "person"), ("priority", "priority"),
                  ("due_days", "int")],
    "change_stage": [("stage", "stage")],
    "change_owner": [("role", "role"), ("user", "text")],
    "change_tags": [("add", "list"), ("remove", "list")],
    "change_field": [("field", "text"), ("value", "text")],
    "loyalty_points": [("points", "int"), ("note", "text")],
    "enroll": [("playbook", "playbook")],
    "send_email": [("template", "text")],
    "webhook": [("endpoint", "text"), ("event", "text")],
    "robot": [("robot", "text"), ("title", "i18n"), ("text", "i18n")],
    "branch": [("happened", "happened"), ("step", "step"), ("condition", "json"), ("then", "target"),
               ("else", "target")],
}
LABELS = {
    "days": gettext_lazy("Days"), "hours": gettext_lazy("Hours"), "minutes": gettext_lazy("Minutes"), "until": gettext_lazy("Until the date"),
    "event": gettext_lazy("Until the event"), "timeout_days": gettext_lazy("At most (days)"), "title": gettext_lazy("Title"),
    "assignee": gettext_lazy("Assignee"), "due_days": gettext_lazy("Due in (days)"), "priority": gettext_lazy("Priority"), "note": gettext_lazy("Note"),
    "case_type": gettext_lazy("Case type"), "reason": gettext_lazy("Reason"), "owner": gettext_lazy("Owner"), "stage": gettext_lazy("Stage"),
    "role": gettext_lazy("Role"), "user": gettext_lazy("User name"), "add": gettext_lazy("Tags to add"), "remove": gettext_lazy("Tags to remove"),
    "field": gettext_lazy("Field"), "value": gettext_lazy("Value"), "points": gettext_lazy("Points"), "playbook": gettext_lazy("Playbook"),
    "template": gettext_lazy("Email template"), "endpoint": gettext_lazy("Webhook"), "robot": gettext_lazy("Robot"), "text": gettext_lazy("Message"),
    "happened": gettext_lazy("If this happened"), "step": gettext_lazy("To the step"), "condition": gettext_lazy("Or if this condition holds"),
    "then": gettext_lazy("Yes: go to"), "else": gettext_lazy("No: go to"), "if": gettext_lazy("Condition"), "id": gettext_lazy("Step"), "type": gettext_lazy("Step type"),
}
STEP_PATH = re.compile(r"^definition\.steps\[(\d+)\](?: \([^)]*\))?\.?([a-z_]*)")
INT = re.compile(r"-?[0-9]{1,9}")


def _message(path: str, message: str, steps: list[dict]) -> str:
    """A service message (in the user's language) naming the step and the setting it is about."""
    text = message  # already in the user's language: the service translates its messages
    where = STEP_PATH.match(path)
    if where is None:
        return text
    index, setting = int(where.group(1)), where.group(2)
    step = steps[index] if index < len(steps) and isinstance(steps[index], dict) else {}
    label = words.step_label(index, step)
    if setting in LABELS:
        label = f"{label} · {LABELS[setting]}"
    return _("%(where)s: %(message)s") % {"where": label, "message": text}


# -- reading a step's form ----------------------------------------------------------------------


def parse_step(kind: str, data, step_id: str, name=None) -> tuple[dict, list[str]]:
    """The step a submitted form describes, and the problems the form itself can see (JSON that is
    not JSON); every rule about what a step may hold is the service's."""
    step: dict = {"id": step_id, "type": kind}
    if name:
        step["name"] = name
    problems = []
    if any("\x00" in str(v) for v in data.values()):
        problems.append(_("The form holds a character that cannot be stored (NUL); remove it."))
        return step, problems
    for setting, field_kind in FORM.get(kind, []):
        raw = str(data.get(f"f-{setting}", "")).strip()
        if field_kind == "i18n":
            zh, en = (str(data.get(f"f-{setting}-{lang}", "")).strip() for lang in ("zh", "en"))
            if zh or en:
                step[setting] = {"zh": zh, "en": en}
        elif not raw:
            continue
        elif field_kind == "int":
            step[setting] = int(raw) if INT.fullmatch(raw) else raw
        elif field_kind == "person":
            step[setting] = {"user": raw[5:]} if raw.startswith("user:") else raw
        elif field_kind == "list":
            step[setting] = [t.strip() for t in re.split(r"[,，、]", raw) if t.strip()]
        elif field_kind == "json":
            try:
                step[setting] = json.loads(raw)
            except ValueError:
                problems.append(_("%(field)s: this is not valid JSON") % {"field": LABELS[setting]})
        else:
            step[setting] = raw
    if kind == "branch":
        test = {}
        if "happened" in step:
            test = {"happened": step.pop("happened"), "step": step.pop("step", None)}
        elif "condition" in step:
            test = {"condition": step.pop("condition")}
        step.pop("step", None)
        step.pop("condition", None)
        step.pop("happened", None)
        if test:
            step["if"] = test
    return step, problems


def form_values(step: dict) -> dict:
    """The form fields of a saved step (the inverse of parse_step)."""
    values = {}
    config = dict(step)
    if step.get("type") == "branch":
        test = config.get("if") or {}
        config.update(happened=test.get("happened"), step=test.get("step"))
        if "condition" in test:
            config["condition"] = json.dumps(test["condition"], ensure_ascii=False)
    for setting, kind in FORM.get(step.get("type"), []):
        value = config.get(setting)
        if value is None:
            continue
        if kind == "i18n":
            values[f"f-{setting}-zh"] = value.get("zh", "") if isinstance(value, dict) else str(value)
            values[f"f-{setting}-en"] = value.get("en", "") if isinstance(value, dict) else str(value)
        elif kind == "person" and isinstance(value, dict):
            values[f"f-{setting}"] = f"user:{value.get('user', '')}"
        elif kind == "list" and isinstance(value, list):
            values[f"f-{setting}"] = ", ".join(map(str, value))
        else:
            values[f"f-{setting}"] = str(value)
    return values


# -- pages --------------------------------------------------------------------------------------


@login_required
@require_GET
def playbook_list(request):
    enabled = set(Playbook.objects.values_list("key", flat=True))
    shipped = [
        {"key": key, "name": doc["name"]["zh" if words._lang() == "zh" else "en"], "trigger": words.trigger_words(doc["definition"]["trigger"])}
        for key, doc in services.templates().items() if key not in enabled
    ]
    return render(request, "web/playbooks/list.html", {
        "rows": words.rows(), "templates": shipped, "can_edit": services.can_edit(request.user), "nav": "playbooks",
    })


def _flow_context(request, playbook, *, errors=None, open_form=None, add=None):
    """What the flow partial draws. ``errors``: {step index or "add": [messages]}; ``open_form``:
    {step index: submitted values} to show an edit form filled after a refusal."""
    current = playbook.current
    definition = current.definition if current else {"steps": []}
    steps = words.steps_view(definition, words.at_steps(playbook))
    errors, open_form = errors or {}, open_form or {}
    for view in steps:
        view.errors = errors.get(view.index, [])
        view.values = open_form.get(view.index) or form_values(view.config)
        view.open = view.index in open_form
    step_ids = [s.id for s in steps]
    add = add or {}
    add_type = add.get("type") if add.get("type") in FORM else request.GET.get("type", "")
    return {
        "playbook": playbook,
        "version": current,
        "steps": steps,
        "trigger": words.trigger_words(definition.get("trigger", {})),
        "conditions": words.condition_words(definition.get("conditions")),
        "exit": words.condition_words(definition.get("exit")),
        "can_edit": services.can_edit(request.user),
        "step_types": list(words.STEP_TYPES.items()),
        "add_type": add_type if add_type in FORM else "",
        "add_values": add.get("values", {}),
        "add_errors": errors.get("add", []),
        "add_after": add.get("after", str(len(steps) - 1)),
        "page_errors": errors.get("page", []),
        "fields_of": {k: [(s, kind, LABELS[s]) for s, kind in v] for k, v in FORM.items()},
        "choices": _choices(step_ids),
    }


def _choices(step_ids):
    from clm.core.events import CATALOGUE

    return {
        "priority": list(words.PRIORITIES.items()),
        "case_type": list(words.CASE_TYPES.items()),
        "person": list(words.PEOPLE.items()) + [
            (f"user:{u.username}", person(u))
            for u in get_user_model().objects.filter(is_active=True).order_by("username")[:500]
        ],
        "role": list(words.PEOPLE.items()),
        "stage": [(c.value, c.label) for c in words.LifecycleStage],
        "event": [(e, words.EVENTS[e]) for e in CATALOGUE if e in words.EVENTS],
        "happened": [(k, str(v) % {"step": "…"}) for k, v in words.HAPPENED.items()],
        "step": [(s, _("step %(n)d") % {"n": i + 1}) for i, s in enumerate(step_ids)],
        "target": [(s, _("step %(n)d") % {"n": i + 1}) for i, s in enumerate(step_ids)] + [("end", _("the end"))],
        "playbook": [(k, n) for k, n in words._playbook_names(Playbook.objects.values_list("key", flat=True)).items()],
    }


def _enrollments(request, playbook):
    return restrict(Enrollment.objects.select_related("account", "lead", "version"), request.user, "account").filter(
        playbook=playbook)


@login_required
@require_GET
def playbook_detail(request, pk):
    playbook = one_or_404(Playbook.objects.all(), pk)
    context = _flow_context(request, playbook)
    if is_htmx(request) and "type" in request.GET:
        return render(request, "web/playbooks/_add_fields.html", context)
    recent = _enrollments(request, playbook).order_by("-started_at", "-id")[:20]
    labels = {s.id: s.label for s in context["steps"]}
    context.update(
        name=words.name(playbook),
        versions=playbook.versions.select_related("created_by").order_by("-number"),
        enrollments=[(e, labels.get(e.current_step, "")) for e in recent],
        document=json.dumps(services.document(playbook), ensure_ascii=False, indent=2),
        is_admin=request.user.has_role("Admin"),
        holdout_pct=round(playbook.holdout * 100, 1),
        outcome=words.OUTCOMES.get(playbook.outcome, ""),
        nav="playbooks",
    )
    return render(request, "web/playbooks/detail.html", context)


def _changed_steps(steps: list[dict], action: str, index: int, request) -> tuple[list[dict], list[str], int]:
    """The steps after the change, the form's own problems, and where the changed step now is."""
    steps = [dict(s) for s in steps]
    if action == "add":
        kind = request.POST.get("type", "")
        taken = {s.get("id") for s in steps}
        n = len(steps) + 1
        while f"{kind}-{n}" in taken:
            n += 1
        step, problems = parse_step(kind if kind in FORM else "", request.POST, f"{kind if kind in FORM else 'step'}-{n}")
        if kind not in FORM:
            step["type"] = kind[:40]
        at = min(max(index + 1, 0), len(steps))
        steps.insert(at, step)
        return steps, problems, at
    if not 0 <= index < len(steps):
        return steps, [_("There is no such step: the playbook changed meanwhile; reload the page.")], index
    if action == "edit":
        old = steps[index]
        steps[index], problems = parse_step(old.get("type"), request.POST, old.get("id"), old.get("name"))
        return steps, problems, index
    if action in ("up", "down"):
        other = index - 1 if action == "up" else index + 1
        if 0 <= other < len(steps):
            steps[index], steps[other] = steps[other], steps[index]
            return steps, [], other
        return steps, [], index
    if action == "remove":
        steps.pop(index)
        return steps, [], index
    return steps, [_("Unknown change.")], index


def _index(raw) -> int:
    raw = str(raw or "")
    return int(raw) if INT.fullmatch(raw) else -1


@login_required
@require_POST
def playbook_step(request, pk, action):
    """Add, edit, move or remove one step: a new version, or the service's refusal beside it."""
    playbook = one_or_404(Playbook.objects.all(), pk)
    if not services.can_edit(request.user):
        raise PermissionDenied(_("Only administrators and managers may change playbooks."))
    index = _index(request.POST.get("after" if action == "add" else "index"))
    doc = services.document(playbook)
    before = doc["definition"]["steps"] if doc["definition"] else []
    steps, problems, at = _changed_steps(before, action, index, request)
    errors: dict = {}
    if not problems:
        doc["definition"] = {**(doc["definition"] or {}), "steps": steps}
        try:
            services.save_document(doc, actor=request.user, via="ui")
        except ValidationError as error:
            problems = [_message(path, m, steps) for path, ms in error.message_dict.items() for m in ms]
        except PermissionDenied as error:
            problems = [str(error)]
    if not problems:
        if not is_htmx(request):
            messages.success(request, _("Saved as a new version."))
            return redirect("web:playbook", pk=playbook.pk)
        return render(request, "web/playbooks/_flow.html", _flow_context(request, playbook))
    if action == "add":
        errors["add"] = problems
        context = _flow_context(request, playbook, errors=errors, add={
            "type": request.POST.get("type", ""), "values": request.POST.dict(), "after": str(index)})
    elif action == "edit":
        errors[index] = problems
        context = _flow_context(request, playbook, errors=errors, open_form={index: request.POST.dict()})
    else:
        errors[index if 0 <= index < len(before) else "page"] = problems
        context = _flow_context(request, playbook, errors=errors)
    if is_htmx(request):
        return render(request, "web/playbooks/_flow.html", context, status=422)
    return _detail_with(request, playbook, context)


def _detail_with(request, playbook, context):
    context.update(
        name=words.name(playbook), versions=playbook.versions.order_by("-number"), enrollments=[],
        document="", is_admin=False, holdout_pct=round(playbook.holdout * 100, 1),
        outcome=words.OUTCOMES.get(playbook.outcome, ""), nav="playbooks",
    )
    return render(request, "web/playbooks/detail.html", context, status=422)


@login_required
@require_POST
def playbook_active(request, pk):
    playbook = one_or_404(Playbook.objects.all(), pk)
    try:
        services.set_active(playbook, request.POST.get("active") == "1", actor=request.user, via="ui")
    except PermissionDenied:
        messages.error(request, _("Only administrators and managers may change playbooks."))
    else:
        messages.success(request, _("The playbook is on.") if playbook.active else _("The playbook is off."))
    return redirect("web:playbook", pk=playbook.pk)


@login_required
@require_POST
def playbook_enable(request):
    """A playbook made from a shipped template, on, with the holdout share asked for (in %)."""
    key, raw = request.POST.get("template", ""), request.POST.get("holdout", "").strip() or "0"
    try:
        holdout = float(raw) / 100
    except ValueError:
        messages.error(request, _("The holdout share must be a number from 0 to 99."))
        return redirect("web:playbooks")
    if holdout != holdout or not 0 <= holdout < 1:  # NaN, or out of range
        messages.error(request, _("The holdout share must be a number from 0 to 99."))
        return redirect("web:playbooks")
    try:
        playbook = services.enable_template(key, holdout=holdout, actor=request.user, via="ui")
    except PermissionDenied:
        messages.error(request, _("Only administrators and managers may change playbooks."))
        return redirect("web:playbooks")
    except ValidationError:
        messages.error(request, _("There is no such template."))
        return redirect("web:playbooks")
    messages.success(request, _("The playbook is on."))
    return redirect("web:playbook", pk=playbook.pk)


@login_required
@require_GET
def enrollment_detail(request, pk):
    enrollment = one_or_404(
        restrict(Enrollment.objects.select_related("playbook", "version", "account", "lead"), request.user, "account"), pk)
    steps = {s.id: s for s in words.steps_view(enrollment.version.definition)}
    runs = [(run, steps.get(run.step_id)) for run in StepRun.objects.filter(enrollment=enrollment).order_by("id")]
    return render(request, "web/playbooks/enrollment.html", {
        "enrollment": enrollment, "runs": runs, "name": words.name(enrollment.playbook),
        "status": words.STATUSES.get(enrollment.status, ""), "statuses": words.STATUSES,
        "current": steps.get(enrollment.current_step), "nav": "playbooks",
        "is_admin": request.user.has_role("Admin"),
    })
