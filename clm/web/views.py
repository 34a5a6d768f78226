"""The workspace pages. Each view parses, finds what the user may see (clm.core.access), calls a
read model or an action, and renders; htmx requests get the fragment they asked for."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clm.core.access import can_edit, visible_accounts, visible_records
from clm.core.crud import one_or_404
from clm.customers import actions as account_actions
from clm.customers.models import Account, Contact, Interaction, LifecycleStage, Tag
from clm.customers.services import manages_accounts
from clm.io import export
from clm.reports import services as reports
from clm.reports.charts import labels as charts_labels
from clm.web import actions, overview, report_views, worklist
from clm.web import dashboard as dashboards
from clm.web import timeline as timelines
from clm.web import work_forms as worklist_forms
from clm.web.accounts import export_csv as accounts_export_csv
from clm.web.accounts import page as accounts_page
from clm.web.forms import (
    AccountFilterForm,
    BulkActionForm,
    DashboardFilterForm,
    InteractionForm,
    LanguageForm,
    PreferencesForm,
    SavedViewForm,
)
from clm.web.labels import BAND_LABELS
from clm.web.membership import membership_panel
from clm.web.models import SavedView

TIMELINE_PAGE = 25


def is_htmx(request) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


@login_required
def home(request):
    """Managers and admins land on the dashboard; everyone else on their own work."""
    if manages_accounts(request.user):
        return dashboard(request)
    return my_work(request)


@login_required
@require_GET
def dashboard(request):
    form = DashboardFilterForm(request.GET)
    period, segment = form.choice()
    return render(request, "web/dashboard.html", {
        "form": form, "board": dashboards.dashboard(request.user, period, segment), "nav": "dashboard",
        "query": urlencode({"period": period.label, **segment.as_query()}),
    })


@login_required
@require_GET
def dashboard_export(request, fmt: str):
    """The dashboard's KPI table (the same rows as the tiles) as CSV or XLSX."""
    period, segment = DashboardFilterForm(request.GET).choice()
    rows = reports.kpi_table(request.user, period, segment)
    body = reports.write_csv(rows, period) if fmt == "csv" else reports.write_xlsx(rows, period)
    response = HttpResponse(body, content_type=export.content_type(fmt))
    response["Content-Disposition"] = f'attachment; filename="kpis-{period.label}.{fmt}"'
    return response


@login_required
def my_work(request):
    return render(request, "web/home.html", {
        "work": overview.my_work(request.user), "mine": worklist.my_worklist(request.user), "nav": "home",
        "task_form": worklist_forms.TaskForm(), "can_add": request.user.has_perm("automation.add_task"),
    })


@login_required
@require_GET
def account_list(request):
    form = AccountFilterForm(request.GET)
    page = accounts_page(request.user, form.criteria(), request.GET.get("page") or 1)
    context = {
        "form": form,
        "page": page,
        "criteria": form.criteria(),
        "query": request.GET.urlencode(),
        "saved_views": SavedView.objects.filter(user=request.user, list=SavedView.List.ACCOUNTS),
        "can_edit": can_edit(request.user, Account),
        "nav": "accounts",
        **_kpi_filter(form.criteria()),
    }
    if is_htmx(request):
        response = render(request, "web/accounts/_table.html", context)
    else:
        context["bulk"] = BulkActionForm()
        response = render(request, "web/accounts/list.html", context)
    response["Vary"] = "HX-Request"
    return response


def _kpi_filter(criteria) -> dict:
    """The KPI a drill-down from the dashboard narrowed the list to, named for the page."""
    if criteria.figure:
        return {"kpi_name": charts_labels.TITLES[criteria.figure],
                "kpi_part": report_views.part_label(criteria.figure, criteria.kpi_part)}
    if not criteria.kpi:
        return {}
    part = criteria.kpi_part
    return {
        "kpi_name": reports.find(criteria.kpi).name,
        "kpi_part": dict(LifecycleStage.choices).get(part) or BAND_LABELS.get(part, part),
    }


@login_required
@require_POST
def account_bulk(request):
    form = BulkActionForm(request.POST)
    back = _safe_next(request, reverse("web:accounts"))
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return redirect(back)
    data = form.cleaned_data
    if data["action"] == "export":
        return _csv_response(actions.export_accounts_csv(request.user, data["ids"]), "accounts-selected.csv")
    try:
        if data["action"] in ("owner", "csm"):
            done = account_actions.assign_accounts(request.user, data["ids"], data["action"], data["user"])
        else:
            tag = one_or_404(Tag.objects.all(), data["tag"])
            retag = account_actions.tag_accounts if data["action"] == "tag" else account_actions.untag_accounts
            done = retag(request.user, data["ids"], tag)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, " ".join(error.messages) if isinstance(error, ValidationError) else str(error))
        return redirect(back)
    messages.success(request, _("%(count)s accounts updated.") % {"count": done})
    return redirect(back)


@login_required
@require_GET
def account_export(request):
    """The accounts list with the filters and order on screen, every page, as CSV."""
    return _csv_response(accounts_export_csv(request.user, AccountFilterForm(request.GET).criteria()), "accounts.csv")


def _csv_response(chunks, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=export.content_type("csv"))
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_POST
def saved_view_create(request):
    """Save the filters on screen as a named view of the list they belong to (accounts or leads)."""
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        listed = request.POST.get("list")
        return redirect(SAVED_VIEW_LISTS.get(listed, "web:accounts"))
    name, query, listed = form.cleaned_data["name"], form.cleaned_data["query"], form.cleaned_data["list"]
    SavedView.objects.update_or_create(user=request.user, list=listed, name=name, defaults={"query": query})
    messages.success(request, _("View “%(name)s” saved.") % {"name": name})
    return redirect(f"{reverse(SAVED_VIEW_LISTS[listed])}?{query}")


SAVED_VIEW_LISTS = {SavedView.List.ACCOUNTS: "web:accounts", SavedView.List.LEADS: "web:leads"}  # list: its page


@login_required
@require_POST
def saved_view_delete(request, pk):
    view = one_or_404(SavedView.objects.filter(user=request.user), pk)
    view.delete()
    return redirect(SAVED_VIEW_LISTS[view.list])


def _kinds(request) -> list[str]:
    return [k for k in request.GET.getlist("kind") if k in timelines.SOURCES]


@login_required
@require_GET
def account_detail(request, pk):
    account = one_or_404(visible_accounts(request.user).select_related("sales_owner", "csm"), pk)
    kinds = _kinds(request)
    context = {
        "o": overview.account_overview(account),
        "account": account,
        "account_facts": [f for f in (account.domain, account.industry, account.region, account.city) if f],
        "timeline": timelines.timeline(account.pk, limit=TIMELINE_PAGE, kinds=kinds or None),
        "kinds": kinds,
        "all_kinds": timeline_kinds(),
        "note_form": InteractionForm(account=account),
        "can_log": request.user.has_perm("customers.add_interaction"),
        "lifecycle": overview.health_panel(account),
        "membership": membership_panel(account),
        "account_work": worklist.account_work(account, request.user),
        "task_form": worklist_forms.TaskForm(),
        "case_form": worklist_forms.CaseForm(),
        "can_add": request.user.has_perm("automation.add_task"),
        "can_open_case": request.user.has_perm("automation.add_case"),
        "nav": "accounts",
    }
    return render(request, "web/account.html", context)


def timeline_kinds():
    labels = {
        "interaction": _("Interactions"),
        "ticket": _("Tickets"),
        "survey": _("Surveys"),
        "order": _("Orders"),
        "contract": _("Contracts"),
        "payment": _("Payments"),
        "usage": _("Usage"),
        "task": _("Tasks"),
        "case": _("Cases"),
        "signal": _("Early-warning signals"),
    }
    return [(k, labels.get(k, k)) for k in timelines.SOURCES]


@login_required
@require_GET
def account_timeline(request, pk):
    account = one_or_404(visible_accounts(request.user).only("pk"), pk)
    try:
        page = timelines.timeline(
            account.pk,
            cursor=request.GET.get("cursor") or None,
            limit=TIMELINE_PAGE,
            kinds=_kinds(request) or None,
        )
    except (timelines.BadCursor, ValueError) as exc:
        return HttpResponseBadRequest(str(exc))
    return render(
        request,
        "web/accounts/_timeline_items.html",
        {
            "account": account,
            "timeline": page,
            "kinds": _kinds(request),
        },
    )


@login_required
@require_POST
def account_log(request, pk):
    """Log a note, call, meeting, visit or QBR; answers with the refreshed timeline (htmx) or
    goes back to the page."""
    account = one_or_404(visible_accounts(request.user), pk)
    form = InteractionForm(request.POST, account=account)
    if form.is_valid():
        try:
            account_actions.log_interaction(request.user, account, form.cleaned_data)
        except PermissionDenied as error:
            form.add_error(None, str(error))
    status = 200 if form.is_valid() and not form.errors else 422
    if not is_htmx(request):
        if status != 200:
            messages.error(
                request, _("The note was not saved: %(errors)s") % {"errors": form.errors.as_text()}
            )
        return redirect("web:account", pk=account.pk)
    context = {
        "account": account,
        "timeline": timelines.timeline(account.pk, limit=TIMELINE_PAGE),
        "kinds": [],
        "note_form": InteractionForm(account=account) if status == 200 else form,
    }
    return render(request, "web/accounts/_log_result.html", context, status=status)


@login_required
@require_GET
def contact_detail(request, pk):
    contact = one_or_404(visible_records(Contact, request.user).select_related("account"), pk)
    context = {
        "contact": contact,
        "interactions": Interaction.objects.filter(contact=contact)
        .select_related("owner")
        .order_by("-occurred_at")[:50],
        "tickets": contact.tickets.order_by("-opened_at")[:20],
        "colleagues": Contact.objects.filter(account_id=contact.account_id)
        .exclude(pk=contact.pk)
        .order_by("name")[:30],
        "nav": "accounts",
    }
    return render(request, "web/contact.html", context)


@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Preferences saved."))
        return _with_language_cookie(redirect("web:preferences"), form.instance.language)
    return render(request, "web/preferences.html", {"form": form, "nav": "preferences"})


@require_POST
def set_language(request):
    """Switch the language: kept on the user when signed in, in a cookie otherwise."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Unknown language."))
    language = form.cleaned_data["language"]
    if request.user.is_authenticated:
        request.user.language = language
        request.user.save(update_fields=["language"])
    return _with_language_cookie(redirect(_safe_next(request, reverse("web:home"))), language)


def _with_language_cookie(response, language):
    from django.conf import settings

    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def _safe_next(request, default: str) -> str:
    """Where to go back to: a path on this site (redirect() would take a bare word for a URL
    name, and fail on it), else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and "\x00" not in target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
