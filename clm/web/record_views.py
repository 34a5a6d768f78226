"""Create and edit accounts, contacts, tickets, subscriptions and interactions: the form, then
clm.core.records.save_record (permissions, visibility, validation, audit). A refused or invalid
save comes back filled, with each message beside its field."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from clm.core import records
from clm.core.access import visible_records
from clm.core.crud import one_or_404
from clm.customers.models import Account, Contact
from clm.web.record_forms import FORMS, chosen_account


def _kind(kind: str):
    if kind not in FORMS:
        raise Http404(f"No such kind of record: {kind}.")
    return FORMS[kind]


def _after_save(obj) -> str:
    """Where a saved record is seen: its own page (accounts, contacts) or its account's."""
    if isinstance(obj, Account):
        return reverse("web:account", args=[obj.pk])
    if isinstance(obj, Contact):
        return reverse("web:contact", args=[obj.pk])
    return reverse("web:account", args=[obj.account_id])


def _save(request, form, instance=None):
    """The saved record, or None with the service's objections put on the form."""
    if not form.is_valid():
        return None
    try:
        return records.save_record(request.user, form._meta.model, form.values(), instance=instance, via="ui")
    except PermissionDenied as error:
        form.add_error(None, str(error) or _("You may not do this."))
    except ValidationError as error:
        for field, errors in getattr(error, "message_dict", {None: error.messages}).items():
            form.add_error(field if field in form.fields else None, errors)
    return None


def _page(request, form, title, status=200, instance=None, account=None):
    if instance is not None:
        back = _after_save(instance)
    else:
        back = reverse("web:account", args=[account.pk]) if account else reverse("web:accounts")
    context = {"form": form, "title": title, "record": instance, "back": back, "nav": "accounts"}
    return render(request, "web/records/form.html", context, status=status)


@login_required
def record_new(request, kind):
    model, form_class, title, _edit = _kind(kind)
    if not records.may(request.user, "add", model):
        raise PermissionDenied(_("You may not create %(things)s.") % {"things": model._meta.verbose_name_plural})
    account = chosen_account(request.user, request.GET.get("account"))
    form = form_class(request.POST or None, user=request.user, account=account)
    if request.method == "POST":
        obj = _save(request, form)
        if obj is not None:
            messages.success(request, _("%(thing)s saved.") % {"thing": str(model._meta.verbose_name).capitalize()})
            return redirect(_after_save(obj))
        return _page(request, form, title, status=422, account=account)
    return _page(request, form, title, account=account)


@login_required
def record_edit(request, kind, pk):
    model, form_class, _new, title = _kind(kind)
    instance = one_or_404(visible_records(model, request.user), pk)
    if not records.may(request.user, "change", model):
        raise PermissionDenied(_("You may not change %(things)s.") % {"things": model._meta.verbose_name_plural})
    form = form_class(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST":
        obj = _save(request, form, instance)
        if obj is not None:
            messages.success(request, _("%(thing)s saved.") % {"thing": str(model._meta.verbose_name).capitalize()})
            return redirect(_after_save(obj))
        return _page(request, form, title, status=422, instance=instance)
    return _page(request, form, title, instance=instance)


@login_required
@require_GET
def contact_options(request):
    """The <option>s of the contact list for the account chosen in a form (htmx)."""
    account = chosen_account(request.user, request.GET.get("account"))
    people = visible_records(Contact, request.user).filter(account=account).values_list("pk", "name") if account else []
    options = format_html('<option value="">{}</option>', "—") + format_html_join(
        "", '<option value="{}">{}</option>', people)
    return HttpResponse(options)
