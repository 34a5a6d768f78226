"""People, access, API tokens, the audit log, custom fields, and the abstract bases of every data
model (external ids, timestamps)."""

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
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

    def save(self, *args, **kwargs):
        # set_password() leaves the new password in _password until it is saved (a hash upgrade
        # at sign-in clears it first: that is no change); whichever way it changed (preferences,
        # reset, admin, changepassword), the user's tokens go with the old password.
        changed = self._password is not None and not self._state.adding
        super().save(*args, **kwargs)
        if changed:
            from clm.core.tokens import revoke_after_password_change

            revoke_after_password_change(self)


def default_sla_hours() -> dict:
    return {"urgent": 4, "high": 8, "normal": 24, "low": 72}


def default_renewal_intent() -> dict:
    return {"won": 1.0, "negotiation": 0.5, "proposal": 0.0, "discovery": 0.0, "qualify": 0.0, "lost": -1.0}


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
    # What were constants of the lifecycle engine and the value models (checked by clean()).
    sla_first_response_hours = models.JSONField(
        _("first-response SLA in hours, by ticket priority"), default=default_sla_hours,
        help_text=_('For example {"urgent": 4, "high": 8, "normal": 24, "low": 72}.'),
    )
    renewal_intent = models.JSONField(
        _("renewal intent read from the renewal deal's stage"), default=default_renewal_intent,
        help_text=_("From -1 (leaving) through 0 (undecided) to 1 (renewing), for each deal stage."),
    )
    clv_annual_discount_rate = models.DecimalField(
        _("CLV annual discount rate"), max_digits=5, decimal_places=4, default=Decimal("0.10"),
        validators=[MinValueValidator(0), MaxValueValidator(1)], help_text=_("0.10 is 10% a year."),
    )
    clv_horizon_months = models.PositiveSmallIntegerField(
        _("CLV horizon of repeat buyers (months)"), default=36, validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    loyalty_points_per_amount = models.DecimalField(
        _("loyalty points per unit of purchase amount"), max_digits=8, decimal_places=4, default=Decimal("0.01"),
        validators=[MinValueValidator(0)], help_text=_("0.01 is 1 point per 100 spent."),
    )
    loyalty_referral_points = models.PositiveIntegerField(_("loyalty points for a referred customer who signs"), default=500)
    loyalty_credit_per_point = models.DecimalField(
        _("service credit per loyalty point"), max_digits=8, decimal_places=4, default=Decimal("1"),
        validators=[MinValueValidator(0)],
    )
    loyalty_expiry_months = models.PositiveSmallIntegerField(
        _("loyalty points expire after (months)"), null=True, blank=True, validators=[MinValueValidator(1)],
        help_text=_("Empty: points never expire."),
    )

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

    def clean(self):
        from clm.core.workspace import check_workspace

        check_workspace(self)

    class Meta:
        verbose_name = _("workspace")
        verbose_name_plural = _("workspaces")


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 digest is stored; the token is shown once. Its scope
    limits what it may do, it may expire, and it is revoked when its owner's password changes
    unless it was issued to survive that (an integration's token). Issued and revoked through
    clm.core.tokens, which audits both."""

    PREFIX = "clm_"

    class Scope(models.TextChoices):
        FULL = "full", _("Full access")
        READ = "read", _("Read only")
        EVENTS = "events", _("Usage events only")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="first characters, to recognise it")
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.FULL)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    survives_password_change = models.BooleanField(_("kept when the password changes"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str, **options) -> tuple["ApiToken", str]:
        """A new token and its raw value (options: scope, expires_at, survives_password_change)."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, digest=cls.hash(raw), hint=raw[:10], **options)
        return token, raw

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired()

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
