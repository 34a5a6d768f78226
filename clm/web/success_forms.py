"""Forms of the success pages: a plan, an objective, a milestone, a QBR with its next steps, a
value-board link, a milestone of onboarding confirmed by hand. They parse; clm.success decides."""

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from clm.core.access import restrict
from clm.core.models import Role, User
from clm.customers.models import Contact
from clm.success import board
from clm.success.models import Objective, ValueBoardLink
from clm.usage.models import Feature
from clm.web.forms import staff_choices

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _person(pk):
    if pk in (None, ""):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise forms.ValidationError(_("Choose an active user."))
    return user


class PlanForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    starts_on = forms.DateField(label=_("Starts on"), widget=DATE)
    ends_on = forms.DateField(label=_("Ends on"), required=False, widget=DATE)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("The account's CSM"))] + staff_choices(Role.CSM, Role.SALES)[1:]

    def clean_owner(self):
        return _person(self.cleaned_data.get("owner"))


class ObjectiveForm(forms.Form):
    goal = forms.CharField(label=_("Business goal"), max_length=200)
    target = forms.FloatField(label=_("Target value"))
    unit = forms.CharField(label=_("Unit"), max_length=30, required=False)
    metric = forms.ChoiceField(label=_("Usage metric"), choices=Objective.Metric.choices, required=False)
    feature = forms.ChoiceField(label=_("Feature"), required=False)
    baseline = forms.FloatField(label=_("Baseline"), required=False,
                                help_text=_("With a usage metric, left empty: the 30 days before the plan."))
    current = forms.FloatField(label=_("Current value"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["feature"].choices = [("", "—")] + [
            (key, name or key) for key, name in Feature.objects.order_by("key").values_list("key", "name")]


class MilestoneForm(forms.Form):
    title = forms.CharField(label=_("Milestone"), max_length=200)
    due_on = forms.DateField(label=_("Due on"), widget=DATE)
    owner_user = forms.TypedChoiceField(label=_("Our owner"), required=False, coerce=int, empty_value=None)
    owner_contact = forms.TypedChoiceField(label=_("Customer owner"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, account=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["owner_user"].choices = [("", "—")] + staff_choices(Role.CSM, Role.SALES)[1:]
        contacts = Contact.objects.filter(account=account, status=Contact.Status.ACTIVE).order_by("name")
        self.fields["owner_contact"].choices = [("", "—")] + [(c.pk, f"{c.name} · {c.title}" if c.title else c.name)
                                                              for c in contacts]
        # a contact posted from elsewhere reaches the service, which says whose contact it is
        self.fields["owner_contact"].valid_value = lambda value: True

    def clean_owner_user(self):
        return _person(self.cleaned_data.get("owner_user"))

    def clean_owner_contact(self):
        pk = self.cleaned_data.get("owner_contact")
        if pk is None:
            return None
        contact = restrict(Contact.objects.all(), self.user).filter(pk=pk).first()
        if contact is None:
            raise forms.ValidationError(_("Choose a contact of the account."))
        return contact


class QbrForm(forms.Form):
    held_on = forms.DateField(label=_("Date"), widget=DATE)
    agenda = forms.CharField(label=_("Agenda"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    outcomes = forms.CharField(label=_("Outcomes"), max_length=5000, required=False,
                               widget=forms.Textarea(attrs={"rows": 3}))
    contacts = forms.MultipleChoiceField(label=_("Customer attendees"), required=False,
                                         widget=forms.CheckboxSelectMultiple)
    users = forms.MultipleChoiceField(label=_("Our attendees"), required=False, widget=forms.CheckboxSelectMultiple)
    next_steps = forms.CharField(
        label=_("Next steps"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, each becomes a task; add a due date after a bar: 安排试点 | 2026-12-20"),
    )

    def __init__(self, *args, account=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["contacts"].choices = [
            (str(c.pk), f"{c.name} · {c.get_role_display()}" if c.role else c.name)
            for c in Contact.objects.filter(account=account, status=Contact.Status.ACTIVE).order_by("name")]
        self.fields["users"].choices = [(str(pk), name) for pk, name in staff_choices(Role.CSM, Role.SALES)[1:]]

    def clean_contacts(self):
        ids = [int(v) for v in self.cleaned_data.get("contacts") or []]
        return list(restrict(Contact.objects.all(), self.user).filter(pk__in=ids))

    def clean_users(self):
        ids = [int(v) for v in self.cleaned_data.get("users") or []]
        return list(User.objects.filter(pk__in=ids, is_active=True))

    def clean_next_steps(self):
        steps = []
        for n, line in enumerate((self.cleaned_data.get("next_steps") or "").splitlines(), start=1):
            title, _bar, due = (part.strip() for part in line.partition("|"))
            if not title and not due:
                continue
            if not title:
                raise forms.ValidationError(_("Line %(n)s has a date but no step.") % {"n": n})
            try:
                due_on = dt.date.fromisoformat(due) if due else None
            except ValueError:
                raise forms.ValidationError(
                    _("Line %(n)s: “%(due)s” is not a date (write 2026-12-20).") % {"n": n, "due": due}) from None
            steps.append({"title": title[:200], "due_on": due_on})
        return steps


class LinkForm(forms.Form):
    language = forms.ChoiceField(label=_("The customer's language"), choices=ValueBoardLink.Language.choices)
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=board.MAX_DAYS,
                              initial=board.DEFAULT_DAYS)


class EmailLinkForm(forms.Form):
    contact = forms.ChoiceField(label=_("Email a new link to"))
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=board.MAX_DAYS,
                              initial=board.DEFAULT_DAYS)

    def __init__(self, *args, account=None, **kwargs):
        kwargs.setdefault("auto_id", "email-link-%s")  # beside the link form's fields on one page
        super().__init__(*args, **kwargs)
        self.fields["contact"].choices = [
            (c.pk, f"{c.name} <{c.email}>") for c in account.contacts.exclude(email="").order_by("name")]


class StepForm(forms.Form):
    on = forms.DateField(label=_("Reached on"), required=False, widget=DATE)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class DefinitionForm(forms.ModelForm):
    class Meta:
        from clm.success.models import ActivationDefinition

        model = ActivationDefinition
        fields = ["name", "name_zh", "product", "industry", "tier", "position", "active"]


def milestone_formset():
    from clm.success.models import ActivationDefinition, ActivationMilestone

    return forms.inlineformset_factory(
        ActivationDefinition, ActivationMilestone, extra=2, can_delete=True,
        fields=["position", "name", "name_zh", "kind", "target", "count", "days_allowed", "first_value"],
    )
