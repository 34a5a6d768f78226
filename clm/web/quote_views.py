"""Quotes in the workspace: write one for a deal (lines from the catalogue), revise it, submit it
for approval, send it, record the customer's answer; approvers decide from the same page or their
list; a printable copy in the quote's language. Every action is a clm.sales.quotes operation."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clm.automation import quote_mail
from clm.commerce.models import Product
from clm.core.access import visible_records
from clm.core.crud import one_or_404
from clm.core.money import money
from clm.customers.models import Contact
from clm.sales import amendments, quote_links, quotes
from clm.sales.models import Approval, Opportunity, Quote

LINES = 6  # blank line rows on the form


class QuoteForm(forms.Form):
    valid_until = forms.DateField(label=gettext_lazy("Valid until"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    term_months = forms.IntegerField(label=gettext_lazy("Term (months)"), min_value=1, max_value=120, initial=12)
    tax_rate = forms.DecimalField(label=gettext_lazy("Tax rate (%)"), min_value=0, max_value=100, initial=6,
                                  decimal_places=2)
    language = forms.ChoiceField(label=gettext_lazy("Language of the quote"),
                                 choices=[("zh-hans", "简体中文"), ("en", "English")])
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    amends = forms.ModelChoiceField(
        queryset=None, required=False, label=gettext_lazy("Upgrade of the live contract"),
        empty_label=gettext_lazy("No: new contracts"),
        help_text=gettext_lazy("Accepted, the first recurring line becomes the contract's product, seats and MRR."),
    )  # fmt: skip

    def __init__(self, *args, deal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amends"].queryset = amendments.live_contracts(deal)
        self.fields["amends"].label_from_instance = contract_label
        if not self.fields["amends"].queryset.exists():
            del self.fields["amends"]


def contract_label(contract) -> str:
    return _("%(product)s · %(seats)s seats · %(mrr)s a month · until %(end)s") % {
        "product": contract.product.name if contract.product_id else _("Contract %(n)s") % {"n": contract.pk},
        "seats": contract.seats, "mrr": money(contract.mrr), "end": contract.end_date or "–"}


class LineForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.filter(active=True), required=False,
                                     label=gettext_lazy("Product"), empty_label="—")
    quantity = forms.DecimalField(label=gettext_lazy("Quantity"), min_value=0, initial=1, required=False)
    discount = forms.DecimalField(label=gettext_lazy("Discount (%)"), min_value=0, max_value=100, initial=0,
                                  required=False, decimal_places=2)


Lines = forms.formset_factory(LineForm, extra=0)


def _deal(request, pk) -> Opportunity:
    return one_or_404(visible_records(Opportunity, request.user).select_related("account"), pk)


def _quote(request, pk) -> Quote:
    return one_or_404(visible_records(Quote, request.user).select_related("opportunity__account"), pk)


def _lines(formset) -> list[dict]:
    return [
        {"product": f.cleaned_data["product"].pk,
         "quantity": 1 if f.cleaned_data.get("quantity") is None else f.cleaned_data["quantity"],
         "discount": (f.cleaned_data.get("discount") or 0) / 100}
        for f in formset.forms
        if f.cleaned_data.get("product")
    ]  # fmt: skip


def _form_page(request, deal, form, lines, *, quote=None, status=200):
    return render(request, "web/quotes/form.html", {
        "nav": "pipeline", "deal": deal, "form": form, "lines": lines, "quote": quote,
    }, status=status)  # fmt: skip


def _refusal(request, error: ValidationError, form=None) -> None:
    for field, texts in getattr(error, "message_dict", {None: error.messages}).items():
        if form is not None and field in form.fields:
            form.add_error(field, texts)
        else:
            messages.error(request, " ".join(texts))


@login_required
def quote_new(request, deal_pk):
    deal = _deal(request, deal_pk)
    source = None
    if request.GET.get("from"):
        source = _quote(request, int(request.GET["from"]) if request.GET["from"].isdigit() else 0)
    initial_lines = [
        {"product": li.product_id, "quantity": li.quantity, "discount": li.discount * 100}
        for li in (source.lines.all() if source else [])
    ]  # fmt: skip
    initial = {"language": translation.get_language() if translation.get_language() == "en" else "zh-hans"}
    if source:
        initial = {"valid_until": source.valid_until, "term_months": source.term_months,
                   "tax_rate": source.tax_rate * 100, "language": source.language, "notes": source.notes,
                   "amends": source.amends_id}  # fmt: skip
    form = QuoteForm(request.POST or None, initial=initial, deal=deal)
    lines = Lines(request.POST or None, initial=initial_lines + [{}] * (LINES - len(initial_lines)), prefix="line")
    if request.method == "POST":
        if form.is_valid() and lines.is_valid():
            fields = dict(form.cleaned_data, tax_rate=form.cleaned_data["tax_rate"] / 100)
            try:
                if source is not None:
                    quote = quotes.revise(request.user, source, _lines(lines), **fields)
                else:
                    quote = quotes.create_quote(request.user, deal, _lines(lines), **fields)
            except PermissionDenied as error:
                messages.error(request, str(error))
            except ValidationError as error:
                _refusal(request, error, form)
            else:
                messages.success(request, _("Quote %(quote)s saved.") % {"quote": quote})
                return redirect("web:quote", quote.pk)
        return _form_page(request, deal, form, lines, quote=source, status=422)
    return _form_page(request, deal, form, lines, quote=source)


@login_required
def quote_detail(request, pk):
    quote = _quote(request, pk)
    versions = visible_records(Quote, request.user).filter(number=quote.number).order_by("-version")
    return render(request, "web/quotes/detail.html", {
        "nav": "pipeline", "quote": quote, "deal": quote.opportunity, "versions": versions,
        "amended": contract_label(quote.amends) if quote.amends_id else "",
        "lines": quote.lines.select_related("product"),
        "approvals": quote.approvals.select_related("approver", "decided_by"),
        "contacts": quote.opportunity.account.contacts.exclude(email="").order_by("name"),
        "mine": [a for a in quote.approvals.all() if a.status == Approval.Status.PENDING and a.approver_id == request.user.pk],
    })  # fmt: skip


@login_required
def quote_print(request, pk):
    quote = _quote(request, pk)
    with translation.override(quote.language):
        return render(request, "web/quotes/print.html", {
            "quote": quote, "deal": quote.opportunity, "lines": quote.lines.select_related("product"),
        })  # fmt: skip


def _accept(user, quote, post):
    start = post.get("start") or None
    field = forms.DateField(required=False, label=_("Contract start"))
    try:
        start = field.clean(start)
    except ValidationError as error:
        raise ValidationError({"start": _("Contract start: %(why)s") % {"why": " ".join(error.messages)}}) from error
    return quotes.accept(user, quote, start=start)


def _email(user, quote, post):
    contact_id = post.get("contact", "")
    contact = visible_records(Contact, user).filter(pk=int(contact_id)).first() if contact_id.isdigit() else None
    return quote_mail.email_quote(user, quote, contact)


ACTIONS = {
    "submit": lambda user, quote, post: quotes.submit(user, quote),
    "email": _email,
    "revoke-link": lambda user, quote, post: quote_links.revoke(user, quote),
    "send": lambda user, quote, post: quotes.send(user, quote),
    "accept": _accept,
    "decline": lambda user, quote, post: quotes.decline(user, quote, reason=post.get("reason", "")),
}
DONE = {
    "submit": gettext_lazy("Submitted."), "send": gettext_lazy("Marked as sent."),
    "accept": gettext_lazy("Accepted: the contract and the order are written and the deal is won."),
    "decline": gettext_lazy("Recorded as declined."),
    "email": gettext_lazy("Emailed to the customer with a link to the printable quote; recorded on the timeline."),
    "revoke-link": gettext_lazy("The customer's link no longer opens the quote."),
}  # fmt: skip


@login_required
@require_POST
def quote_action(request, pk, action):
    quote = _quote(request, pk)
    if action not in ACTIONS:
        messages.error(request, _("Unknown action."))
        return redirect("web:quote", quote.pk)
    try:
        ACTIONS[action](request.user, quote, request.POST)
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do this."))
    except ValidationError as error:
        _refusal(request, error)
    else:
        messages.success(request, str(DONE[action]))
    return redirect("web:quote", quote.pk)


@login_required
@require_POST
def approval_decide(request, pk):
    approval = one_or_404(visible_records(Approval, request.user), pk)
    approve = request.POST.get("decision") == "approve"
    try:
        quotes.decide(request.user, approval, approve=approve, comment=request.POST.get("comment", ""))
    except PermissionDenied as error:
        messages.error(request, str(error))
    except ValidationError as error:
        _refusal(request, error)
    else:
        messages.success(request, _("Approved.") if approve else _("Rejected."))
    return redirect("web:quote", approval.quote_id)


@login_required
def approval_list(request):
    return render(request, "web/quotes/approvals.html", {
        "nav": "pipeline", "pending": quotes.pending_for(request.user),
    })  # fmt: skip
