"""The forms that create and edit accounts, contacts, tickets, subscriptions, interactions and deals in the
workspace. Choices offer only what the user may see; saving goes through clm.core.records."""

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clm.commerce.models import Product, Subscription
from clm.core.access import visible_accounts, visible_records
from clm.core.models import Role, User
from clm.customers.models import Account, Contact, Interaction
from clm.customers.services import HOLDERS
from clm.sales.models import Opportunity, Pipeline
from clm.service.models import Ticket
from clm.web.templatetags.workspace import person

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


def _datetime():
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _date():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RecordForm(forms.ModelForm):
    """A record of one account (or an account itself) for `user`: the account, contact and
    product lists hold what the user may see; `account` fixes the account when given."""

    def __init__(self, *args, user, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "account" in self.fields:
            field = self.fields["account"]
            field.queryset = visible_accounts(user).only("pk", "name")
            account = account or getattr(self.instance, "account", None)
            if account is not None:
                field.initial = account.pk
                field.queryset = field.queryset.filter(pk=account.pk)
                field.empty_label = None
            else:
                if self.is_bound:
                    account = chosen_account(user, self.data.get(self.add_prefix("account")))
                if "contact" in self.fields:  # the contact list follows the account chosen
                    field.widget.attrs.update({
                        "hx-get": reverse("web:record_contacts"), "hx-target": f"#{self['contact'].auto_id}",
                        "hx-trigger": "change",
                    })
        if "contact" in self.fields:
            # the people of the chosen account; the page asks for them again when the account changes
            contacts = visible_records(Contact, user).filter(account=account) if account else Contact.objects.none()
            self.fields["contact"].queryset = contacts.only("pk", "name", "account_id")
            self.fields["contact"].required = False
        for field in self.fields.values():
            if isinstance(field, forms.DateTimeField):
                field.input_formats = DATETIME_FORMATS

    def clean(self):
        data = super().clean()
        account, contact = data.get("account"), data.get("contact")
        if account is not None and contact is not None and contact.account_id != account.pk:
            self.add_error("contact", _("This person works for another account; choose one of %(account)s.")
                           % {"account": account.name})
        return data

    def values(self) -> dict:
        """The submitted values by field name, for clm.core.records.save_record."""
        return {name: self.cleaned_data[name] for name in self.fields if name in self.cleaned_data}


def chosen_account(user, value) -> Account | None:
    """The visible account a form's raw value names, if any."""
    value = str(value or "")
    if not (value.isascii() and value.isdigit() and len(value) < 19):
        return None
    return visible_accounts(user).filter(pk=int(value)).first()


def holders(field: str):
    return User.objects.filter(is_active=True, groups__name__in=HOLDERS[field]).distinct().order_by("username")


class AccountForm(RecordForm):
    class Meta:
        model = Account
        fields = [
            "name", "domain", "industry", "region", "province", "city", "employee_count", "annual_revenue",
            "development_stage", "acquisition_channel", "customer_since", "sales_owner", "csm",
        ]
        labels = {
            "name": _("Company name"), "domain": _("Website domain"), "industry": _("Industry"),
            "region": _("Region"), "province": _("Province"), "city": _("City"),
            "employee_count": _("Employees"), "annual_revenue": _("Annual revenue"),
            "development_stage": _("Development stage"), "acquisition_channel": _("Acquisition channel"),
            "customer_since": _("Customer since"), "sales_owner": _("Owner"), "csm": _("CSM"),
        }
        widgets = {"customer_since": _date()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in (("sales_owner", "sales_owner_id"), ("csm", "csm_id")):
            self.fields[name].queryset = holders(field)
            self.fields[name].label_from_instance = person
            self.fields[name].empty_label = _("Nobody yet")
        if self.instance.pk is None and not self.is_bound:
            # a Sales or CSM user's new account is theirs (clm.customers.services.default_owner)
            if self.user.has_role(Role.SALES):
                self.fields["sales_owner"].initial = self.user.pk
            if self.user.has_role(Role.CSM):
                self.fields["csm"].initial = self.user.pk


class ContactForm(RecordForm):
    class Meta:
        model = Contact
        fields = ["account", "name", "title", "email", "phone", "role", "is_key_person", "status", "left_on"]
        labels = {
            "account": _("Account"), "name": pgettext_lazy("person", "Name"), "title": _("Job title"), "email": _("Email"),
            "phone": _("Phone"), "role": _("Decision-chain role"), "is_key_person": _("Key person (KP)"),
            "status": _("Status"), "left_on": _("Left on"),
        }
        widgets = {"left_on": _date()}
        help_texts = {"left_on": _("Empty when the person has left: today.")}


class TicketForm(RecordForm):
    class Meta:
        model = Ticket
        fields = [
            "account", "contact", "subject", "category", "priority", "status",
            "opened_at", "first_response_at", "resolved_at", "csat",
        ]
        labels = {
            "account": _("Account"), "contact": _("Contact"), "subject": _("Subject"),
            "category": _("Category"), "priority": _("Priority"), "status": _("Status"),
            "opened_at": _("Opened"), "first_response_at": _("First response"), "resolved_at": _("Resolved"),
            "csat": _("CSAT (1–5)"),
        }
        help_texts = {"category": _("For example bug, question, complaint."), "csat": ""}
        widgets = {"opened_at": _datetime(), "first_response_at": _datetime(), "resolved_at": _datetime()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["opened_at"].required = False
        self.fields["opened_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        self.fields["csat"].min_value = 1
        self.fields["csat"].widget.attrs.update(min=1, max=5)

    def clean_opened_at(self):
        return self.cleaned_data.get("opened_at") or timezone.now()

    def clean_csat(self):
        csat = self.cleaned_data.get("csat")
        if csat is not None and not 1 <= csat <= 5:
            raise forms.ValidationError(_("CSAT is a score from 1 to 5."))
        return csat

    def clean(self):
        data = super().clean()
        opened = data.get("opened_at")
        for name in ("first_response_at", "resolved_at"):
            if opened and data.get(name) and data[name] < opened:
                self.add_error(name, _("This is before the ticket was opened."))
        return data


class SubscriptionForm(RecordForm):
    class Meta:
        model = Subscription
        fields = [
            "account", "product", "status", "start_date", "end_date", "renewal_date", "seats", "mrr",
            "auto_renew", "cancelled_on", "cancel_reason",
        ]
        labels = {
            "account": _("Account"), "product": _("Product"), "status": _("Status"),
            "start_date": _("Start date"), "end_date": _("End date"), "renewal_date": _("Renewal date"),
            "seats": _("Seats"), "mrr": _("MRR (monthly recurring revenue)"), "auto_renew": _("Renews automatically"),
            "cancelled_on": _("Cancelled on"), "cancel_reason": _("Reason for cancelling"),
        }
        widgets = {name: _date() for name in ("start_date", "end_date", "renewal_date", "cancelled_on")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.all()
        self.fields["product"].empty_label = _("No product")
        self.fields["mrr"].min_value = 0
        self.fields["mrr"].widget.attrs["min"] = 0

    def clean(self):
        data = super().clean()
        start = data.get("start_date")
        for name in ("end_date", "renewal_date", "cancelled_on"):
            if start and data.get(name) and data[name] < start:
                self.add_error(name, _("This is before the start date."))
        if data.get("mrr") is not None and data["mrr"] < 0:
            self.add_error("mrr", _("MRR cannot be negative."))
        return data


class InteractionRecordForm(RecordForm):
    class Meta:
        model = Interaction
        fields = ["account", "contact", "type", "direction", "occurred_at", "summary", "outcome"]
        labels = {
            "account": _("Account"), "contact": _("Contact"), "type": _("Type"), "direction": _("Direction"),
            "occurred_at": _("When"), "summary": _("What happened"), "outcome": _("Outcome"),
        }
        widgets = {"occurred_at": _datetime(), "summary": forms.Textarea(attrs={"rows": 4})}

    def values(self) -> dict:
        # who logs an interaction owns it, as on the account page's quick log
        return super().values() | ({"owner": self.user} if self.instance.pk is None else {})


class OpportunityForm(RecordForm):
    class Meta:
        model = Opportunity
        fields = ["account", "name", "type", "pipeline", "stage", "amount", "expected_close", "owner",
                  "forecast_category", "lost_reason"]
        labels = {
            "account": _("Account"), "name": _("Deal name"), "type": _("Deal type"), "pipeline": _("Pipeline"),
            "stage": _("Stage"), "amount": _("Amount"), "expected_close": _("Expected close"),
            "owner": _("Owner"), "forecast_category": _("Forecast call"), "lost_reason": _("Lost reason"),
        }
        widgets = {"expected_close": _date()}
        help_texts = {"pipeline": _("Empty: the default pipeline of the deal type.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        pipelines = list(Pipeline.objects.filter(active=True).prefetch_related("stages"))
        self.fields["pipeline"].queryset = Pipeline.objects.filter(active=True)
        self.fields["pipeline"].label_from_instance = lambda p: p.label
        self.fields["pipeline"].empty_label = _("The deal type's default")
        # every pipeline's stages, grouped; the model checks that the stage is one of its pipeline's
        groups = [(p.label, [(s.key, s.label) for s in p.stages.all()]) for p in pipelines]
        self.fields["stage"] = forms.ChoiceField(
            label=_("Stage"), choices=groups or list(Opportunity.STAGE_LABELS.items())
        )
        self.fields["owner"].queryset = holders("sales_owner_id")
        self.fields["owner"].label_from_instance = person
        self.fields["owner"].empty_label = _("Nobody yet")
        self.fields["amount"].min_value = 0
        self.fields["amount"].widget.attrs["min"] = 0
        if self.instance.pk is None and not self.is_bound and self.user.has_role(Role.SALES):
            self.fields["owner"].initial = self.user.pk
        self.fields["forecast_category"].required = False  # left out: the deal's call as it is

    def clean_forecast_category(self):
        return self.cleaned_data.get("forecast_category") or self.instance.forecast_category


# kind in the URL -> (model, form, title of a new one, title of an edit)
FORMS = {
    "accounts": (Account, AccountForm, _("New account"), _("Edit account")),
    "contacts": (Contact, ContactForm, _("New contact"), _("Edit contact")),
    "tickets": (Ticket, TicketForm, _("New ticket"), _("Edit ticket")),
    "subscriptions": (Subscription, SubscriptionForm, _("New subscription"), _("Edit subscription")),
    "interactions": (Interaction, InteractionRecordForm, _("New interaction"), _("Edit interaction")),
    "opportunities": (Opportunity, OpportunityForm, _("New deal"), _("Edit deal")),
}
