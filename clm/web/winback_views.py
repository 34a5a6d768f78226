"""The win-back pages: the win-back workspace (KPIs by cause and offer, the win-backs being
worked, the churned accounts worth winning back) and one win-back's four steps. Views parse the
form, find what the user may see and call clm.automation.winback, which decides the rules."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clm.automation import winback, winback_lists
from clm.automation.models import Case, RootCause, WinBack
from clm.core.access import visible_accounts, visible_records
from clm.core.crud import one_or_404
from clm.core.models import Role, User
from clm.lifecycle import words
from clm.web import explain
from clm.web.templatetags.workspace import person
from clm.web.work_views import _errors

KPI_DAYS = 365


class CauseForm(forms.Form):
    cause = forms.ModelChoiceField(
        label=gettext_lazy("Root cause"), queryset=RootCause.objects.filter(active=True), to_field_name="code",
        empty_label=None,
    )
    note = forms.CharField(label=gettext_lazy("What the customer said, what you found"), required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cause"].label_from_instance = lambda c: c.label()


class PlanForm(forms.Form):
    offer = forms.ChoiceField(label=gettext_lazy("Offer"))
    discount_percent = forms.DecimalField(label=gettext_lazy("Discount (%)"), required=False, min_value=0, max_value=100)
    approver = forms.ModelChoiceField(label=gettext_lazy("Approved by (a manager)"), required=False,
                                      queryset=User.objects.none(), empty_label="–")
    evaluate_on = forms.DateField(
        label=gettext_lazy("Evaluate on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, offers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].choices = [(o.code, o.label()) for o in offers]
        managers = User.objects.filter(is_active=True, groups__name__in=[Role.MANAGER, Role.ADMIN]).distinct()
        self.fields["approver"].queryset = managers.order_by("last_name", "first_name", "username")
        self.fields["approver"].label_from_instance = person


class EvaluationForm(forms.Form):
    result = forms.ChoiceField(label=gettext_lazy("Result"), choices=WinBack.Result.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _kpis(user) -> dict:
    since = timezone.localdate() - dt.timedelta(days=KPI_DAYS)
    frame = winback_lists.evaluated(winback_lists.visible_winbacks(user), start=since)
    causes = {c.code: c.label() for c in RootCause.objects.all()}
    from clm.automation.models import WinBackOffer

    offers = {o.code: o.label() for o in WinBackOffer.objects.all()}

    def rows(table, names):
        return [{"key": k, "label": names.get(k, k), "cases": int(r["cases"]), "won": int(r["won"]),
                 "rate": float(r["rate"]), "arr": float(r["arr_won_back"])} for k, r in table.iterrows()]

    return {
        "evaluated": len(frame), "rate": winback_lists.success_rate(frame),
        "revenue": winback_lists.revenue_won_back(frame),
        "by_cause": rows(winback_lists.by_cause(frame), causes),
        "by_offer": rows(winback_lists.by_offer(frame), offers),
    }


@login_required
@require_GET
def winback_home(request):
    winback.require_view(request.user)
    open_ones = (
        visible_records(WinBack, request.user).exclude(step=WinBack.Step.EVALUATED)
        .filter(case__status__in=Case.OPEN_STATUSES)
        .select_related("account", "cause", "offer", "case__owner").order_by("evaluate_on", "-created_at")[:100]
    )
    kpis = _kpis(request.user)
    chart = [{"label": r["label"], "rate": round(100 * r["rate"], 1), "cases": r["cases"]} for r in kpis["by_cause"]]
    return render(request, "web/winback/home.html", {
        "nav": "winback", "kpis": kpis, "chart": chart, "open_winbacks": list(open_ones),
        "churned": winback_lists.churned_list(request.user, limit=50), "today": timezone.localdate(),
        "can_start": request.user.has_perm("automation.add_case"), "kpi_days": KPI_DAYS,
    })


@login_required
@require_POST
def winback_start(request, account_pk):
    account = one_or_404(visible_accounts(request.user), account_pk)
    signal = request.POST.get("signal") or "churned"
    values = {}
    if account.lifecycle_stage_since:
        values["left_on"] = account.lifecycle_stage_since.isoformat()
    reason = _("Win back a churned customer") if signal == "churned" else ""
    try:
        found = winback.open_winback(request.user, account=account, signal=signal, values=values, reason=reason, via="ui")
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _("The win-back was not started: %(errors)s") % {"errors": _errors(exc)})
        return redirect("web:winback")
    messages.success(request, _("Win-back started."))
    return redirect("web:winback_detail", pk=found.pk)


def _visible(request, pk) -> WinBack:
    winback.require_view(request.user)
    return one_or_404(
        visible_records(WinBack, request.user).select_related(
            "account", "case__owner", "case__signal", "cause", "offer", "approved_by"), pk
    )


def _signal_label(found: WinBack) -> str:
    """The opening signal in words: the lifecycle signal's title, the stage's name, or a playbook."""
    from clm.customers.models import LifecycleStage

    if found.case.signal_id:
        return words.signal_title(found.case.signal.kind, found.case.signal.title)
    if found.signal_kind in LifecycleStage.values:
        return str(LifecycleStage(found.signal_kind).label)
    if found.signal_kind.startswith("playbook"):
        return _("opened by a playbook (%(reason)s)") % {"reason": found.case.reason}
    return words.signal_title(found.signal_kind)


def _page(request, found: WinBack, *, cause_form=None, plan_form=None, evaluation_form=None, status=200):
    offers = list(winback.offers_for(found.cause))
    today = timezone.localdate()
    labels = [
        _("Identify the warning signal"), _("Analyse the root cause"), _("Choose and carry out a plan"),
        _("Evaluate the result"),
    ]
    done = [WinBack.Step.SIGNAL, WinBack.Step.CAUSE, WinBack.Step.PLAN, WinBack.Step.EVALUATED].index(found.step) + 1
    context = {
        "nav": "winback", "wb": found, "case": found.case, "account": found.account,
        "steps": [{"number": i + 1, "label": label, "done": i < done, "current": i == done}
                  for i, label in enumerate(labels)],
        "can_change": request.user.has_perm("automation.change_case") and found.case.is_open,
        "cause_form": cause_form or CauseForm(),
        "plan_form": plan_form or PlanForm(offers=offers, initial={"evaluate_on": today + dt.timedelta(days=winback.EVALUATE_AFTER_DAYS)}),
        "evaluation_form": evaluation_form or EvaluationForm(),
        "offers": offers, "tasks": list(found.case.tasks.select_related("assignee").order_by("due_at")),
        "due": found.evaluate_on is not None and found.evaluate_on <= today,
        "signal_values": sorted((explain.field(k), v) for k, v in (found.signal_values or {}).items()),
        "signal_label": _signal_label(found),
    }
    return render(request, "web/winback/detail.html", context, status=status)


@login_required
@require_GET
def winback_detail(request, pk):
    return _page(request, _visible(request, pk))


@login_required
@require_POST
def winback_step(request, pk, step):
    found = _visible(request, pk)
    forms_by_step = {"cause": CauseForm, "plan": PlanForm, "evaluate": EvaluationForm}
    if step not in forms_by_step:
        return redirect("web:winback_detail", pk=pk)
    kwargs = {"offers": list(winback.offers_for(found.cause))} if step == "plan" else {}
    form = forms_by_step[step](request.POST, **kwargs)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if step == "cause":
                winback.record_cause(request.user, found, cause=data["cause"], note=data["note"], via="ui")
            elif step == "plan":
                winback.choose_plan(request.user, found, offer=data["offer"], discount_percent=data["discount_percent"],
                                    approver=data["approver"], evaluate_on=data["evaluate_on"], note=data["note"], via="ui")
            else:
                winback.evaluate(request.user, found, result=data["result"], note=data["note"], via="ui")
        except (PermissionDenied, ValidationError) as exc:
            form.add_error(None, _errors(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("web:winback_detail", pk=pk)
    found.refresh_from_db()
    return _page(request, found, status=422, **{f"{'evaluation' if step == 'evaluate' else step}_form": form})


