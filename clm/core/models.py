"""People, access, API tokens, the audit log, custom fields, and the abstract bases of every data
model (external ids, timestamps)."""

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "Admin", _("Admin")
    MANAGER = "Manager", _("Manager")
    SALES = "Sales", _("Sales")
    CSM = "CSM", _("Customer success")
    MARKETING = "Marketing", _("Marketing")
    VIEWER = "Viewer", _("Viewer")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    def __str__(self):
        return self.name

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")


class User(AbstractUser):
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    language = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    @property
    def roles(self) -> set[str]:
        if not hasattr(self, "_roles"):
            self._roles = set(self.groups.values_list("name", flat=True))
        return self._roles

    def has_role(self, *roles: str) -> bool:
        return self.is_superuser or bool(self.roles.intersection(roles))


_workspace_scope: ContextVar[dict | None] = ContextVar("clm_workspace_scope", default=None)


@contextmanager
def workspace_scope() -> Iterator[None]:
    """Workspace.current() reads the row once for everything inside (on first use): a request's
    visibility checks and every amount it shows. Nested scopes share the outer one's."""
    if _workspace_scope.get() is not None:
        yield
        return
    token = _workspace_scope.set({})
    try:
        yield
    finally:
        _workspace_scope.reset(token)


class Workspace(models.Model):
    """The one row of company-wide settings an admin can change without a restart."""

    class Visibility(models.TextChoices):
        ALL = "all", _("Sales and CSM users see all accounts")
        TEAM = "team", _("Sales and CSM users see their own and their team's accounts")

    name = models.CharField(_("company name"), max_length=200, default="CLM")
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    record_visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.ALL)
    event_retention_days = models.PositiveIntegerField(default=400)

    @classmethod
    def current(cls) -> "Workspace":
        """The settings row; read once inside a workspace_scope (a request, a digest run)."""
        memo = _workspace_scope.get()
        if memo is not None and "row" in memo:
            return memo["row"]
        workspace = cls.objects.first()
        if workspace is None:
            workspace = cls(
                record_visibility=settings.CLM_RECORD_VISIBILITY,
                event_retention_days=settings.CLM_EVENT_RETENTION_DAYS,
            )
        if memo is not None:
            memo["row"] = workspace
        return workspace

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        memo = _workspace_scope.get()
        if memo is not None:
            memo.pop("row", None)  # read afresh by the rest of the scope

    def __str__(self):
        return self.name

    class Meta:
        verbose_name = _("workspace")
        verbose_name_plural = _("workspaces")


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 digest is stored; the token is shown once."""

    PREFIX = "clm_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="first characters, to recognise it")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str) -> tuple["ApiToken", str]:
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, digest=cls.hash(raw), hint=raw[:10])
        return token, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")


class AuditLog(models.Model):
    """Who changed which customer record, when, from what to what. Written by the service layer."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        DELETE = "delete", _("deleted")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    via = models.CharField(max_length=20, help_text="ui, api, import, cli, admin, system")
    action = models.CharField(max_length=10, choices=Action.choices)
    model = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, help_text="{field: [old, new]}")

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["model", "object_id"])]
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.model} {self.object_repr}"


class CustomField(models.Model):
    """A typed custom attribute of accounts or contacts, stored in their `custom` JSON."""

    class Target(models.TextChoices):
        ACCOUNT = "account", _("account")
        CONTACT = "contact", _("contact")

    class Type(models.TextChoices):
        TEXT = "text", _("text")
        NUMBER = "number", _("number")
        DATE = "date", _("date")
        BOOLEAN = "boolean", _("yes/no")
        CHOICE = "choice", _("choice")

    target = models.CharField(max_length=10, choices=Target.choices)
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="custom_field_unique_key")]

    def __str__(self):
        return f"{self.target}.{self.key}"


class Imported(models.Model):
    """External ids: unique per source system, so re-imports update instead of duplicating.

    external_id is NULL for records created in CLM itself (NULLs never collide)."""

    source = models.CharField(_("source system"), max_length=30, default="", blank=True)
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)

    class Meta:
        abstract = True

    @classmethod
    def external_key_constraint(cls, name: str) -> models.UniqueConstraint:
        return models.UniqueConstraint(fields=["source", "external_id"], name=f"{name}_unique_external_id")


class Timestamped(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
