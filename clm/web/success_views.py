"""The success pages: onboardings and plans with filters, the account page's panel (onboarding
progress and the plan), the plan page with its objectives, milestones, QBRs and value-board links,
and the public value board a customer opens with a signed link. Views parse and find what the
user may see; clm.success decides and records."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clm.core.access import visible_accounts, visible_records
from clm.core.crud import one_or_404
from clm.core.models import Workspace
from clm.success import board, board_mail, kpis, onboarding, plans, rules
from clm.success import definitions as definition_service
from clm.success.models import (
    ActivationDefinition,
    Objective,
    Onboarding,
    OnboardingStep,
    PlanMilestone,
    SuccessPlan,
    ValueBoardLink,
)
from clm.usage.models import Feature
from clm.web import success_forms as f
from clm.web.views import _safe_next

PAGE = 50


def _errors(exc) -> dict:
    if isinstance(exc, PermissionDenied):
        return {None: [str(exc) or _("You may not do this.")]}
    return getattr(exc, "message_dict", None) or {None: exc.messages}


def _add_errors(form, exc) -> None:
    for field, errors in _errors(exc).items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def onboarding_view(o: Onboarding, today=None) -> dict:
    today = today or timezone.localdate()
    steps = list(o.steps.all())
    done = sum(1 for s in steps if s.completed_on)
    late = [s for s in steps if not s.completed_on and s.due_on < today]
    return {"o": o, "steps": steps, "done": done, "total": len(steps), "late": len(late),
            "percent": round(100 * done / len(steps)) if steps else 0, "day": (today - o.started_on).days}


def plan_view(plan: SuccessPlan, today=None) -> dict:
    today = today or timezone.localdate()
    names = dict(Feature.objects.values_list("key", "name"))
    objectives = [{"o": o, "progress": rules.progress(o.baseline, o.target, o.current),
                   "feature_name": names.get(o.feature) or o.feature} for o in plan.objectives.all()]
    milestones = list(plan.milestones.all())
    upcoming = [m for m in milestones if not m.done_on]
    return {"plan": plan, "objectives": objectives, "milestones": milestones, "next": upcoming[0] if upcoming else None,
            "done": len(milestones) - len(upcoming), "progress": plans.mean_progress(plan), "today": today,
            "facts": status_sentence(plan)}


def status_sentence(plan: SuccessPlan) -> str:
    """Why the plan has its status, as a sentence (the facts the rule saw)."""
    facts = plan.status_facts or {}
    rule = facts.get("rule")
    if rule == "milestone_overdue_long":
        return _("A milestone is %(days)s days past its due date (stuck after %(limit)s days).") % {
            "days": facts.get("most_overdue_days"), "limit": rules.STUCK_AFTER_DAYS}
    if rule == "milestone_overdue":
        return _("%(n)s milestone(s) past the due date, the latest by %(days)s days.") % {
            "n": facts.get("overdue"), "days": facts.get("most_overdue_days")}
    if rule == "progress_trails_time":
        return _("Objectives are %(progress)s%% of the way while %(time)s%% of the plan's time is gone.") % {
            "progress": round(100 * (facts.get("progress") or 0)), "time": round(100 * (facts.get("time_elapsed") or 0))}
    return _("No milestone is late and the objectives keep pace.")


# -- the lists ----------------------------------------------------------------------------------


@login_required
@require_GET
def success_list(request):
    tab = "plans" if request.GET.get("tab") == "plans" else "onboardings"
    q, status, mine = request.GET.get("q", "").strip(), request.GET.get("status", ""), request.GET.get("mine") == "1"
    today = timezone.localdate()
    if tab == "plans":
        rows = visible_records(SuccessPlan, request.user).filter(closed_on__isnull=True).select_related(
            "account", "owner").annotate(
            n_milestones=Count("milestones", distinct=True),
            n_done=Count("milestones", filter=Q(milestones__done_on__isnull=False), distinct=True))
        statuses = SuccessPlan.Status.choices
        if status in SuccessPlan.Status.values:
            rows = rows.filter(status=status)
        if mine:
            rows = rows.filter(owner=request.user)
        order = ["-status", "account__name"]
    else:
        rows = visible_records(Onboarding, request.user).select_related("account", "account__csm", "definition").annotate(
            n_steps=Count("steps", distinct=True),
            n_done=Count("steps", filter=Q(steps__completed_on__isnull=False), distinct=True),
            n_late=Count("steps", filter=Q(steps__completed_on__isnull=True, steps__due_on__lt=today), distinct=True))
        statuses = [*Onboarding.Status.choices, ("late", _("Late"))]
        if status == "late":
            rows = rows.filter(status=Onboarding.Status.IN_PROGRESS, n_late__gt=0)
        elif status in Onboarding.Status.values:
            rows = rows.filter(status=status)
        if mine:
            rows = rows.filter(account__csm=request.user)
        order = ["-started_on", "-id"]
    if q:
        rows = rows.filter(Q(account__name__icontains=q) | Q(account__search_key__icontains=q.lower()))
    page = Paginator(rows.order_by(*order), PAGE).get_page(request.GET.get("page"))
    return render(request, "web/success/list.html", {
        "tab": tab, "page": page, "q": q, "status": status, "mine": mine, "statuses": statuses, "today": today,
        "nav": "success", "figures": activation_figures(request.user, today) if tab == "onboardings" else None,
    })


def activation_figures(user, today) -> dict:
    """The activation KPIs of the onboardings the user may see that started in the past year, with
    the 30-day rate by signup month and by industry (clm.success.kpis)."""
    seen = visible_records(Onboarding, user).filter(started_on__gt=today - dt.timedelta(days=365))
    frame = kpis.onboarding_frame(seen)
    if frame.empty:
        return {}
    by_month = kpis.activation_rate_30d(frame, today, kpis.COHORT)
    by_segment = kpis.activation_rate_30d(frame, today, kpis.SEGMENT)
    return {
        "rate_7d": kpis.activation_rate_7d(frame, today), "rate_30d": by_month,
        "ttfv": kpis.median_time_to_first_value(frame, today),
        "months": sorted(by_month.breakdown.items())[-6:], "segments": sorted(by_segment.breakdown.items()),
    }


# -- the account page's panel -------------------------------------------------------------------


@login_required
@require_GET
def account_panel(request, pk):
    account = one_or_404(visible_accounts(request.user), pk)
    latest = (Onboarding.objects.filter(account=account).select_related("definition")
              .prefetch_related("steps__milestone", "steps__completed_by").first())
    plan = SuccessPlan.objects.filter(account=account, closed_on__isnull=True).prefetch_related(
        "objectives", "milestones").first()
    return render(request, "web/success/_account_panel.html", {
        "account": account, "ob": onboarding_view(latest) if latest else None,
        "pv": plan_view(plan) if plan else None, "step_form": f.StepForm(),
        "can_change": request.user.has_perm("success.change_onboarding"),
        "can_plan": request.user.has_perm("success.add_successplan"),
    })


@login_required
@require_POST
def step_complete(request, pk):
    step = one_or_404(OnboardingStep.objects.filter(
        onboarding__in=visible_records(Onboarding, request.user)).select_related("onboarding"), pk)
    form = f.StepForm(request.POST)
    if form.is_valid():
        try:
            onboarding.complete_step(request.user, step, on=form.cleaned_data["on"], note=form.cleaned_data["note"],
                                     via="ui")
            messages.success(request, _("Milestone marked done."))
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, " ".join(m for ms in _errors(exc).values() for m in ms))
    else:
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
    return redirect(_safe_next(request, reverse("web:account", args=[step.onboarding.account_id])))


# -- plans --------------------------------------------------------------------------------------


@login_required
def plan_create(request, pk):
    account = one_or_404(visible_accounts(request.user), pk)
    form = f.PlanForm(request.POST or None, initial={"starts_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            plan = plans.create_plan(request.user, account, via="ui", **form.cleaned_data)
            messages.success(request, _("Success plan created."))
            return redirect("web:plan", plan.pk)
        except (PermissionDenied, ValidationError) as exc:
            _add_errors(form, exc)
    return render(request, "web/success/plan_new.html", {"account": account, "form": form, "nav": "success"},
                  status=422 if form.errors else 200)


def _plan_of(request, pk) -> SuccessPlan:
    return one_or_404(visible_records(SuccessPlan, request.user).select_related("account", "owner"), pk)


def _plan_page(request, plan, forms=None, status=200, token=None):
    account = plan.account
    forms = forms or {}
    context = {
        **plan_view(plan), "account": account, "nav": "success",
        "qbrs": plan.qbrs.prefetch_related("contacts", "users", "next_steps"),
        "links": list(plan.links.all()), "now": timezone.now(), "token_url": token,
        "can_change": request.user.has_perm("success.change_successplan") and plan.closed_on is None,
        "objective_form": forms.get("objective") or f.ObjectiveForm(),
        "milestone_form": forms.get("milestone") or f.MilestoneForm(account=account, user=request.user),
        "qbr_form": forms.get("qbr") or f.QbrForm(account=account, user=request.user,
                                                  initial={"held_on": timezone.localdate()}),
        "link_form": forms.get("link") or f.LinkForm(),
        "email_link_form": forms.get("email_link") or f.EmailLinkForm(account=account),
    }
    return render(request, "web/success/plan.html", context, status=status)


@login_required
@require_GET
def plan_detail(request, pk):
    return _plan_page(request, _plan_of(request, pk))


def _objective(request, plan, form):
    plans.add_objective(request.user, plan, via="ui", **form.cleaned_data)
    return _("Objective added.")


def _milestone(request, plan, form):
    plans.add_milestone(request.user, plan, via="ui", **form.cleaned_data)
    return _("Milestone added.")


def _email_link(request, plan, form):
    contact = one_or_404(plan.account.contacts.all(), int(form.cleaned_data["contact"]))
    board_mail.email_link(request.user, plan, contact, days=form.cleaned_data["days"], via="ui")
    return _("The value board link was emailed to %(name)s and noted on the timeline.") % {"name": contact.name}


def _qbr(request, plan, form):
    data = form.cleaned_data
    qbr = plans.record_qbr(request.user, plan, held_on=data["held_on"], agenda=data["agenda"],
                           outcomes=data["outcomes"], contacts=data["contacts"], users=data["users"],
                           next_steps=data["next_steps"], via="ui")
    return _("QBR recorded; %(n)s next step(s) became tasks.") % {"n": qbr.next_steps.count()}


FORMS = {
    "objective": (lambda r, p, data: f.ObjectiveForm(data), _objective),
    "milestone": (lambda r, p, data: f.MilestoneForm(data, account=p.account, user=r.user), _milestone),
    "qbr": (lambda r, p, data: f.QbrForm(data, account=p.account, user=r.user), _qbr),
    "email_link": (lambda r, p, data: f.EmailLinkForm(data, account=p.account), _email_link),
}


@login_required
@require_POST
def plan_action(request, pk, action):
    plan = _plan_of(request, pk)
    if action in FORMS:
        make, run = FORMS[action]
        form = make(request, plan, request.POST)
        if form.is_valid():
            try:
                messages.success(request, run(request, plan, form))
                return redirect("web:plan", plan.pk)
            except (PermissionDenied, ValidationError) as exc:
                _add_errors(form, exc)
        return _plan_page(request, plan, {action: form}, status=422)
    if action == "link":
        form = f.LinkForm(request.POST)
        if form.is_valid():
            try:
                _link, token = board.create_link(request.user, plan, via="ui", **form.cleaned_data)
                url = request.build_absolute_uri(reverse("web:value_board", args=[token]))
                return _plan_page(request, plan, token=url)
            except (PermissionDenied, ValidationError) as exc:
                _add_errors(form, exc)
        return _plan_page(request, plan, {"link": form}, status=422)
    try:
        if action == "done":
            milestone = one_or_404(PlanMilestone.objects.filter(plan=plan), _int(request.POST.get("milestone")))
            plans.complete_milestone(request.user, milestone, via="ui")
            messages.success(request, _("Milestone marked done."))
        elif action == "revoke":
            link = one_or_404(ValueBoardLink.objects.filter(plan=plan), _int(request.POST.get("link")))
            board.revoke_link(request.user, link, via="ui")
            messages.success(request, _("The link was revoked: it no longer opens the board."))
        elif action == "current":
            objective = one_or_404(Objective.objects.filter(plan=plan), _int(request.POST.get("objective")))
            plans.update_objective(request.user, objective, {"current": _float(request.POST.get("current"))}, via="ui")
            messages.success(request, _("Current value saved."))
        elif action == "close":
            plans.close_plan(request.user, plan, via="ui")
            messages.success(request, _("The plan was closed."))
        else:
            raise Http404
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, " ".join(m for ms in _errors(exc).values() for m in ms))
    return redirect("web:plan", plan.pk)


def _int(value) -> int:
    return int(value) if value and str(value).isascii() and str(value).isdigit() else 0


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValidationError({"current": _("Give the current value as a number.")}) from None


# -- the value board ----------------------------------------------------------------------------


def _board_context(plan: SuccessPlan) -> dict:
    return {**board.board(plan), "plan": plan, "account": plan.account, "company": Workspace.current().name}


@require_GET
def value_board(request, token):
    """The customer's page: no sign-in, in the link's language, nothing internal on it."""
    try:
        link = board.open_link(token)
    except board.LinkRefused as refused:
        language = refused.link.language if refused.link else translation.get_language()
        with translation.override(language):
            return render(request, "web/success/board_refused.html",
                          {"reason": refused.reason, "company": Workspace.current().name}, status=410 if
                          refused.link else 404)
    with translation.override(link.language):
        response = render(request, "web/success/board.html", {**_board_context(link.plan), "link": link})
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_GET
def board_preview(request, pk):
    """What the customer will see, for the CSM, in the language asked for."""
    plan = _plan_of(request, pk)
    language = request.GET.get("lang") if request.GET.get("lang") in ValueBoardLink.Language.values else None
    with translation.override(language or translation.get_language()):
        return render(request, "web/success/board.html", {**_board_context(plan), "preview": True})



# -- activation definitions (managers) --------------------------------------------------------


@login_required
def definitions(request, pk=None):
    """The activation definitions, and one of them (or a new one) with its milestones to edit."""
    if not request.user.has_perm("success.view_activationdefinition"):
        raise PermissionDenied
    definition = one_or_404(ActivationDefinition.objects.all(), pk) if pk else None
    can_edit = request.user.has_perm("success.change_activationdefinition")
    formset_class = f.milestone_formset()
    form = f.DefinitionForm(request.POST or None, instance=definition)
    formset = formset_class(request.POST or None, instance=definition or ActivationDefinition(), prefix="m")
    if request.method == "POST" and can_edit and form.is_valid() and formset.is_valid():
        rows = [{**fm.cleaned_data, "instance": fm.instance if fm.instance.pk else None}
                for fm in formset.forms if fm.has_changed() or fm.instance.pk
                if fm.cleaned_data and not fm.cleaned_data.get("DELETE")]
        removed = [fm.instance for fm in formset.deleted_forms if fm.instance.pk]
        try:
            saved = definition_service.save_definition(request.user, definition, form.cleaned_data,
                                                       milestones=rows, removed=removed, via="ui")
            messages.success(request, _("Activation definition saved."))
            return redirect("web:activation_definition", saved.pk)
        except (PermissionDenied, ValidationError) as exc:
            for field, errors in _errors(exc).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
    return render(request, "web/success/definitions.html", {
        "definitions": ActivationDefinition.objects.prefetch_related("milestones").select_related("product"),
        "definition": definition, "form": form, "formset": formset, "can_edit": can_edit, "nav": "success",
    }, status=422 if request.method == "POST" else 200)
