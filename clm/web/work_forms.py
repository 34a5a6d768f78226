"""Forms of the work pages: a new task, an inline snooze or reassignment, a new case, closing one."""

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clm.automation.models import Case, Priority, RootCause
from clm.core.models import Role, User
from clm.web.forms import staff_choices

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
SNOOZES = {"1d": dt.timedelta(days=1), "3d": dt.timedelta(days=3), "7d": dt.timedelta(days=7)}


def people():
    return User.objects.filter(is_active=True)


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    due_at = forms.DateTimeField(
        label=_("Due"), required=False, input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Me"))] + staff_choices(Role.SALES, Role.CSM)[1:]

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if "\x00" in title:
            raise forms.ValidationError(_("The title contains a character that cannot be stored."))
        return title

    def clean_assignee(self):
        pk = self.cleaned_data.get("assignee")
        if pk is None:
            return None
        user = people().filter(pk=pk).first()
        if user is None:
            raise forms.ValidationError(_("Choose an active user."))
        return user


class SnoozeForm(forms.Form):
    CHOICES = [("1d", _("1 day")), ("3d", _("3 days")), ("7d", _("1 week"))]
    snooze = forms.ChoiceField(label=_("Snooze"), choices=CHOICES)

    def until(self) -> dt.datetime:
        return timezone.now() + SNOOZES[self.cleaned_data["snooze"]]


class ReassignForm(forms.Form):
    assignee = forms.TypedChoiceField(label=_("Give to"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = staff_choices(Role.SALES, Role.CSM)[1:]

    def clean_assignee(self):
        user = people().filter(pk=self.cleaned_data["assignee"]).first()
        if user is None:
            raise forms.ValidationError(_("Choose an active user."))
        return user


class CompleteForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), required=False, max_length=2000)


class CaseForm(forms.Form):
    type = forms.ChoiceField(label=pgettext_lazy("case", "Type"), choices=Case.Type.choices)
    reason = forms.CharField(label=_("Reason"), max_length=200)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    due_on = forms.DateField(label=_("Due on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if "\x00" in reason:
            raise forms.ValidationError(_("The reason contains a character that cannot be stored."))
        return reason


class CaseCloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Case.Outcome.choices, widget=forms.RadioSelect)
    root_cause = forms.ModelChoiceField(
        label=_("Root cause"), queryset=RootCause.objects.filter(active=True), empty_label=None
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["root_cause"].label_from_instance = lambda cause: cause.label()
        self.fields["root_cause"].error_messages["invalid_choice"] = _("Choose a root cause from the list.")
