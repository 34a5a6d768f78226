"""Playbooks as versioned data, the accounts enrolled in them, and one row per step execution.

A playbook's behaviour lives in an immutable PlaybookVersion (its JSON definition); editing a
playbook adds a version, and a running enrollment keeps the version it started with. Each step
execution is a StepRun whose idempotency key (enrollment, step, iteration) is unique, so a retried
or duplicated job finds the row and never runs the step twice."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.customers.models import Account, Contact
from clm.sales.models import Lead

__all__ = ["Playbook", "PlaybookVersion", "Enrollment", "StepRun"]


class Playbook(models.Model):
    class Reentry(models.TextChoices):
        ONCE = "once", _("once")
        PERIODIC = "once_per_days", _("once per N days")
        ALWAYS = "always", _("always")

    class Outcome(models.TextChoices):
        RETAINED = "retained", _("retained")
        RENEWED = "renewed", _("renewed")
        EXPANDED = "expanded", _("expanded")
        REACTIVATED = "reactivated", _("reactivated")
        CONVERTED = "converted", _("converted")

    key = models.SlugField(_("key"), max_length=80, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    template = models.CharField(max_length=80, blank=True, help_text="the template it was made from")
    active = models.BooleanField(_("active"), default=False)
    holdout = models.FloatField(_("holdout share"), default=0.0, help_text="0 ≤ share < 1 held out at random")
    reentry = models.CharField(max_length=15, choices=Reentry.choices, default=Reentry.ONCE)
    reentry_days = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=15, choices=Outcome.choices, default=Outcome.RETAINED)
    outcome_days = models.PositiveIntegerField(default=90)
    # Denormalised from the current version so the dispatcher finds the playbooks an event concerns
    # with one indexed query.
    trigger_type = models.CharField(max_length=40, blank=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    enabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(holdout__gte=0) & models.Q(holdout__lt=1), name="playbook_holdout_share"
            )
        ]

    def __str__(self):
        return self.key

    @property
    def current(self) -> "PlaybookVersion | None":
        return self.versions.order_by("-number").first()


class PlaybookVersion(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField(help_text="trigger, conditions, steps, exit (never changed once saved)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["playbook", "number"]
        constraints = [models.UniqueConstraint(fields=["playbook", "number"], name="playbook_version_number")]

    def __str__(self):
        return f"{self.playbook.key} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("a playbook version is immutable: save a new version instead")
        super().save(*args, **kwargs)

    def step(self, step_id: str) -> dict:
        return next(s for s in self.definition["steps"] if s["id"] == step_id)


class Enrollment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        COMPLETED = "completed", _("completed")
        EXITED = "exited", _("exited")
        FAILED = "failed", _("failed")

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="enrollments")
    version = models.ForeignKey(PlaybookVersion, on_delete=models.PROTECT, related_name="enrollments")
    # The subject: an account, or a lead that has none yet (a welcome play for a new lead).
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="enrollments"
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="enrollments"
    )
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    held_out = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    current_step = models.CharField(max_length=60, blank=True)
    # What enrolled it, once: a duplicated event or a rerun of the daily run finds this key taken.
    dedupe_key = models.CharField(max_length=200)
    trigger = models.JSONField(
        default=dict, help_text="the event or daily rule that enrolled it, with what it saw"
    )
    reason = models.CharField(max_length=300, blank=True, help_text="why it ended (exit condition, failure)")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "dedupe_key"], name="enrollment_once_per_trigger"),
            models.CheckConstraint(
                condition=models.Q(account__isnull=False) | models.Q(lead__isnull=False),
                name="enrollment_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["playbook", "account", "started_at"]),
            models.Index(fields=["account", "status"]),
        ]

    def __str__(self):
        return f"{self.playbook.key} → {self.account_id or f'lead {self.lead_id}'}"


class StepRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=60)
    step_type = models.CharField(max_length=30)
    iteration = models.PositiveIntegerField(default=0)
    key = models.CharField(
        max_length=120, unique=True, help_text="idempotency key: enrollment:step:iteration"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    # A wait for a domain event: {"event": name, ...filters}; resolved by the dispatcher.
    waiting_for = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    why = models.CharField(max_length=300, blank=True, help_text="why this step runs (trigger, branch taken)")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["enrollment", "id"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="steprun_due"),
            models.Index(
                fields=["step_type"],
                condition=models.Q(status="pending", waiting_for__isnull=False),
                name="steprun_waiting",
            ),
        ]

    def __str__(self):
        return self.key
