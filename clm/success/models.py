"""Customer-success programmes as records: activation definitions and the onboarding checklists
made from them, success plans with their objectives, milestones and QBRs, and the signed links of
the customer-facing value board."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from clm.automation.models import Case, Task
from clm.commerce.models import Product
from clm.customers.models import Account, Contact


def _bilingual(en: str, zh: str, language: str | None = None) -> str:
    language = (language or get_language() or "").lower()
    return zh if language.startswith("zh") and zh else en


class ActivationDefinition(models.Model):
    """What activation means for a product or a segment: the milestones of first value. The
    definition that fits an account best (most criteria met; then the lowest position) is used;
    a definition with no criteria fits everyone."""

    name = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100, blank=True)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    tier = models.CharField(_("value tier"), max_length=30, blank=True, help_text=_("a value tier's key"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["position", "id"]
        verbose_name, verbose_name_plural = _("Activation definition"), _("Activation definitions")

    def __str__(self):
        return self.name

    def label(self, language=None) -> str:
        return _bilingual(self.name, self.name_zh, language)


class ActivationMilestone(models.Model):
    class Kind(models.TextChoices):
        CORE_FEATURE = "core_feature", _("First use of a core feature")
        ACTIVE_USERS = "active_users", _("Active users on one day")
        INTEGRATION = "integration", _("First integration event")
        EVENT = "event", _("Usage event count")
        MANUAL = "manual", _("Confirmed by hand")

    definition = models.ForeignKey(ActivationDefinition, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    target = models.CharField(
        _("feature or event"), max_length=100, blank=True,
        help_text=_("the feature key (empty: any core feature) or the event name the milestone counts"),
    )
    count = models.PositiveIntegerField(_("count"), default=1, help_text=_("users on one day, or events in all"))
    days_allowed = models.PositiveSmallIntegerField(_("days allowed"), help_text=_("days from the contract start"))
    first_value = models.BooleanField(_("first value"), default=False, help_text=_("reaching it is first value"))

    class Meta:
        ordering = ["position", "id"]
        verbose_name, verbose_name_plural = _("Activation milestone"), _("Activation milestones")

    def __str__(self):
        return self.name

    def label(self, language=None) -> str:
        return _bilingual(self.name, self.name_zh, language)

    def clean(self):
        errors = {}
        if self.kind in (self.Kind.INTEGRATION, self.Kind.EVENT) and not self.target.strip():
            errors["target"] = _("Name the event this milestone counts.")
        if self.kind == self.Kind.ACTIVE_USERS and self.target:
            errors["target"] = _("Active users are counted over every feature: leave this empty.")
        if self.count < 1:
            errors["count"] = _("The count is at least 1.")
        if not self.days_allowed:
            errors["days_allowed"] = _("Allow at least one day.")
        if errors:
            raise ValidationError(errors)


class Onboarding(models.Model):
    """An account's onboarding from its contract start: a checklist of the definition's milestones."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", pgettext_lazy("onboarding status", "In progress")
        ACTIVATED = "activated", pgettext_lazy("onboarding status", "Activated")
        LAPSED = "lapsed", pgettext_lazy("onboarding status", "Not activated in time")
        CANCELLED = "cancelled", pgettext_lazy("onboarding status", "Cancelled")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="onboardings")
    definition = models.ForeignKey(ActivationDefinition, on_delete=models.PROTECT, related_name="onboardings")
    started_on = models.DateField(_("contract start"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    activated_on = models.DateField(_("activated on"), null=True, blank=True)
    first_value_on = models.DateField(_("first value on"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-started_on", "-id"]
        verbose_name, verbose_name_plural = _("Onboarding"), _("Onboardings")
        constraints = [
            models.UniqueConstraint(fields=["account", "started_on"], name="onboarding_one_per_start"),
            models.UniqueConstraint(fields=["account"], condition=Q(status="in_progress"), name="onboarding_one_open"),
        ]

    def __str__(self):
        return f"{self.account} {self.started_on}"

    @property
    def days_to_first_value(self) -> int | None:
        return (self.first_value_on - self.started_on).days if self.first_value_on else None


class OnboardingStep(models.Model):
    class Via(models.TextChoices):
        USAGE = "usage", _("From product usage")
        HAND = "hand", _("By hand")

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="steps")
    milestone = models.ForeignKey(ActivationMilestone, on_delete=models.PROTECT, related_name="steps")
    due_on = models.DateField(_("due on"))
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_via = models.CharField(max_length=10, choices=Via.choices, blank=True)
    evidence = models.CharField(_("evidence"), max_length=200, blank=True)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["due_on", "milestone__position", "id"]
        constraints = [models.UniqueConstraint(fields=["onboarding", "milestone"], name="onboarding_step_unique")]

    def __str__(self):
        return str(self.milestone)

    @property
    def account_id(self):  # for the audit and the events
        return self.onboarding.account_id


class SuccessPlan(models.Model):
    """客户成长计划: an account's business objectives, the milestones towards them, and its QBRs."""

    class Status(models.TextChoices):
        ON_TRACK = "on_track", _("On track")
        BEHIND = "behind", _("Behind")
        STUCK = "stuck", _("Stuck")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="success_plans")
    title = models.CharField(_("title"), max_length=200)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("owner"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ON_TRACK)
    status_since = models.DateField(null=True, blank=True)
    status_facts = models.JSONField(default=dict, blank=True, help_text="what the status rule saw")
    closed_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name, verbose_name_plural = _("Success plan"), _("Success plans")
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(closed_on__isnull=True), name="success_plan_one_open")
        ]

    def __str__(self):
        return self.title


class Objective(models.Model):
    class Metric(models.TextChoices):
        NONE = "", _("No usage metric")
        ACTIVE_USERS = "active_users", _("Active users per day (30-day mean)")
        EVENTS = "events", _("Product events in 30 days")
        MINUTES = "minutes", _("Minutes of use in 30 days")
        FEATURE = "feature", _("Uses of a feature in 30 days")

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="objectives")
    position = models.PositiveSmallIntegerField(default=0)
    goal = models.CharField(_("business goal"), max_length=200)
    target = models.FloatField(_("target value"))
    unit = models.CharField(_("unit"), max_length=30, blank=True)
    metric = models.CharField(_("metric"), max_length=20, choices=Metric.choices, blank=True)
    feature = models.CharField(_("feature"), max_length=100, blank=True)
    baseline = models.FloatField(_("baseline"))
    current = models.FloatField(_("current value"), null=True, blank=True)
    current_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name, verbose_name_plural = _("Objective"), _("Objectives")

    def __str__(self):
        return self.goal

    @property
    def account_id(self):
        return self.plan.account_id


class PlanMilestone(models.Model):
    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(_("title"), max_length=200)
    due_on = models.DateField(_("due on"))
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("our owner"),
    )
    owner_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("customer owner")
    )
    done_on = models.DateField(_("done on"), null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name, verbose_name_plural = _("Plan milestone"), _("Plan milestones")

    def __str__(self):
        return self.title


class QBR(models.Model):
    """季度业务复盘会: a business review held with the customer, under a plan."""

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="qbrs")
    held_on = models.DateField(_("date"))
    agenda = models.TextField(_("agenda"))
    outcomes = models.TextField(_("outcomes"), blank=True)
    contacts = models.ManyToManyField(Contact, blank=True, related_name="+", verbose_name=_("customer attendees"))
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("our attendees"))
    next_steps = models.ManyToManyField(Task, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name, verbose_name_plural = _("QBR"), _("QBRs")

    def __str__(self):
        return f"QBR {self.held_on}"


class ValueBoardLink(models.Model):
    """A signed link to a plan's value board: only the SHA-256 of its token is kept."""

    class Language(models.TextChoices):
        ZH = "zh-hans", "简体中文"
        EN = "en", "English"

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.ZH)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name, verbose_name_plural = _("Value board link"), _("Value board links")

    def __str__(self):
        return f"{self.plan} ({self.language})"

    def is_live(self, now=None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())
