"""The work people do: tasks, and cases (Gainsight's CTAs) that group the tasks carrying them out."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clm.core import access
from clm.core.models import Role
from clm.customers.models import Account, Contact

__all__ = ["Priority", "Task", "Case", "RootCause", "DigestSubscription"]


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


def _visibility(user, prefix: str, *people: str) -> Q | None:
    """Records of visible accounts, plus those whose `people` fields name the user; admins and
    managers see all. A record without an account is private to the people it names."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser or user.has_role(Role.ADMIN, Role.MANAGER):
        return Q()
    condition = Q(pk__in=[])
    for name in people:
        condition |= Q(**{f"{prefix}{name}": user})
    accounts = access.visibility(Account, user, f"{prefix}account__")
    if accounts is not None:
        condition |= Q(**{f"{prefix}account__isnull": False}) & accounts
    return condition


class RootCause(models.Model):
    """Why a case ended as it did; a list administrators keep (seeded from seed 000)."""

    code = models.SlugField(max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "code"]
        verbose_name, verbose_name_plural = _("Root cause"), _("Root causes")

    def __str__(self):
        return self.name_en

    def label(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        language = language or get_language() or ""
        return self.name_zh if language.lower().startswith("zh") and self.name_zh else self.name_en


class Case(models.Model):
    class Type(models.TextChoices):
        RISK = "risk", pgettext_lazy("case type", "Risk")
        WIN_BACK = "win_back", pgettext_lazy("case type", "Win-back")
        RENEWAL = "renewal", pgettext_lazy("case type", "Renewal")
        EXPANSION = "expansion", pgettext_lazy("case type", "Expansion")
        ONBOARDING = "onboarding", pgettext_lazy("case type", "Onboarding")
        FEEDBACK = "feedback", pgettext_lazy("case type", "Feedback")
        OTHER = "other", pgettext_lazy("case type", "Other")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("case status", "Open")
        IN_PROGRESS = "in_progress", pgettext_lazy("case status", "In progress")
        CLOSED = "closed", pgettext_lazy("case status", "Closed")

    class Outcome(models.TextChoices):
        SUCCESS = "closed_success", _("Closed, success")
        LOST = "closed_lost", _("Closed, lost")

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="cases")
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    reason = models.CharField(_("reason"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_cases"
    )
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    due_on = models.DateField(_("due on"), null=True, blank=True)
    signal = models.ForeignKey(
        "lifecycle.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    rule = models.CharField(
        max_length=100, blank=True, help_text="the rule or playbook that opened it; empty when opened by hand"
    )
    # The playbook enrollment that opened it (clm.automation.models.playbooks), kept as a plain id.
    enrollment_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    root_cause = models.ForeignKey(RootCause, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    close_note = models.TextField(_("closing note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name, verbose_name_plural = _("Case"), _("Cases")
        constraints = [
            # A rule opens one case per account, type and reason while it is open (see open_case).
            models.UniqueConstraint(
                fields=["account", "type", "reason"],
                condition=Q(status__in=["open", "in_progress"]) & ~Q(rule=""),
                name="one_open_rule_case",
            )
        ]
        indexes = [
            models.Index(fields=["account", "created_at"], name="case_account_created"),
            models.Index(fields=["owner", "status"], name="case_owner_status"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        from clm.lifecycle import words

        return f"{self.get_type_display()}: {words.case_reason(self.reason)}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @classmethod
    def visibility_for(cls, user, prefix: str = "") -> Q | None:
        """Cases of accounts the user may see, and cases the user owns (clm.core.access)."""
        return _visibility(user, prefix, "owner")


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("task status", "Open")
        DONE = "done", pgettext_lazy("task status", "Done")
        CANCELLED = "cancelled", pgettext_lazy("task status", "Cancelled")

    class Source(models.TextChoices):
        MANUAL = "manual", _("By hand")
        PLAYBOOK = "playbook", _("Playbook step")
        SIGNAL = "signal", _("Early-warning signal")
        REPORT = "report", _("Report or KPI notice")
        APPROVAL = "approval", _("Approval request")

    title = models.CharField(_("title"), max_length=200)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    outcome = models.TextField(_("outcome"), blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    # The playbook enrollment whose step made it (clm.automation.models.playbooks), as a plain id.
    enrollment_id = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name, verbose_name_plural = _("Task"), _("Tasks")
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_due"),
            models.Index(fields=["account", "created_at"], name="task_account_created"),
        ]
        ordering = [models.F("due_at").asc(nulls_last=True), "id"]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def is_snoozed(self, now=None) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > (now or timezone.now())

    def is_overdue(self, now=None) -> bool:
        now = now or timezone.now()
        return self.is_open and self.due_at is not None and self.due_at < now and not self.is_snoozed(now)

    @classmethod
    def visibility_for(cls, user, prefix: str = "") -> Q | None:
        """Tasks of accounts the user may see, and tasks assigned to or made by the user."""
        return _visibility(user, prefix, "assignee", "created_by")


class DigestSubscription(models.Model):
    """Whether a user gets the daily email of their due tasks (yes unless they opted out), and the
    last local day it went out, so a digest is sent at most once a day."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest")
    enabled = models.BooleanField(default=True)
    last_sent_on = models.DateField(null=True, blank=True)

    def __str__(self):
        return f"{self.user}: {'on' if self.enabled else 'off'}"
