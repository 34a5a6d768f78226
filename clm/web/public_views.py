"""The public pages customers reach by a link, without signing in: a survey answered through its
one-time token (in the contact's language), and a feedback form (in the visitor's language, or
only for signed-in users when the form says so). They show the company's name, not ours, and a
link that cannot be used gets a page saying why, never an error."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_protect

from clm.core.models import Workspace
from clm.sales import quote_links
from clm.service import feedback, surveys
from clm.service.feedback_models import FeedbackForm, FieldType


def _language_of(contact) -> str:
    wanted = contact.custom.get("language") if isinstance(contact.custom, dict) else ""
    return "en" if isinstance(wanted, str) and wanted.lower().startswith("en") else "zh-hans"


def _company() -> str:
    return Workspace.current().name


@never_cache
@csrf_protect
def survey_answer(request, token: str):
    try:
        invitation = surveys.open_invitation(token)
    except surveys.LinkProblem as problem:
        language = _language_of(problem.invitation.contact) if problem.invitation else get_language()
        with translation.override(language):
            response = render(request, "web/public/survey_closed.html", {
                "reason": problem.reason, "company": _company(), "LANG": language})
        response.status_code = 404 if problem.reason == "unknown" else 410
        return response
    language = _language_of(invitation.contact)
    survey = invitation.survey
    errors, given = {}, {"score": "", "comment": ""}
    if request.method == "POST":
        given = {"score": request.POST.get("score", ""), "comment": request.POST.get("comment", "")}
        with translation.override(language):
            try:
                surveys.answer(token, given["score"], given["comment"])
            except surveys.LinkProblem as problem:
                response = render(request, "web/public/survey_closed.html", {
                    "reason": problem.reason, "company": _company(), "LANG": language})
                response.status_code = 410
                return response
            except ValidationError as exc:
                errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
            else:
                return render(request, "web/public/survey_thanks.html", {"company": _company(), "LANG": language})
    low, high = survey.scale
    with translation.override(language):
        response = render(request, "web/public/survey.html", {
            "survey": survey, "question": survey.question(language), "scores": range(low, high + 1),
            "low": low, "high": high, "contact": invitation.contact, "company": _company(), "errors": errors,
            "given": given, "LANG": language,
        }, status=422 if errors else 200)
    return response


def _form_values(form: FeedbackForm, post) -> dict:
    return {
        f["name"]: post.getlist(f["name"]) if f["type"] == FieldType.MULTI_CHOICE else post.get(f["name"], "")
        for f in form.fields
    }


@never_cache
@xframe_options_exempt  # embeddable in the company's own site
@csrf_protect
def feedback_form(request, key: str):
    form = get_object_or_404(FeedbackForm, key=key)
    company = _company()
    if not form.active:
        return render(request, "web/public/form_closed.html", {"form": form, "company": company}, status=410)
    if form.audience == FeedbackForm.Audience.SIGNED_IN and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    errors, given = {}, {}
    if request.method == "POST":
        given = _form_values(form, request.POST)
        try:
            feedback.submit(form, given, user=request.user, language=get_language() or "", via="form")
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
        except PermissionDenied:
            return redirect_to_login(request.get_full_path())
        else:
            return render(request, "web/public/form_thanks.html", {"form": form, "company": company})
    fields = [{**f, "value": given.get(f["name"], [] if f["type"] == FieldType.MULTI_CHOICE else ""),
               "error": errors.get(f["name"], "")} for f in form.fields]
    return render(request, "web/public/form.html", {
        "form": form, "fields": fields, "company": company, "errors": errors,
        "embedded": request.GET.get("embed") == "1",
    }, status=422 if errors else 200)


@never_cache
def quote_link(request, token: str):
    """The printable quote a customer's emailed link opens, in the quote's language."""
    try:
        quote = quote_links.open_link(token)
    except quote_links.LinkProblem as problem:
        language = problem.quote.language if problem.quote else get_language()
        with translation.override(language):
            response = render(request, "web/public/quote_closed.html", {
                "reason": problem.reason, "company": _company(), "LANG": language})  # fmt: skip
        response.status_code = 404 if problem.reason == "unknown" else 410
        return response
    with translation.override(quote.language):
        return render(request, "web/quotes/print.html", {
            "quote": quote, "deal": quote.opportunity, "lines": quote.lines.select_related("product"),
            "public": True, "company": _company(),
        })  # fmt: skip
