"""Feedback in the workspace: the inbox with each submission's status and due date, one submission
with its routing and the status/reply form, the form builder with its routing rules, and themes
counted by category and month. Every change goes through clm.service.feedback."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clm.core.models import Team
from clm.core.records import may
from clm.service import feedback
from clm.service.feedback_models import FeedbackForm, FeedbackRule, FeedbackSubmission, FieldType
from clm.web.labels import delivery_problem
from clm.web.templatetags.workspace import person

BLANK_FIELD_ROWS = 3


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


@login_required
def inbox(request):
    status = request.GET.get("status", "")
    status = status if status in FeedbackSubmission.Status.values else ""
    mine, overdue = request.GET.get("mine") == "1", request.GET.get("overdue") == "1"
    rows = feedback.inbox(request.user, status=status, mine=mine, overdue=overdue)
    counts = {s: 0 for s in FeedbackSubmission.Status.values}
    for row in feedback.inbox(request.user).values_list("status", flat=True):
        counts[row] += 1
    return render(request, "web/feedback/inbox.html", {
        "rows": rows[:200], "count": rows.count(), "status": status, "mine": mine, "overdue": overdue,
        "statuses": [(code, label, counts[code]) for code, label in FeedbackSubmission.Status.choices],
        "now": timezone.now(), "nav": "voice",
    })


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=FeedbackSubmission.Status.choices)
    owner = forms.ModelChoiceField(label=gettext_lazy("Owner"), required=False, queryset=None)
    reply = forms.CharField(label=gettext_lazy("Reply to the customer (emailed when done or declined)"),
                            required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()
        self.fields["owner"].label_from_instance = person


@login_required
def submission_detail(request, pk: int):
    submission = get_object_or_404(feedback.inbox(request.user), pk=pk)
    form = StatusForm(request.POST or None, initial={
        "status": submission.status, "owner": submission.owner_id, "reply": submission.reply})
    if request.method == "POST" and form.is_valid():
        try:
            feedback.set_status(request.user, submission, form.cleaned_data["status"], reply=form.cleaned_data["reply"],
                                owner=form.cleaned_data["owner"])
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The feedback is updated."))
            return redirect("web:feedback_item", submission.pk)
    labels = {f["name"]: f["label"] for f in submission.form.fields}
    values = [(labels.get(k, k), ", ".join(v) if isinstance(v, list) else v) for k, v in submission.values.items()]
    return render(request, "web/feedback/detail.html", {
        "item": submission, "values": values, "reply_problem": delivery_problem(submission.reply_problem), "form": form, "now": timezone.now(), "nav": "voice",
        "can_edit": may(request.user, "change", FeedbackSubmission),
    })


# -- the builder --------------------------------------------------------------------------------


class FormSettings(forms.ModelForm):
    class Meta:
        model = FeedbackForm
        fields = ["title", "key", "intro", "audience", "sla_days", "owner", "active"]
        widgets = {"intro": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()
        self.fields["owner"].label_from_instance = person


def _posted_fields(post) -> list[dict]:
    """The builder's rows (field-<n>-name, -label, -type, -required, -choices one per line); a row
    with neither name nor label is left out."""
    rows, n = [], 0
    while f"field-{n}-name" in post:
        name, label = post.get(f"field-{n}-name", "").strip(), post.get(f"field-{n}-label", "").strip()
        if name or label:
            rows.append({"name": name, "label": label, "type": post.get(f"field-{n}-type", ""),
                         "required": post.get(f"field-{n}-required") == "on",
                         "choices": [c for c in post.get(f"field-{n}-choices", "").splitlines() if c.strip()]})
        n += 1
    return rows


@login_required
def form_list(request):
    rows = FeedbackForm.objects.all().order_by("title")
    return render(request, "web/feedback/forms.html", {
        "forms": [(f, request.build_absolute_uri(reverse("web:feedback_public", args=[f.key]))) for f in rows],
        "can_edit": may(request.user, "add", FeedbackForm), "nav": "voice"})


@login_required
def form_edit(request, pk: int | None = None):
    instance = get_object_or_404(FeedbackForm, pk=pk) if pk else None
    if not may(request.user, "change" if instance else "add", FeedbackForm):
        raise PermissionDenied(_("You may not manage feedback forms."))
    settings_form = FormSettings(request.POST or None, instance=instance)
    fields = _posted_fields(request.POST) if request.method == "POST" else list(instance.fields if instance else [])
    field_errors = {}
    if request.method == "POST" and settings_form.is_valid():
        data = {**settings_form.cleaned_data, "fields": fields}
        try:
            saved = feedback.save_form(request.user, data, instance)
        except ValidationError as exc:
            for key, problems in exc.message_dict.items():
                if key.startswith("fields"):
                    field_errors[key] = " ".join(problems)
                else:
                    settings_form.add_error(key if key in settings_form.fields else None, problems)
        else:
            messages.success(request, _("The form is saved."))
            return redirect("web:feedback_form", saved.pk)
    rows = [*fields, *({"name": "", "label": "", "type": "text", "required": False, "choices": []}
                       for _ in range(BLANK_FIELD_ROWS))]
    for i, row in enumerate(rows):
        row["errors"] = [v for k, v in field_errors.items() if k.startswith(f"fields.{i}.") or k == f"fields.{i}"]
        row["choices_text"] = "\n".join(row.get("choices") or [])
    return render(request, "web/feedback/form_edit.html", {
        "settings_form": settings_form, "rows": rows, "types": FieldType.choices, "instance": instance,
        "fields_error": field_errors.get("fields", ""), "nav": "voice",
        "rules": instance.rules.select_related("owner", "team") if instance else [],
        "people": _people(), "teams": Team.objects.order_by("name"),
        "public_url": request.build_absolute_uri(reverse("web:feedback_public", args=[instance.key])) if instance else "",
    })


@login_required
@require_POST
def rule_add(request, pk: int):
    form = get_object_or_404(FeedbackForm, pk=pk)
    owner = _people().filter(pk=request.POST.get("owner") or 0).first()
    team = Team.objects.filter(pk=request.POST.get("team") or 0).first()
    sla = request.POST.get("sla_days", "").strip()
    try:
        feedback.save_rule(request.user, {
            "form": form, "position": form.rules.count(), "owner": owner, "team": team,
            "category": request.POST.get("category", "").strip(), "product": request.POST.get("product", "").strip(),
            "keyword": request.POST.get("keyword", "").strip(), "sla_days": int(sla) if sla.isdigit() else None,
        })
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The rule is added."))
    return redirect("web:feedback_form", form.pk)


@login_required
@require_POST
def rule_delete(request, pk: int):
    rule = get_object_or_404(FeedbackRule, pk=pk)
    if not may(request.user, "delete", FeedbackRule):
        raise PermissionDenied(_("You may not manage feedback forms."))
    from clm.core import services

    services.delete(rule, actor=request.user, via="ui")
    return redirect("web:feedback_form", rule.form_id)


@login_required
def themes(request):
    counted = feedback.themes(request.user)
    months = [m.strftime("%Y-%m") for m in counted["months"]]
    categories = counted["categories"]
    shown = categories[:6]
    return render(request, "web/feedback/themes.html", {
        "months": months, "total": counted["total"], "nav": "voice",
        "table": [(c or _("(no category)"), counted["counts"][c], sum(counted["counts"][c])) for c in categories],
        "chart": {"months": months, "series": [{"name": c or _("(no category)"), "data": counted["counts"][c]}
                                               for c in shown],
                  "title": _("Feedback by category and month"), "axis": _("Submissions")},
    })
