"""Preferences → API tokens: a signed-in person lists, issues and revokes their own tokens (the
only place besides `clm issue_token` where tokens are made; the token is shown once)."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clm.core import tokens
from clm.core.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100,
                           help_text=gettext_lazy("What uses it, e.g. “BI export” or “app events”."))
    scope = forms.ChoiceField(label=gettext_lazy("Access"), choices=ApiToken.Scope.choices,
                              initial=ApiToken.Scope.READ)
    expires_on = forms.DateField(label=gettext_lazy("Works until (blank: no end)"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    survives_password_change = forms.BooleanField(
        label=gettext_lazy("Keep it working when my password changes"), required=False)

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not name.strip():
            raise ValidationError(_("Give the token a name."))
        return name.strip()

    def expires_at(self) -> dt.datetime | None:
        """The end of the chosen day, in the user's time zone."""
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(dt.datetime.combine(day, dt.time.max))


@login_required
def token_list(request):
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = tokens.issue_token(
                request.user,
                form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=form.expires_at(),
                survives_password_change=form.cleaned_data["survives_password_change"],
                via="ui",
            )
        except ValidationError as exc:
            for message in exc.message_dict.get("expires_at", exc.messages):
                form.add_error("expires_on", message)
        else:
            issued = {"token": token, "raw": raw}
            form = TokenForm()
    context = {
        "form": form,
        "issued": issued,
        "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id"),
        "now": timezone.now(),
        "nav": "preferences",
    }
    return render(request, "web/tokens.html", context)


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, user=request.user, pk=pk)
    tokens.revoke_token(token, actor=request.user, via="ui")
    messages.success(request, _("The token “%(name)s” no longer works.") % {"name": token.name})
    return redirect("web:tokens")
