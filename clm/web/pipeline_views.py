"""The pipeline board: a pipeline's deals by stage, moved by dragging a card or, from the keyboard
and without script, by the card's own 'Move to' form — both through clm.sales.pipelines.move; and
a deal's page: its stage history, its quotes and the talk tracks that fit it."""

from __future__ import annotations

from dateutil.relativedelta import relativedelta
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clm.core.access import visible_records
from clm.core.crud import one_or_404
from clm.core.models import User
from clm.reports.periods import Period
from clm.sales import forecast as sales_forecast
from clm.sales import pipelines, process, scripts
from clm.sales.models import Opportunity, PipelineStage, Quote
from clm.web.record_forms import holders
from clm.web.templatetags.workspace import person


class BoardFilters(forms.Form):
    owner = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("Owner"),
                                   empty_label=gettext_lazy("Everyone"))
    close_before = forms.DateField(required=False, label=gettext_lazy("Closing before"),
                                   widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["owner"].queryset = holders("sales_owner_id")
        self.fields["owner"].label_from_instance = person


@login_required
def board(request):
    choices = list(pipelines.pipelines_for(request.user))
    if not choices:
        raise PermissionDenied(_("No pipeline is active."))
    chosen = next((p for p in choices if p.key == request.GET.get("pipeline")), choices[0])
    filters = BoardFilters(request.GET or None)
    owner = close_before = None
    if filters.is_valid():
        owner = filters.cleaned_data["owner"]
        close_before = filters.cleaned_data["close_before"]
    result = pipelines.board(request.user, chosen, owner=owner.pk if owner else None, close_before=close_before)
    quarter = Period.of("quarter", timezone.localdate())
    forecast = sales_forecast.forecast(request.user, quarter.start, quarter.end)
    return render(request, "web/pipeline/board.html", {
        "nav": "pipeline", "board": result, "pipelines": choices, "filters": filters,
        "forecast": forecast, "quarter": quarter, "query": request.GET.urlencode(),
    })  # fmt: skip


@login_required
@require_POST
def move(request, pk):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=pk)
    stage = request.POST.get("stage", "")
    try:
        moved = pipelines.move(request.user, deal, stage)
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do this."))
    except ValidationError as error:
        fields = getattr(error, "message_dict", {"": error.messages})
        words = "; ".join(
            _("%(field)s: %(why)s") % {"field": _field_label(name), "why": " ".join(texts)}
            if name and name != "__all__"
            else " ".join(texts)
            for name, texts in fields.items()
        )
        messages.error(request, _("“%(deal)s” was not moved. %(why)s") % {"deal": deal.name, "why": words})
    else:
        label = next((s.label for s in PipelineStage.objects.filter(pipeline=moved.pipeline, key=moved.stage)), stage)
        messages.success(request, _("“%(deal)s” moved to %(stage)s.") % {"deal": moved.name, "stage": label})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    return redirect(back or "web:pipeline")


def _field_label(name: str) -> str:
    return str(PipelineStage.REQUIRABLE.get(name) or Opportunity._meta.get_field(name).verbose_name)


@login_required
def deal_detail(request, pk):
    deals = visible_records(Opportunity, request.user).select_related("account", "owner", "pipeline")
    deal = one_or_404(deals.prefetch_related("pipeline__stages"), pk)
    return render(request, "web/pipeline/deal.html", {
        "nav": "pipeline", "deal": deal,
        "history": pipelines.stage_history(deal),
        "calls": sales_forecast.call_history(deal), "categories": Opportunity.ForecastCategory.choices,
        "quotes": visible_records(Quote, request.user).filter(opportunity=deal).order_by("-number", "-version"),
        "tracks": scripts.suggestions(request.user, deal),
    })  # fmt: skip


class AnalyticsFilters(forms.Form):
    by = forms.ChoiceField(label=gettext_lazy("Group by"), choices=list(process.GROUPS.items()), required=False)
    months = forms.TypedChoiceField(label=gettext_lazy("Deals created in the last"), coerce=int, required=False,
                                    choices=[(3, gettext_lazy("3 months")), (6, gettext_lazy("6 months")),
                                             (12, gettext_lazy("12 months")), (24, gettext_lazy("24 months"))])  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)


@login_required
def analytics(request):
    choices = list(pipelines.pipelines_for(request.user))
    if not choices:
        raise PermissionDenied(_("No pipeline is active."))
    chosen = next((p for p in choices if p.key == request.GET.get("pipeline")), choices[0])
    by, months = "owner", 12
    filters = AnalyticsFilters(request.GET or None, initial={"by": by, "months": months})
    if filters.is_valid():
        by, months = filters.cleaned_data["by"] or by, filters.cleaned_data["months"] or months
    end = timezone.localdate()
    result = process.report(request.user, chosen, by=by, start=end - relativedelta(months=months), end=end)
    if by == "owner":  # people's names as the workspace writes them (姓名, not 名 姓)
        owners = {str(u.pk): person(u) for u in User.objects.filter(pk__in=[r["group"] for r in result.rows[1:]])}
        for row in result.rows[1:]:
            row["label"] = owners.get(row["group"], row["label"])
    return render(request, "web/pipeline/analytics.html", {
        "nav": "pipeline", "report": result, "pipelines": choices, "filters": filters, "months": months,
    })  # fmt: skip
