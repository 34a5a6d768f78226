"""Accounts (the B2B customers), their contacts and decision chain, the scene tag library and
interactions."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clm.core.models import Imported, Timestamped


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")  # 获客期
    ONBOARDING = "onboarding", _("Onboarding")  # 激活期
    GROWTH = "growth", _("Growth")  # 成长期
    MATURE = "mature", _("Mature")  # 成熟期
    AT_RISK = "at_risk", _("Declining")  # 衰退期
    DORMANT = "dormant", _("Dormant")  # 沉睡
    CHURNED = "churned", _("Churned")  # 流失期
    REACTIVATED = "reactivated", _("Reactivated")  # 回流


class HealthBand(models.TextChoices):
    GREEN = "green", _("Healthy")
    YELLOW = "yellow", _("Watch")
    RED = "red", _("At risk")


class WarningLevel(models.IntegerChoices):
    """How strongly the early warning speaks about an account (clm.analytics.warning.LEVELS).
    Only the churn warning flags; the two levels below it are for watching."""

    NONE = 0, pgettext_lazy("warning level", "No warning")
    WATCH = 1, pgettext_lazy("warning level", "Watch")
    WATCH_CLOSELY = 2, pgettext_lazy("warning level", "Watch closely")
    CHURN_WARNING = 3, pgettext_lazy("warning level", "Churn warning")

    @classmethod
    def colour(cls, level: int) -> str:
        """The badge colour of a level: red for the churn warning (the one that flags), yellow below."""
        return "red" if level >= cls.CHURN_WARNING else "yellow"


class DevelopmentStage(models.TextChoices):
    STARTUP = "startup", _("Start-up")  # 初创期
    GROWTH = "growth", _("Growing")  # 成长期
    MATURE = "mature", _("Established")  # 成熟期
    TRANSFORMATION = "transformation", _("Transforming")  # 转型期


class TagCategory(models.Model):
    """A dimension of the scene tag library (场景标签库), e.g. 产线自动化率."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        verbose_name = _("tag category")
        verbose_name_plural = _("tag categories")

    def __str__(self):
        return self.name


class Tag(models.Model):
    category = models.ForeignKey(TagCategory, on_delete=models.CASCADE, related_name="tags")
    value = models.CharField(_("value"), max_length=100)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["category", "value"], name="tag_unique_value")]
        ordering = ["category__name", "value"]

    def __str__(self):
        return f"{self.category.name}:{self.value}"


class Account(Imported, Timestamped):
    """A B2B customer or prospect."""

    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue = models.DecimalField(_("annual revenue"), max_digits=16, decimal_places=2, null=True, blank=True)
    region = models.CharField(_("region"), max_length=50, blank=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    development_stage = models.CharField(max_length=20, choices=DevelopmentStage.choices, blank=True)
    acquisition_channel = models.CharField(_("acquisition channel"), max_length=50, blank=True)
    sales_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_accounts"
    )
    csm = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="csm_accounts"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", db_index=False
    )
    referred_by_account = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals", db_index=False
    )
    referred_by_contact = models.ForeignKey(
        "Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="referred_accounts", db_index=False
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="accounts")
    custom = models.JSONField(_("custom attributes"), default=dict, blank=True)
    pain_points = models.JSONField(_("pain points"), default=list, blank=True)
    value_drivers = models.JSONField(_("value drivers"), default=list, blank=True)
    customer_since = models.DateField(null=True, blank=True)

    # Filled by the lifecycle engine.
    lifecycle_stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    lifecycle_stage_since = models.DateField(null=True, blank=True)
    health_score = models.PositiveSmallIntegerField(null=True, blank=True)
    health_band = models.CharField(max_length=10, choices=HealthBand.choices, blank=True)
    warning_level = models.PositiveSmallIntegerField(
        _("warning level"), choices=WarningLevel.choices, default=WarningLevel.NONE, editable=False
    )

    # The name in full pinyin and in initials ("huaweijishu hwjs"), so "huawei" and "hw" find 华为;
    # NULL until computed (see clm.customers.services.fill_search_keys).
    search_key = models.TextField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [Imported.external_key_constraint("account")]
        ordering = ["name"]
        # Each index costs every import. Plain indexes (a CharField's db_index would add a second,
        # LIKE-only one on PostgreSQL) for the list order and the stage, band, industry and region
        # filters; the references most accounts leave empty are indexed where set (deletes follow them).
        indexes = [
            models.Index(fields=["name"], name="account_name"),
            models.Index(fields=["lifecycle_stage"], name="account_stage"),
            models.Index(fields=["health_band"], name="account_band"),
            models.Index(fields=["warning_level"], name="account_warning"),
            # the list's and the dashboard's filter menus read their distinct values from these two
            models.Index(fields=["industry"], name="account_industry"),
            models.Index(fields=["region"], name="account_region"),
            *(
                models.Index(fields=[f], condition=models.Q(**{f"{f}__isnull": False}), name=f"account_{f}")
                for f in ("parent", "referred_by_account", "referred_by_contact")
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def warning_colour(self) -> str:
        return WarningLevel.colour(self.warning_level)

    @classmethod
    def visible_to_restricted(cls, user, prefix: str = "") -> models.Q:
        """What a restricted user (sales, CSM; see clm.core.access) sees: the accounts they or
        their team own or look after. Records with an `account` key follow this rule."""
        mine = models.Q(**{f"{prefix}sales_owner": user}) | models.Q(**{f"{prefix}csm": user})
        if user.team_id:
            mine |= models.Q(**{f"{prefix}sales_owner__team_id": user.team_id})
            mine |= models.Q(**{f"{prefix}csm__team_id": user.team_id})
        return mine


class Contact(Imported, Timestamped):
    class Role(models.TextChoices):
        DECISION_MAKER = "decision_maker", _("Decision maker")  # 决策者
        ECONOMIC_BUYER = "economic_buyer", _("Economic buyer")
        INFLUENCER = "influencer", _("Influencer")  # 影响者
        CHAMPION = "champion", _("Champion")
        USER = "user", _("User")  # 使用者

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        LEFT = "left", _("Left the company")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    title = models.CharField(_("title"), max_length=100, blank=True)
    role = models.CharField(_("decision-chain role"), max_length=20, choices=Role.choices, blank=True)
    is_key_person = models.BooleanField(_("key person (KP)"), default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    left_on = models.DateField(null=True, blank=True)
    email_consent = models.BooleanField(default=False)
    email_consent_at = models.DateTimeField(null=True, blank=True)
    custom = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [Imported.external_key_constraint("contact")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class Interaction(Imported):
    class Type(models.TextChoices):
        EMAIL = "email", _("Email")
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        VISIT = "visit", _("Visit")
        QBR = "qbr", _("QBR")
        TRAINING = "training", _("Training")
        EVENT = "event", _("Event")
        NOTE = "note", _("Note")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")
        INTERNAL = "internal", _("Internal")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="interactions")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions")
    type = models.CharField(max_length=10, choices=Type.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    summary = models.TextField()
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [Imported.external_key_constraint("interaction")]
        indexes = [models.Index(fields=["account", "occurred_at"])]
        ordering = ["-occurred_at"]

    def __str__(self):
        return f"{self.get_type_display()} {self.occurred_at:%Y-%m-%d}"
