"""The workspace's forms: list filters, bulk actions, logging an interaction, preferences."""

import functools
import zoneinfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clm.automation import work
from clm.core.models import Role, Team, User
from clm.customers.models import Account, Contact, Interaction, LifecycleStage, Tag, WarningLevel
from clm.reports import digest as kpi_digest
from clm.reports.catalogue import CATALOGUE
from clm.reports.figures import FIGURES
from clm.reports.kpis.base import Segment
from clm.reports.services import default_period, parse_period
from clm.value import services as value_services
from clm.value.services.benefits import tier_keys
from clm.web import explain
from clm.web.accounts import RENEWAL_WINDOWS, SORTS, Criteria
from clm.web.labels import BAND_LABELS
from clm.web.models import SavedView
from clm.web.templatetags.workspace import display_name

ANYONE = _("Anyone")


def staff_choices(*roles, empty=ANYONE):
    """Active sales and CSM users (or those of `roles`) by name, after `empty`: "Anyone" in a
    filter, a prompt where a person must be chosen."""
    people = (
        User.objects.filter(is_active=True, groups__name__in=roles or [Role.SALES, Role.CSM])
        .order_by("username").values_list("pk", "username", "first_name", "last_name").distinct()
    )
    return [("", empty)] + [(pk, display_name(username, first, last)) for pk, username, first, last in people]


def distinct_values(field: str) -> list[tuple[str, str]]:
    values = Account.objects.exclude(**{field: ""}).order_by(field).values_list(field, flat=True).distinct()
    return [("", _("Any"))] + [(v, v) for v in values]


def period_field(text: str):
    """A reporting period typed in a form, or the reason it is not one, beside the field."""
    try:
        return parse_period(text)
    except ValidationError as error:
        raise forms.ValidationError(error.message_dict["period"]) from None


class AccountFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    stage = forms.MultipleChoiceField(label=_("Stage"), required=False, choices=LifecycleStage.choices)
    band = forms.MultipleChoiceField(label=_("Health"), required=False, choices=list(BAND_LABELS.items()))
    warning = forms.TypedMultipleChoiceField(
        label=_("Early warning"), required=False, coerce=int, choices=WarningLevel.choices[1:]
    )
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    csm = forms.TypedChoiceField(label=_("CSM"), required=False, coerce=int, empty_value=None)
    industry = forms.ChoiceField(label=_("Industry"), required=False)
    region = forms.ChoiceField(label=_("Region"), required=False)
    tag = forms.TypedChoiceField(label=_("Tag"), required=False, coerce=int, empty_value=None)
    tier = forms.ChoiceField(label=_("Value tier"), required=False)
    renewal = forms.TypedChoiceField(
        label=_("Renewal within"), required=False, coerce=int, empty_value=None,
        choices=[("", _("Any time"))] + [(d, _("%(days)s days") % {"days": d}) for d in RENEWAL_WINDOWS],
    )
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS] + [(f"-{k}", k) for k in SORTS])
    kpi = forms.ChoiceField(required=False, choices=[("", "")] + [(k.key, k.name) for k in CATALOGUE])
    figure = forms.ChoiceField(required=False)
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    period = forms.CharField(required=False, max_length=10)
    part = forms.CharField(required=False, max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = staff_choices(Role.SALES)
        self.fields["csm"].choices = staff_choices(Role.CSM)
        self.fields["figure"].choices = [("", "")] + [(k, k) for k in FIGURES]  # registered once apps are ready
        self.fields["industry"].choices = distinct_values("industry")
        self.fields["region"].choices = distinct_values("region")
        self.fields["tag"].choices = [("", _("Any"))] + [
            (t.pk, str(t)) for t in Tag.objects.select_related("category")
        ]
        self.fields["tier"].choices = tier_choices()
        self.fields["team"].choices = team_choices()

    def clean_period(self):
        period = self.cleaned_data["period"]
        return period_field(period).label if period else period

    def criteria(self) -> Criteria:
        data = self.cleaned_data if self.is_valid() else {}
        sort = data.get("sort") or "name"
        return Criteria(
            q=data.get("q", ""),
            stages=tuple(data.get("stage") or ()),
            bands=tuple(data.get("band") or ()),
            warnings=tuple(data.get("warning") or ()),
            owner=data.get("owner"),
            csm=data.get("csm"),
            industry=data.get("industry", ""),
            region=data.get("region", ""),
            tag=data.get("tag"),
            tier=data.get("tier", ""),
            renewal_within=data.get("renewal"),
            kpi=data.get("kpi", "") if data.get("period") else "",
            figure=data.get("figure", "") if data.get("period") else "",
            team=data.get("team"),
            kpi_period=data.get("period", "") if data.get("kpi") or data.get("figure") else "",
            kpi_part=data.get("part", ""),
            sort=sort.lstrip("-"),
            descending=sort.startswith("-"),
        )


def team_choices() -> list:
    return [("", _("Any"))] + list(Team.objects.order_by("name").values_list("pk", "name"))


def tier_choices() -> list[tuple[str, str]]:
    """The value tiers (the workspace's rules, or the defaults) by name in the user's language."""
    names = value_services.tier_names()
    return [("", _("Any"))] + [(key, explain.tier_name(key, key, names)) for key in tier_keys()]


class DashboardFilterForm(forms.Form):
    """The dashboards' period and segment (industry, region, owner, team, tag, value tier); a bad
    period is named beside the field and the last whole month shown instead."""

    kind = forms.ChoiceField(label=_("Period"), required=False, choices=[
        ("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year"))])
    period = forms.CharField(label=_("Which"), required=False, max_length=10,
                             help_text=_("2026-11, 2026-Q4 or 2026; empty: the last whole one"))
    industry = forms.ChoiceField(label=_("Industry"), required=False)
    region = forms.ChoiceField(label=_("Region"), required=False)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    tag = forms.TypedChoiceField(label=_("Tag"), required=False, coerce=int, empty_value=None)
    tier = forms.ChoiceField(label=_("Value tier"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = staff_choices(Role.SALES)
        self.fields["team"].choices = team_choices()
        self.fields["industry"].choices = distinct_values("industry")
        self.fields["region"].choices = distinct_values("region")
        self.fields["tag"].choices = [("", _("Any"))] + [(t.pk, str(t)) for t in Tag.objects.select_related("category")]
        self.fields["tier"].choices = tier_choices()

    def clean_period(self):
        text = self.cleaned_data["period"]
        return period_field(text) if text else None

    def choice(self):
        """(period, segment): what was asked, or the last whole period where the period is bad."""
        self.is_valid()
        data = self.cleaned_data
        period = data.get("period") or default_period(data.get("kind") or "month")
        segment = Segment(data.get("industry") or "", data.get("region") or "", data.get("owner"), data.get("team"),
                          data.get("tag"), data.get("tier") or "")
        return period, segment


class IdsField(forms.Field):
    """Record ids ticked in a list (name repeated): those that are ASCII digits of a bigint. "²" is
    a digit to str.isdigit, and int() refuses it."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        return [int(v) for v in value or () if v.isascii() and v.isdigit() and len(v) < 19]


class BulkActionForm(forms.Form):
    ACTIONS = [
        ("owner", _("Assign owner")),
        ("csm", _("Assign CSM")),
        ("tag", _("Add tag")),
        ("untag", _("Remove tag")),
        ("export", _("Export (CSV)")),
    ]
    action = forms.ChoiceField(
        label=_("Action"), choices=ACTIONS, error_messages={"required": _("Choose what to do with the accounts.")}
    )
    ids = IdsField(required=True, error_messages={"required": _("Tick the accounts first.")})
    user = forms.TypedChoiceField(label=_("Person"), required=False, coerce=int, empty_value=None)
    tag = forms.TypedChoiceField(label=_("Tag"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = staff_choices(empty=_("Choose a person…"))
        self.fields["tag"].choices = [("", "—")] + [(t.pk, str(t)) for t in Tag.objects.select_related("category")]

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action in ("owner", "csm") and not data.get("user"):
            self.add_error("user", _("Choose a person."))
        if action in ("tag", "untag") and not data.get("tag"):
            self.add_error("tag", _("Choose a tag."))
        return data


class InteractionForm(forms.ModelForm):
    TYPES = [(t, label) for t, label in Interaction.Type.choices if t in ("note", "call", "meeting", "visit", "qbr", "email")]

    type = forms.ChoiceField(label=_("Type"), choices=TYPES, initial="note")

    class Meta:
        model = Interaction
        fields = ["type", "contact", "occurred_at", "summary", "outcome"]
        labels = {"contact": _("Contact"), "occurred_at": _("When"), "summary": pgettext_lazy("interaction", "Summary"), "outcome": _("Outcome")}
        widgets = {
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "summary": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(account=account) if account else Contact.objects.none()
        self.fields["contact"].required = False
        self.fields["occurred_at"].required = False
        self.fields["occurred_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]

    def clean_occurred_at(self):
        return self.cleaned_data.get("occurred_at") or timezone.now()


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The zones a user can choose, the usual ones first: read once (the system's zone list does not change while
    CLM runs, and reading it walks the tz database's files)."""
    first = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "UTC",
             "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles")
    return first + tuple(sorted(z for z in zoneinfo.available_timezones() if z not in first and "/" in z))


class PreferencesForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)
    daily_digest = forms.BooleanField(
        label=_("Email me each morning the tasks I have due"), required=False,
    )
    weekly_kpis = forms.BooleanField(label=_("Email me each Monday the KPI table and what changed"), required=False)

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "language", "time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", _("Default (%(zone)s)") % {"zone": settings.TIME_ZONE})] + [
            (z, z) for z in time_zones()
        ]
        if self.instance.pk:
            self.fields["daily_digest"].initial = work.wants_digest(self.instance)
        if self.instance.pk and self.instance.has_role(Role.MANAGER):
            self.fields["weekly_kpis"].initial = kpi_digest.wants_weekly(self.instance)
        else:  # the weekly KPI digest goes to managers
            del self.fields["weekly_kpis"]

    def save(self, commit=True):
        user = super().save(commit)
        work.set_digest(user, self.cleaned_data["daily_digest"])
        if "weekly_kpis" in self.fields:
            kpi_digest.set_weekly(user, self.cleaned_data["weekly_kpis"])
        return user


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False)


class SavedViewForm(forms.ModelForm):
    class Meta:
        model = SavedView
        fields = ["name", "query", "list"]
        widgets = {"query": forms.HiddenInput, "list": forms.HiddenInput}
        error_messages = {"name": {"required": _("Give the view a name.")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["list"].required = False  # the accounts list's form predates the field

    def clean_list(self):
        return self.cleaned_data.get("list") or SavedView.List.ACCOUNTS
