"""Channels: email templates, webhook endpoints and IM robots, every delivery made through them,
email engagement (opens, clicks) and the suppression list (unsubscribed, bounced, complained)."""

import os
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.core.models import Timestamped

EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
SECRET_ENV_PREFIX = "CLM_WEBHOOK_SECRET_"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class EmailTemplate(Timestamped):
    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing (frequency-capped)")
        TRANSACTIONAL = "transactional", _("Service message")

    key = models.SlugField(_("key"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MARKETING)
    variables = models.JSONField(
        default=list, blank=True, help_text="names of the extra variables a sender passes in its context"
    )

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return self.key

    def clean(self):
        from clm.automation.channels import templates

        if not isinstance(self.variables, list) or not all(
            isinstance(v, str) and re.fullmatch(r"[a-z_][a-z0-9_]{0,49}", v) for v in self.variables
        ):
            raise ValidationError(
                {"variables": _("must be a list of names in lowercase letters, digits and underscores")}
            )
        taken = sorted(set(self.variables) & (set(templates.OBJECTS) | set(templates.SCALARS)))
        if taken:
            reason = _("%(names)s is given by CLM; choose another name") % {"names": ", ".join(taken)}
            raise ValidationError({"variables": reason})


class EmailTemplateVariant(models.Model):
    """One language of a template. The text body, when left empty, is made from the HTML."""

    template = models.ForeignKey(EmailTemplate, on_delete=models.CASCADE, related_name="variants")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=300)
    html = models.TextField(_("HTML body"))
    text = models.TextField(_("text body"), blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "language"], name="email_variant_unique_language")
        ]
        ordering = ["template", "language"]

    def __str__(self):
        return f"{self.template_id}/{self.language}"

    def clean(self):
        from clm.automation.channels import templates

        extra = tuple(self.template.variables) if self.template_id else ()
        errors = {}
        for name, is_html in (("subject", False), ("html", True), ("text", False)):
            try:
                templates.check(getattr(self, name), extra, html=is_html)
            except templates.TemplateProblem as exc:
                errors[name] = str(exc)
        if errors:
            raise ValidationError(errors)


class WebhookEndpoint(Timestamped):
    """A receiver of signed JSON. The secret is generated when the endpoint is made (and shown
    once), or read from the environment variable named in secret_env."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(max_length=100, blank=True, editable=False)
    secret_env = models.CharField(
        max_length=100,
        blank=True,
        help_text=f"take the secret from this environment variable ({SECRET_ENV_PREFIX}…)",
    )
    events = models.JSONField(default=list, blank=True, help_text="event names it receives; empty for all")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.secret_env and not re.fullmatch(rf"{SECRET_ENV_PREFIX}[A-Z0-9_]+", self.secret_env):
            raise ValidationError(
                {
                    "secret_env": _("must be an environment variable named %(prefix)s<NAME> (A-Z, 0-9, _)")
                    % {"prefix": SECRET_ENV_PREFIX}
                }
            )
        if not isinstance(self.events, list) or not all(
            isinstance(e, str) and len(e) <= 60 and EVENT_NAME.fullmatch(e) for e in self.events
        ):
            raise ValidationError({"events": _("must be a list of event names such as case.opened")})

    def signing_secret(self) -> str:
        if self.secret_env:
            return os.environ.get(self.secret_env, "")
        return self.secret

    def receives(self, event: str) -> bool:
        return not self.events or event in self.events


class Robot(Timestamped):
    """A group robot in DingTalk, WeCom, Feishu or Slack: its webhook URL carries the robot's
    token; DingTalk and Feishu robots may also sign with a secret."""

    class Kind(models.TextChoices):
        DINGTALK = "dingtalk", _("DingTalk")
        WECOM = "wecom", _("WeCom")
        FEISHU = "feishu", _("Feishu")
        SLACK = "slack", _("Slack")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.URLField(_("webhook URL"), max_length=500)
    secret = models.CharField(
        max_length=200, blank=True, editable=False, help_text="signing secret (DingTalk SEC…, Feishu)"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.secret and self.kind in (self.Kind.WECOM, self.Kind.SLACK):
            reason = _("%(kind)s robots do not sign; leave it empty") % {"kind": self.get_kind_display()}
            raise ValidationError({"secret": reason})


class Delivery(models.Model):
    """One message through one channel, unique on its idempotency key: a second send with the same
    key finds this row and sends nothing."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        WEBHOOK = "webhook", _("Webhook")
        ROBOT = "robot", _("IM robot")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        REFUSED = "refused", _("refused")

    class Reason(models.TextChoices):
        NO_ADDRESS = "no_address", _("no email address")
        NO_CONSENT = "no_consent", _("no consent to email")
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
        BOUNCED = "bounced", _("address bounced")
        COMPLAINED = "complained", _("marked as spam")
        FREQUENCY_CAP = "frequency_cap", _("frequency cap reached")
        INACTIVE = "inactive", _("channel switched off")
        NOT_SUBSCRIBED = "not_subscribed", _("endpoint does not take this event")
        ADDRESS_REFUSED = "address_refused", _("address refused")

    channel = models.CharField(max_length=10, choices=Channel.choices)
    key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    response_code = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the last sender claimed it: a row still 'sending' long after was left by a dead worker.
    claimed_at = models.DateTimeField(null=True, blank=True)
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    template = models.ForeignKey(EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL)
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL)
    robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.SET_NULL)
    marketing = models.BooleanField(default=False)
    to = models.CharField(max_length=254, blank=True, help_text="email address, or the host called")
    language = models.CharField(max_length=10, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    event = models.CharField(max_length=60, blank=True)
    links = models.JSONField(
        default=list, blank=True, help_text="the URLs in the message, for click tracking"
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "channel", "created_at"], name="delivery_contact"),
            models.Index(fields=["account", "created_at"], name="delivery_account"),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"{self.channel} {self.key} ({self.status})"


class Engagement(models.Model):
    """An open or a click of an email: what the branches on engagement and the email KPIs read."""

    class Kind(models.TextChoices):
        OPEN = "open", _("opened")
        CLICK = "click", _("clicked")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="engagements")
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.SET_NULL)
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    url = models.URLField(max_length=2000, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "kind", "at"], name="engagement_account")]
        ordering = ["-at", "-id"]


class Suppression(models.Model):
    """An address CLM never emails: the person unsubscribed, the address bounced, or the
    recipient marked a message as spam."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
        BOUNCED = "bounced", _("bounced")
        COMPLAINED = "complained", _("marked as spam")

    address = models.EmailField(max_length=254)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(
        max_length=100, blank=True, help_text="what recorded it: a link, an SMTP reply…"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["address", "reason"], name="suppression_unique")]
        ordering = ["-at"]

    def __str__(self):
        return f"{self.address} ({self.reason})"
