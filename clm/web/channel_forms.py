"""Forms of the channel pages: an email template with its two language variants, a webhook, a
robot. They only read the submitted fields into the data the channel services take; every rule
about what may be saved is the service's (clm.automation.channels), whose refusals come back
beside the field they name."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from clm.automation.models import EmailTemplate, Robot

LANGUAGES = (("zh-hans", "zh"), ("en", "en"))  # (variant language, form prefix)


def names(text: str) -> list[str]:
    """Names separated by commas (ASCII or Chinese) or spaces."""
    for separator in ("，", "、", ","):
        text = text.replace(separator, " ")
    return text.split()


class NoNul(forms.Form):
    def clean(self):
        data = super().clean()
        for name, value in data.items():
            if isinstance(value, str) and "\x00" in value:
                self.add_error(name, _("This field holds a character that cannot be stored (NUL); remove it."))
        return data


class TemplateForm(NoNul):
    key = forms.CharField(label=_("Key"), max_length=80, help_text=_("used by playbooks; letters, digits, - and _"))
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=EmailTemplate.Kind.choices)
    variables = forms.CharField(
        label=_("Extra variables"), required=False, help_text=_("names a playbook fills in, separated by commas")
    )
    zh_subject = forms.CharField(label=_("Subject (Chinese)"), max_length=300, required=False)
    zh_html = forms.CharField(label=_("Body (Chinese, HTML)"), required=False, widget=forms.Textarea(attrs={"rows": 6}))
    zh_text = forms.CharField(label=_("Plain-text body (Chinese, optional)"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    en_subject = forms.CharField(label=_("Subject (English)"), max_length=300, required=False)
    en_html = forms.CharField(label=_("Body (English, HTML)"), required=False, widget=forms.Textarea(attrs={"rows": 6}))
    en_text = forms.CharField(label=_("Plain-text body (English, optional)"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    @classmethod
    def initial_of(cls, template: EmailTemplate) -> dict:
        initial = {"key": template.key, "name": template.name, "kind": template.kind,
                   "variables": ", ".join(template.variables)}
        variants = {v.language: v for v in template.variants.all()}
        for language, prefix in LANGUAGES:
            variant = variants.get(language)
            if variant:
                initial.update({f"{prefix}_subject": variant.subject, f"{prefix}_html": variant.html,
                                f"{prefix}_text": variant.text})
        return initial

    def clean(self):
        data = super().clean()
        for _language, prefix in LANGUAGES:
            subject, html = data.get(f"{prefix}_subject"), data.get(f"{prefix}_html")
            if bool(subject) != bool(html):
                missing = f"{prefix}_html" if subject else f"{prefix}_subject"
                self.add_error(missing, _("A language version needs both a subject and a body."))
        return data

    def data_for_service(self) -> dict:
        data = self.cleaned_data
        variants = [
            {"language": language, "subject": data[f"{prefix}_subject"], "html": data[f"{prefix}_html"],
             "text": data[f"{prefix}_text"]}
            for language, prefix in LANGUAGES
            if data.get(f"{prefix}_subject")
        ]
        return {"key": data["key"], "name": data["name"], "kind": data["kind"],
                "variables": names(data["variables"]), "variants": variants}

    def field_of(self, path: str) -> str | None:
        """The form field a service error names (variants.1.html -> en_html), or None."""
        parts = path.split(".")
        if parts[0] == "variants" and len(parts) == 3 and parts[1].isdigit():
            given = [p for language, p in LANGUAGES if self.cleaned_data.get(f"{p}_subject")]
            index = int(parts[1])
            name = f"{given[index]}_{parts[2]}" if index < len(given) else None
            return name if name in self.fields else None
        if parts[0] == "variants":
            return "zh_subject"
        return parts[0] if parts[0] in self.fields else None


class Addressed(NoNul):
    """A channel with an address that carries its token: required when new, and when editing,
    left empty to keep the one saved (which the page never shows)."""

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            self.fields["url"].help_text = _("leave empty to keep the address saved")

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if not url and not self.editing:
            raise ValidationError(_("This field is required."))
        return url


class WebhookForm(Addressed):
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.CharField(label=_("URL"), max_length=500, required=False)
    events = forms.CharField(
        label=_("Events"), required=False, help_text=_("event names such as case.opened; empty for all")
    )
    secret_env = forms.CharField(
        label=_("Secret from the environment variable"), max_length=100, required=False,
        help_text=_("CLM_WEBHOOK_SECRET_<NAME>; empty: CLM generates a secret and shows it once"),
    )
    active = forms.BooleanField(label=_("On"), required=False)

    def data_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        data["events"] = names(data["events"])
        if not data["url"]:
            data.pop("url")
        return data


class RobotForm(Addressed):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("App"), choices=Robot.Kind.choices)
    url = forms.CharField(label=_("Webhook URL"), max_length=500, required=False)
    secret = forms.CharField(
        label=_("Signing secret"), max_length=200, required=False,
        help_text=_("DingTalk (SEC…) and Feishu robots may sign; WeCom and Slack do not"),
        widget=forms.PasswordInput(render_value=False),
    )
    clear_secret = forms.BooleanField(label=_("Remove the saved secret"), required=False)
    active = forms.BooleanField(label=_("On"), required=False)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, editing=editing, **kwargs)
        if editing:
            self.fields["secret"].help_text = _("leave empty to keep the secret saved")
        else:
            del self.fields["clear_secret"]

    def data_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        if data.pop("clear_secret", False):
            data["secret"] = ""
        elif self.editing and not data["secret"]:
            data.pop("secret")
        if self.editing and not data["url"]:
            data.pop("url")
        return data
