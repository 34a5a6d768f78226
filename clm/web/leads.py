"""The lead centre (线索中心): the lead list with filters and bulk assignment, a lead's page (scores
with reasons, engagement timeline, next step, move and convert), the funnel report and the ICP and
fit page. Every change goes through clm.sales' services; what a user sees is visible_records."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clm.core.access import visible_records
from clm.core.crud import one_or_404
from clm.sales import assignment, conversion, funnel, reports, scoring, scripts
from clm.sales.models import ICP, Lead
from clm.web.models import SavedView
from clm.web.templatetags.workspace import display_name
from clm.web.views import _safe_next, is_htmx

PER_PAGE = 50
SORTS = {
    "fit": (F("fit_score").desc(nulls_last=True), F("icp_score").desc(nulls_last=True)),
    "engagement": (F("engagement_score").desc(),),
    "new": (F("mal_at").desc(),),
    "company": (F("company").asc(),),
}


def _people():
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    return [(u.pk, display_name(u.username, u.first_name, u.last_name)) for u in users]


class LeadFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    status = forms.MultipleChoiceField(required=False, choices=Lead.Status.choices)
    owner = forms.ChoiceField(required=False)
    source = forms.ChoiceField(required=False)
    icp = forms.ChoiceField(required=False)
    min_fit = forms.IntegerField(required=False, min_value=0, max_value=100)
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS])

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [
            ("", gettext_lazy("Anyone")), ("me", gettext_lazy("Mine")), ("pool", gettext_lazy("Unassigned pool")),
            *[(str(pk), name) for pk, name in _people()],
        ]
        channels = Lead.objects.order_by().values_list("source_channel", flat=True).distinct()
        self.fields["source"].choices = [("", gettext_lazy("Any")), *[(c, c) for c in sorted(channels) if c]]
        self.fields["icp"].choices = [("", gettext_lazy("Any")), *ICP.objects.values_list("key", "name")]


def lead_rows(user, data: dict):
    leads = visible_records(Lead, user).select_related("owner", "icp")
    if data.get("q"):
        q = data["q"]
        leads = leads.filter(Q(name__icontains=q) | Q(company__icontains=q) | Q(email__icontains=q))
    if data.get("status"):
        leads = leads.filter(status__in=data["status"])
    else:
        leads = leads.filter(status__in=scoring.OPEN)
    owner = data.get("owner")
    if owner == "me":
        leads = leads.filter(owner=user)
    elif owner == "pool":
        leads = leads.filter(owner__isnull=True)
    elif owner and owner.isdigit():
        leads = leads.filter(owner_id=int(owner))
    if data.get("source"):
        leads = leads.filter(source_channel=data["source"])
    if data.get("icp"):
        leads = leads.filter(icp__key=data["icp"])
    if data.get("min_fit") is not None:
        leads = leads.filter(Q(fit_score__gte=data["min_fit"]) | Q(fit_score__isnull=True, icp_score__gte=data["min_fit"]))
    return leads.order_by(*SORTS[data.get("sort") or "fit"], "pk")


@login_required
def lead_list(request):
    form = LeadFilterForm(request.GET, user=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    page = Paginator(lead_rows(request.user, data), PER_PAGE).get_page(request.GET.get("page") or 1)
    context = {"form": form, "page": page, "criteria": data, "query": request.GET.urlencode(), "nav": "leads",
               "can_assign": request.user.has_perm("sales.change_lead"), "people": _people(),
               "statuses": Lead.Status.choices, "chosen": data.get("status") or [],
               "saved_views": SavedView.objects.filter(user=request.user, list=SavedView.List.LEADS)}
    template = "web/leads/_table.html" if is_htmx(request) else "web/leads/list.html"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@login_required
@require_POST
def lead_bulk(request):
    back = _safe_next(request, reverse("web:leads"))
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
    owner = request.POST.get("owner", "")
    try:
        done = assignment.assign_by_hand(request.user, ids, int(owner) if owner.isdigit() else None)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
        return redirect(back)
    messages.success(request, _("%(n)d leads assigned.") % {"n": done})
    return redirect(back)


def _message(exc) -> str:
    if isinstance(exc, PermissionDenied):
        return str(exc) or _("You may not do this.")
    return " ".join(m for ms in exc.message_dict.values() for m in ms) if hasattr(exc, "error_dict") else " ".join(exc.messages)


# -- a lead's page -------------------------------------------------------------------------------------


def _timeline(lead: Lead) -> list[dict]:
    items = [{"at": a.at, "kind": "activity", "label": reports.kind_label(a.kind), "text": a.name}
             for a in lead.activities.all()[:100]]
    for c in lead.stage_history.select_related("changed_by"):
        items.append({"at": c.changed_at, "kind": "move", "label": _("%(from)s → %(to)s") % {
            "from": reports.stage_label(c.from_status) if c.from_status else "—", "to": reports.stage_label(c.to_status)},
            "text": c.reason, "who": c.changed_by})
    items.append({"at": lead.mal_at, "kind": "move", "label": _("Lead came in"), "text": lead.source_channel})
    return sorted(items, key=lambda i: i["at"], reverse=True)


@login_required
def lead_detail(request, pk):
    lead = one_or_404(visible_records(Lead, request.user).select_related("owner", "icp", "account"), pk)
    explained = reports.explain(lead)
    can_work = request.user.has_perm("sales.change_lead")
    preview = conversion.preview(request.user, lead) if can_work and lead.status in scoring.OPEN else None
    for match in (preview or {}).get("matches", []):
        match["fill_words"] = [(reports.feature_label(f), v) for f, v in match["fills"].items()]
    context = {
        "lead": lead, "x": explained, "timeline": _timeline(lead), "can_work": can_work, "preview": preview,
        "nav": "leads", "moves": [(s, label) for s, label in Lead.Status.choices
                                  if s in ("mal", "mql", "sql", "disqualified") and s != lead.status],
        "actions": [(a, funnel.action_label(a), a in (lead.actions or [])) for a in funnel.ACTIONS],
        "band": scoring.band(scoring.shown_fit(lead)),
        "tracks": scripts.lead_suggestions(request.user, lead) if lead.status in scoring.OPEN else [],
    }
    return render(request, "web/leads/detail.html", context)


def _act_on_lead(request, pk, act, done: str):
    """Call a service on a lead the user may see; its refusal, or `done`, comes back as a message."""
    lead = one_or_404(visible_records(Lead, request.user), pk)
    try:
        act(lead)
        messages.success(request, done)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
    return redirect("web:lead", pk=pk)


@login_required
@require_POST
def lead_move(request, pk):
    to, reason = request.POST.get("to", ""), request.POST.get("reason", "")
    return _act_on_lead(request, pk, lambda lead: funnel.move_lead(request.user, lead, to, reason=reason), _("Lead moved."))


@login_required
@require_POST
def lead_actions(request, pk):
    chosen = request.POST.getlist("actions")
    return _act_on_lead(request, pk, lambda lead: funnel.set_actions(request.user, lead, chosen), _("Actions saved."))


@login_required
@require_POST
def lead_convert(request, pk):
    lead = one_or_404(visible_records(Lead, request.user), pk)
    target = request.POST.get("account", "")
    try:
        amount = float(request.POST.get("amount") or 0)
        if amount < 0:
            raise ValueError
    except ValueError:
        messages.error(request, _("The amount must be a number, 0 or more."))
        return redirect("web:lead", pk=pk)
    try:
        lead = conversion.convert_lead(request.user, lead, account_id=int(target) if target.isdigit() else None,
                                       new_account=target == "new", amount=amount)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
        return redirect("web:lead", pk=pk)
    messages.success(request, _("Converted: %(account)s, with a new-business opportunity.") % {"account": lead.account.name})
    return redirect("web:lead", pk=pk)


# -- the funnel and the fit report ----------------------------------------------------------------------


def _day(text, default):
    try:
        return dt.date.fromisoformat(text) if text else default
    except ValueError:
        return default


@login_required
def lead_funnel(request):
    by = request.GET.get("by") or None
    by = by if by in ("source_channel", "icp", "owner") else None
    since, until = _day(request.GET.get("since"), None), _day(request.GET.get("until"), None)
    report = reports.funnel_report(request.user, since=since, until=until, by=by)
    overall = report["overall"]
    for row in [*report["rows"], *overall]:
        row["label"] = reports.stage_label(row["stage"])
    chart = [{"label": r["label"], "reached": r["reached"]} for r in overall]
    groups: dict = {}
    for row in report["rows"] if by else []:
        groups.setdefault(row["group"], []).append(row)
    context = {"report": report, "overall": overall, "groups": groups, "chart": chart, "by": by, "nav": "leads",
               "bys": [("", _("Overall")), ("source_channel", _("Channel")), ("icp", _("ICP")), ("owner", _("Owner"))]}
    return render(request, "web/leads/funnel.html", context)


RULES_HELP = json.dumps([{"field": "industry", "op": "in", "value": ["制造业"], "weight": 3},
                         {"field": "size_band", "op": "in", "value": ["200-999", "1000+"], "weight": 2}],
                        ensure_ascii=False)


@login_required
def lead_fit(request):
    report = reports.fit_report()
    icps = list(ICP.objects.all())
    for icp in icps:
        icp.texts = [reports.weighted_rule_text(r) for r in icp.rules]
    errors, posted = {}, None
    for icp in icps:
        icp.rules_json = json.dumps(icp.rules, ensure_ascii=False)
    if request.method == "POST":
        posted = request.POST
        icp = ICP.objects.filter(pk=posted.get("pk")).first() if posted.get("pk") else None
        try:
            rules = json.loads(posted.get("rules") or "[]")
        except ValueError as exc:
            errors["rules"] = [_("Rules: not valid JSON (%(error)s).") % {"error": exc}]
            rules = None
        if not errors:
            try:
                funnel.save_icp(request.user, {
                    "key": posted.get("key", "").strip(), "name": posted.get("name", "").strip(),
                    "product_line": posted.get("product_line", "").strip(), "rules": rules,
                    "match_at": int(posted.get("match_at") or 70), "active": bool(posted.get("active"))}, icp)
                messages.success(request, _("Ideal customer profile saved; open leads are rescored."))
                return redirect("web:lead_fit")
            except ValidationError as exc:
                errors = exc.message_dict
            except PermissionDenied as exc:
                errors = {"__all__": [str(exc)]}
        for icp in icps:  # the form comes back as it was sent
            if str(icp.pk) == posted.get("pk"):
                icp.rules_json = posted.get("rules", "")
    context = {"report": report["report"], "trained_at": report["trained_at"], "icps": icps, "nav": "leads",
               "errors": errors, "posted": posted, "rules_help": RULES_HELP,
               "can_edit": request.user.has_perm("sales.change_icp")}
    return render(request, "web/leads/fit.html", context, status=422 if errors else 200)
