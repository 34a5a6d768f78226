"""Surveys in the workspace: the list with each survey's response rate, a survey's results (score,
distribution with a table view, comments, invitations) with the sending form, and the survey form.
Every change goes through clm.service.surveys and clm.automation.surveys."""

from collections import Counter

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clm.analytics.nps import net_promoter_score
from clm.automation import surveys as mail
from clm.core.access import restrict, visible_accounts
from clm.core.records import may
from clm.customers.models import Contact, LifecycleStage
from clm.service import surveys
from clm.service.models import Survey, SurveyInvitation, SurveyResponse
from clm.web.labels import ROLE_LABELS, delivery_problem


class SurveyForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        label=gettext_lazy("Send to these roles (none: every contact)"), choices=list(ROLE_LABELS.items()),
        required=False, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Survey
        fields = ["name", "kind", "purpose", "question_zh", "question_en", "roles", "valid_days", "reminder_days",
                  "active"]
        help_texts = {"reminder_days": gettext_lazy("0: no reminder. One reminder at most.")}


class SendForm(forms.Form):
    channel = forms.ChoiceField(label=gettext_lazy("Send"), choices=SurveyInvitation.Channel.choices)
    stage = forms.ChoiceField(label=gettext_lazy("Accounts in the stage"), required=False,
                              choices=[("", gettext_lazy("every stage")), *LifecycleStage.choices])
    account = forms.ModelChoiceField(label=gettext_lazy("Or one account"), required=False, queryset=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = visible_accounts(user).order_by("name")
        self.fields["account"].empty_label = _("(none: the accounts above)")


def _errors_to_form(form, exc: ValidationError) -> None:
    for field, problems in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@login_required
def survey_list(request):
    rows = list(surveys.visible_surveys(request.user))
    rates = surveys.response_rates(request.user, rows)
    for survey in rows:
        survey.rate = rates.get(survey.pk, {"invited": 0, "reached": 0, "answered": 0, "reminded": 0, "rate": None})
    return render(request, "web/surveys/list.html", {
        "surveys": rows, "nav": "voice", "can_edit": may(request.user, "add", Survey)})


@login_required
def survey_edit(request, pk: int | None = None):
    survey = get_object_or_404(Survey, pk=pk) if pk else None
    if not may(request.user, "change" if survey else "add", Survey):
        raise PermissionDenied(_("You may not manage surveys."))
    form = SurveyForm(request.POST or None, instance=survey)
    if request.method == "POST" and form.is_valid():
        try:
            survey = surveys.save_survey(request.user, form.cleaned_data, survey)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("The survey is saved."))
            return redirect("web:survey", survey.pk)
    return render(request, "web/surveys/edit.html", {"form": form, "survey": survey, "nav": "voice"})


def distribution(survey: Survey, scores: list[int]) -> list[dict]:
    low, high = survey.scale
    seen = Counter(scores)
    total = len(scores) or 1
    return [{"score": s, "count": seen.get(s, 0), "share": seen.get(s, 0) / total} for s in range(low, high + 1)]


def summary(survey: Survey, scores: list[int]) -> dict:
    """The headline number: NPS (promoters − detractors, in points) or the mean answer."""
    if not scores:
        return {"value": None}
    if survey.kind == SurveyResponse.Kind.NPS:
        nps = net_promoter_score(scores)
        return {"value": round(nps.score), "promoters": nps.promoters, "passives": nps.passives,
                "detractors": nps.detractors, "kind": "nps"}
    return {"value": round(sum(scores) / len(scores), 2), "kind": survey.kind}


@login_required
def survey_detail(request, pk: int):
    survey = get_object_or_404(surveys.visible_surveys(request.user), pk=pk)
    send = SendForm(request.POST or None, user=request.user)
    links = None
    if request.method == "POST":
        if not may(request.user, "add", SurveyInvitation):
            raise PermissionDenied(_("You may not send surveys."))
        if send.is_valid():
            accounts = visible_accounts(request.user)
            if send.cleaned_data["account"]:
                accounts = accounts.filter(pk=send.cleaned_data["account"].pk)
            elif send.cleaned_data["stage"]:
                accounts = accounts.filter(lifecycle_stage=send.cleaned_data["stage"])
            contacts = surveys.recipients(survey, Contact.objects.filter(account__in=accounts).select_related("account"))
            if not contacts:
                send.add_error(None, _("No contact to ask: none in the chosen roles, or all have an open invitation."))
            else:
                try:
                    sent = mail.send_survey(request.user, survey, contacts, channel=send.cleaned_data["channel"])
                except ValidationError as exc:
                    _errors_to_form(send, exc)
                else:
                    if send.cleaned_data["channel"] == SurveyInvitation.Channel.LINK:
                        links = [{"invitation": i, "url": mail.survey_url(i)} for i, _token in sent]
                    else:
                        failed = sum(1 for i, _token in sent if i.delivery_problem)
                        messages.success(request, _("%(n)s invitations sent, %(failed)s not delivered.") % {
                            "n": len(sent) - failed, "failed": failed})
                        return redirect("web:survey", survey.pk)
    responses = list(restrict(survey.responses.all(), request.user).select_related("account", "contact")
                     .order_by("-responded_at", "-pk"))
    scores = [r.score for r in responses]
    invitations = list(surveys.visible_invitations(request.user).filter(survey=survey).select_related(
        "account", "contact")[:100])
    for invitation in invitations:
        invitation.problem_label = delivery_problem(invitation.delivery_problem)
    return render(request, "web/surveys/detail.html", {
        "survey": survey, "send": send, "links": links, "nav": "voice",
        "rate": surveys.response_rates(request.user, [survey]).get(survey.pk),
        "summary": summary(survey, scores), "distribution": distribution(survey, scores),
        "comments": [r for r in responses if r.comment][:50], "invitations": invitations,
        "can_send": may(request.user, "add", SurveyInvitation), "can_edit": may(request.user, "change", Survey),
        "chart": {"scores": [d["score"] for d in distribution(survey, scores)],
                  "counts": [d["count"] for d in distribution(survey, scores)],
                  "title": _("Answers by score"), "axis": _("Answers")},
    })
