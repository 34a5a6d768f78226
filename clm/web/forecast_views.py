"""The sales forecast of the current or next quarter per owner and team (clm.sales.forecast), the
deals behind each of its figures, and a deal's forecast call set from the deal page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clm.analytics.forecast import MEASURES
from clm.core.access import visible_records
from clm.core.models import Team, User
from clm.reports.periods import Period
from clm.reports.services import may_set_targets, target_value
from clm.sales import forecast
from clm.sales.models import Opportunity
from clm.web.templatetags.workspace import person

TARGET_KPI = "new_arr"


def _quarters() -> list[Period]:
    current = Period.of("quarter", timezone.localdate())
    return [current, current.next()]


def _chosen(request) -> Period:
    quarters = _quarters()
    return next((q for q in quarters if q.label == request.GET.get("period")), quarters[0])


def measure_labels() -> dict[str, str]:
    return {"won": _("Closed won"), "commit": _("Commit"), "best_case": _("Best case"), "pipeline": _("Pipeline"),
            "omitted": _("Omitted"), "weighted": _("Weighted pipeline")}  # fmt: skip


@login_required
def forecast_page(request):
    period = _chosen(request)
    target = target_value(TARGET_KPI, period.label)
    report = forecast.forecast(request.user, period.start, period.end, target=target)  # PermissionDenied: 403
    owners = {u.pk: person(u) for u in User.objects.filter(pk__in=report.owner_ids)}
    teams = dict(Team.objects.filter(pk__in=[r["group"] for r in report.teams]).values_list("pk", "name"))
    for row in report.owners:
        row["label"] = owners.get(row["group"]) or _("Unassigned")
    for row in report.teams:
        row["label"] = teams.get(row["group"]) or _("No team")
    report.owners.sort(key=lambda r: -r["upside"])
    return render(request, "web/pipeline/forecast.html", {
        "nav": "pipeline", "report": report, "period": period, "quarters": _quarters(),
        "measures": ["won", "commit", "best_case", "weighted"], "labels": measure_labels(),
        "target_hint": target is None and may_set_targets(request.user),
    })  # fmt: skip


@login_required
def forecast_deals(request):
    period = _chosen(request)
    measure = request.GET.get("measure", "")
    if measure not in MEASURES:
        raise Http404(_("Unknown figure."))
    try:
        owner = int(request.GET["owner"]) if request.GET.get("owner") else None
        team = int(request.GET["team"]) if request.GET.get("team") else None
    except ValueError as error:
        raise Http404(_("Unknown owner or team.")) from error
    deals = forecast.forecast_deals(request.user, period.start, period.end, measure=measure, owner=owner, team=team)
    who = ""
    if owner is not None:
        who = person(User.objects.filter(pk=owner).first()) if owner else _("Unassigned")
    elif team is not None:
        who = Team.objects.filter(pk=team).values_list("name", flat=True).first() or _("No team")
    return render(request, "web/pipeline/forecast_deals.html", {
        "nav": "pipeline", "deals": deals, "period": period, "measure": measure,
        "label": measure_labels()[measure], "who": who, "total": sum(d.amount for d in deals),
    })  # fmt: skip


@login_required
@require_POST
def set_call(request, pk):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=pk)
    try:
        deal = forecast.set_call(request.user, deal, request.POST.get("forecast_category", ""))
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do this."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Forecast call: %(call)s.") % {"call": forecast.category_label(deal.forecast_category)})
    return redirect("web:deal", pk=pk)
