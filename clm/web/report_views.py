"""The dashboard pages beside the overview — lifecycle flows, revenue, cohorts, value and
acquisition, early-warning quality, teams: each chart a figure of clm.reports.charts (the same the
API gives), with its table, its drill-down to the accounts behind each part, and its export."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from clm.core.models import User
from clm.core.money import money
from clm.io import export
from clm.reports.charts import labels, service
from clm.reports.charts.flows import link_key
from clm.reports.charts.value import bin_key
from clm.reports.kpis.base import Scope, Segment
from clm.value import services as value_services
from clm.web.forms import DashboardFilterForm
from clm.web.templatetags.workspace import display_name

PAGE_TITLES = {
    "flows": _("Lifecycle flows"), "revenue": _("Revenue"), "cohorts": _("Cohorts"),
    "value": _("Value and acquisition"), "quality": _("Early-warning quality"), "team": _("Team"),
}
PERCENT = {"share", "nrr", "grr", "red_share", "renewal_rate", "recall_in_time", "precision", "cac_share_of_ltv",
           "mean_predicted", "observed_rate"}
MONEY = {"opening_mrr", "new", "expansion", "reactivation", "contraction", "churn", "net_new_mrr", "closing_mrr",
         "starting_mrr", "ending_mrr", "arr", "clv", "spend", "cac", "ltv", "low", "high"}


def row_part(key: str, columns: list[str], row: list) -> str:
    """The part of a figure a table row stands for (its accounts: the drill-down)."""
    cell = dict(zip(columns, row, strict=False))
    if key == "flows.sankey":
        return link_key(cell["from_stage"], cell["to_stage"])
    if key == "value.clv":
        return bin_key(cell["low"], cell["high"])
    if key == "revenue.arr_segments":
        return f"{cell['dimension']}:{cell['segment']}"
    if key == "value.tiers":
        return f"{cell['month']}:{cell['tier']}"
    if key == "team.people":
        return f"{cell['role']}:{cell['person_id']}"
    return str(row[0])


def is_number(cell) -> bool:
    """A table cell is right-aligned when it holds a number (a count, an amount, a rate)."""
    return isinstance(cell, int | float) and not isinstance(cell, bool)


def shown(column: str, cell) -> str:
    if cell is None:
        return "–"
    if isinstance(cell, float) and (column in PERCENT or (column.startswith("m") and column[1:].isdigit())):
        return f"{cell * 100:.1f}%"
    if isinstance(cell, float) and column in MONEY:
        return money(cell, compact=True)
    if isinstance(cell, float):
        return f"{cell:,.1f}"
    return str(cell)


def summary(key: str, figure: dict) -> list[str]:
    """The figures beside a chart's table, in words (customer equity, the backtest's headline...)."""
    extra, lines = figure, []
    if key == "value.clv" and "equity" in extra:
        lines.append(_("Customer equity (the sum of %(n)s customers' CLV, estimated on %(day)s): %(equity)s; median CLV %(median)s.")
                     % {"n": extra["accounts"], "day": extra["estimated_on"], "equity": money(extra["equity"]),
                        "median": money(extra["median"])})
    if key == "quality.churners" and figure["rows"]:
        counts = {row[0]: row[1] for row in figure["rows"]}
        lead = extra.get("lead_days") or {}
        churned = sum(counts.values())
        lines.append(ngettext("The one account that churned in %(period)s: %(in_time)s had had a churn warning at "
                              "least %(days)s days ahead, %(late)s later, %(none)s not at all.",
                              "Of the %(n)s accounts that churned in %(period)s, %(in_time)s had had a churn warning "
                              "at least %(days)s days ahead, %(late)s later, %(none)s not at all.", churned)
                     % {"n": churned, "period": figure["period"], "in_time": counts["in_time"],
                        "days": extra["min_lead_days"], "late": counts["late"], "none": counts["not_warned"]})
        if lead.get("p50") is not None:
            lines.append(_("Median time from the first warning to the churn: %(days)s days.") % {"days": f"{lead['p50']:.0f}"})
    if key == "quality.recall" and "backtest" in extra:
        run, pit, any_signal = extra["backtest"], extra["point_in_time"], figure["rows"][0]
        lines.append(_("Backtest of %(start)s – %(end)s, every %(step)s days, outcomes observed until %(until)s.")
                     % {"start": run["start"], "end": run["end"], "step": run["step_days"], "until": run["observed_until"]})
        judged = extra.get("flags_judged")
        judged = any_signal[4] if judged is None else judged
        said = {"flagged": any_signal[2], "churners": any_signal[1], "lead": run["min_lead_days"],
                 "right": any_signal[5], "judged": judged, "horizon": run["horizon_days"],
                 "waiting": any_signal[4] - judged}
        if said["waiting"] > 0:  # the precision leaves out the flags too recent to judge: the sentence says so
            lines.append(_("%(flagged)s of %(churners)s churners were flagged at least %(lead)s days ahead; %(right)s of "
                           "the %(judged)s accounts flagged whose %(horizon)s days have passed churned within them "
                           "(%(waiting)s more were flagged too recently to tell).") % said)
        else:
            lines.append(_("%(flagged)s of %(churners)s churners were flagged at least %(lead)s days ahead; %(right)s of "
                           "the %(judged)s accounts flagged churned within %(horizon)s days.") % said)
        if pit["precision"] is not None:
            lines.append(_("On a given day, %(share)s of the accounts flagged churned within %(horizon)s days.")
                         % {"share": shown("precision", pit["precision"]), "horizon": run["horizon_days"]})
    if key == "quality.lead_time" and extra.get("mean") is not None:
        lines.append(_("On average the first warning came %(days)s days before the churn.") % {"days": f"{extra['mean']:.0f}"})
    if key == "quality.calibration" and figure["rows"]:
        source = _("the latest backtest") if extra.get("source") == "backtest" else _("the model's validation when it was trained")
        auc = "–" if extra.get("roc_auc") is None else f"{extra['roc_auc']:.3f}"
        brier = "–" if extra.get("brier") is None else f"{extra['brier']:.4f}"
        lines.append(_("From %(source)s: ROC AUC %(auc)s, Brier score %(brier)s.") % {"source": source, "auc": auc, "brier": brier})
    return [str(line) for line in lines]


COMPANY_WIDE = {"quality.recall", "quality.lead_time", "quality.calibration"}


def company_wide_note(key: str, figure: dict) -> str:
    """Beside a figure no filter narrows (the stored backtest, the model's calibration): which
    dates it covers, and that the period and segment shown as applied do not apply to it."""
    if key not in COMPANY_WIDE or figure["no_data"]:
        return ""
    run = figure.get("backtest")
    if run:
        return str(_("Company-wide, from the backtest of %(start)s – %(end)s: the period and segment filters do "
                     "not apply to this figure.") % {"start": run["start"], "end": run["end"]})
    return str(_("Company-wide, from the churn model's validation when it was trained: the period and segment "
                 "filters do not apply to this figure."))


def part_label(key: str, code: str) -> str:
    """The part a drill-down narrowed the accounts list to, in words (a person by name)."""
    if key == "team.people" and ":" in code and code.split(":", 1)[1].isdigit():
        user = User.objects.filter(pk=int(code.split(":", 1)[1])).values_list("username", "first_name", "last_name")
        name = display_name(*user[0]) if user else ""
        return f"{labels.part(key, code)} · {name}" if name else labels.part(key, code)
    return labels.part(key, code)


def people_names(figure: dict) -> dict[int, str]:
    ids = {row[1] for row in figure["rows"]}
    users = User.objects.filter(pk__in=ids).values_list("pk", "username", "first_name", "last_name")
    return {pk: display_name(username, first, last) for pk, username, first, last in users}


def chart(key: str, figure: dict, drill: str, signals: dict, tiers: dict) -> dict:
    """One figure as the page shows it: labels in the user's language, a table, links per part."""
    columns = figure["columns"]
    link = {part: f"{drill}&{urlencode({'figure': key, 'part': part})}" for part, ids in figure["groups"].items() if ids}
    table = []
    names = [labels.row(key, columns, row, signals, tiers) for row in figure["rows"]]
    numeric = [any(i < len(row) and is_number(row[i]) for row in names) for i in range(len(columns))]  # right-aligned columns
    for row, named in zip(figure["rows"], names, strict=True):
        part = row_part(key, columns, row)
        href = link.get(part, "")
        table.append({"cells": [(shown(c, v), number) for c, v, number in zip(columns, named, numeric, strict=False)],
                      "link": href, "accounts": len(figure["groups"].get(part, ()))})
    hidden = {"person_id"}
    if key == "team.people":
        named_people = people_names(figure)
        for row, shown_row, raw in zip(names, table, figure["rows"], strict=False):
            row[2] = named_people.get(raw[1], raw[2])
            shown_row["cells"][2] = (row[2], numeric[2])
    return {
        "key": key, "title": str(labels.TITLES[key]), "no_data": figure["no_data"], "summary": summary(key, figure),
        "note": company_wide_note(key, figure),
        "headers": [(labels.column(c), numeric[i]) for i, c in enumerate(columns) if c not in hidden],
        "visible": [i for i, c in enumerate(columns) if c not in hidden], "table": table,
        "data": {"key": key, "columns": columns, "labels": [labels.column(c) for c in columns],
                 "rows": figure["rows"], "names": names,
                 "links": link, "counts": {part: len(ids) for part, ids in figure["groups"].items()},
                 "extra": {k: v for k, v in figure.items()
                                          if k not in ("rows", "groups", "columns")}},
    }


@login_required
@require_GET
def report_page(request, page: str):
    if page not in service.PAGES:
        raise Http404
    form = DashboardFilterForm(request.GET)
    period, segment = form.choice()
    query = urlencode({"period": period.label, **segment.as_query()})
    scope = Scope(request.user, segment)
    signals = {s.kind: s.title for s in service.signal_set().signals} if page == "quality" else {}
    drill = f"{reverse('web:accounts')}?{urlencode({'period': period.label, **_account_filters(segment)})}"
    charts, tiers = [], value_services.tier_names()
    for key in service.PAGES[page]:
        item = chart(key, service.read(request.user, key, period, segment, scope=scope), drill, signals, tiers)
        item["filters"] = query
        charts.append(item)
    return render(request, "web/reports/page.html", {
        "form": form, "period": period, "page": page, "title": PAGE_TITLES[page], "charts": charts,
        "query": query, "nav": "dashboard",
    })


def _account_filters(segment: Segment) -> dict:
    return segment.as_query()  # the accounts list reads each of them, the team and the tier too


def tabs() -> list[tuple[str, str, str]]:
    return [("overview", str(_("Overview")), reverse("web:dashboard"))] + [
        (page, str(title), reverse("web:report", args=[page])) for page, title in PAGE_TITLES.items()
    ]


@login_required
@require_GET
def report_export(request, key: str, fmt: str):
    """One figure's numbers (the chart's and its table's) as CSV or XLSX."""
    if key not in service.figures.FIGURES or fmt not in ("csv", "xlsx"):
        raise Http404
    period, segment = DashboardFilterForm(request.GET).choice()
    figure = service.read(request.user, key, period, segment)
    response = HttpResponse(service.write(key, figure, fmt), content_type=export.content_type(fmt))
    response["Content-Disposition"] = f'attachment; filename="{key}-{period.label}.{fmt}"'
    return response
