"""The lead funnel's settings and scores: ideal customer profiles, scoring, assignment rules, each
lead's activities and stage moves, and the fit model with each account's fit."""


from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.core.models import Timestamped
from clm.customers.models import Account

from .records import Lead

# -- ICP, fit and the funnel's settings ------------------------------------------------------------


class ICP(Timestamped):
    """An ideal customer profile (理想客户画像): weighted rules over firmographics, as data
    (clm.analytics.fit.check_rules says what a rule may be); several, e.g. one per product line."""

    key = models.SlugField(max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    product_line = models.CharField(_("product line"), max_length=100, blank=True)
    rules = models.JSONField(_("rules"), default=list, help_text='[{"field", "op", "value", "weight"}]')
    match_at = models.PositiveSmallIntegerField(_("match at score"), default=70)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ideal customer profile")
        verbose_name_plural = _("ideal customer profiles")
        ordering = ["key"]

    def __str__(self):
        return self.name


class LeadScoring(models.Model):
    """The funnel's settings, one row: engagement points and their half-life, each stage's entry
    criteria, and when an untouched lead goes back to assignment."""

    half_life_days = models.PositiveSmallIntegerField(_("engagement half-life (days)"), default=30)
    points = models.JSONField(
        _("points per activity"),
        default=dict,
        help_text='{"email_open": 2, "email_click": 5, "form": 15, "web": 3, "product": 8, "meeting": 20}',
    )
    criteria = models.JSONField(
        _("stage entry criteria"),
        default=dict,
        help_text='{"mql": {"min_fit": 40, "min_engagement": 20}, "sql": {..., "actions": ["demo_requested"]}}',
    )
    stale_days = models.PositiveSmallIntegerField(_("reassign when untouched for (days)"), default=7)

    class Meta:
        verbose_name = _("lead scoring")
        verbose_name_plural = _("lead scoring")

    def __str__(self):
        return str(_("Lead scoring"))


class AssignmentRule(models.Model):
    """Who gets new leads: rules in order, the first that matches and has a rep with room wins."""

    class Kind(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        TERRITORY = "territory", _("By territory (region)")
        INDUSTRY = "industry", _("By industry")
        ICP = "icp", _("By ICP")

    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    values = models.JSONField(_("matching values"), default=list, blank=True, help_text="regions, industries or ICP keys")
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="lead_rules", verbose_name=_("reps"))
    capacity = models.PositiveIntegerField(_("open leads per rep at most"), default=50)
    last_rep = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class LeadActivity(models.Model):
    """Engagement: an email opened or clicked, a form filled, a web or product event, a meeting."""

    class Kind(models.TextChoices):
        EMAIL_OPEN = "email_open", _("Email opened")
        EMAIL_CLICK = "email_click", _("Email link clicked")
        FORM = "form", _("Form submitted")
        WEB = "web", _("Web visit")
        PRODUCT = "product", _("Product event")
        MEETING = "meeting", _("Meeting")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True, help_text="the form, page, event or email")
    at = models.DateTimeField(default=timezone.now)
    key = models.CharField(max_length=200, blank=True, help_text="the sender's idempotency key")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "at"], name="lead_activity_at")]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=~models.Q(key=""), name="lead_activity_key")
        ]


class LeadStageChange(models.Model):
    """Every move of a lead through the funnel: who, when, from, to, and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_history")
    from_status = models.CharField(max_length=15, choices=Lead.Status.choices, blank=True)
    to_status = models.CharField(max_length=15, choices=Lead.Status.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=300, blank=True)
    criteria = models.JSONField(default=dict, blank=True, help_text="the scores seen, for automatic moves")

    class Meta:
        ordering = ["changed_at", "id"]


class FitModel(models.Model):
    """A trained lookalike model with its held-out report (the model's and the rules' AUC, lift)."""

    trained_at = models.DateTimeField(default=timezone.now)
    as_of = models.DateField()
    report = models.JSONField(default=dict)
    blob = models.BinaryField()

    class Meta:
        ordering = ["-trained_at", "-id"]


class AccountFit(models.Model):
    """An account's fit: the rules' best ICP and score and the lookalike's score with reasons."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="fit")
    icp = models.ForeignKey(ICP, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    icp_score = models.FloatField(null=True, blank=True)
    icp_rules = models.JSONField(default=list, blank=True)
    fit_score = models.FloatField(null=True, blank=True)
    fit_reasons = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField(default=timezone.now)
