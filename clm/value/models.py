"""What the value analytics store per account: CLV estimates (with the inputs that explain them),
value tiers with RFM, cross-sell recommendations, the loyalty points ledger, and the tier
thresholds a company configures."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.commerce.models import Order, Product
from clm.customers.models import Account


class CLVEstimate(models.Model):
    """An account's lifetime value as of a date, by one method, with everything the number came from.

    value = historical_value (gross margin already earned) + future_value (expected discounted
    margin still to come). ``inputs`` holds the model's parameters and the account's own figures
    (tenure, MRR, margin rate, P(alive), ...), so the page that shows the number can explain it."""

    class Method(models.TextChoices):
        SBG = "sbg", _("Shifted-beta-geometric (contracts)")
        BGNBD = "bgnbd", _("BG/NBD with Gamma-Gamma spend (repeat orders)")
        HISTORICAL = "historical", _("Historical (revenue − cost so far)")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="clv_estimates")
    as_of = models.DateField(db_index=True)
    method = models.CharField(max_length=12, choices=Method.choices)
    value = models.DecimalField(max_digits=16, decimal_places=2, help_text="historical + future")
    historical_value = models.DecimalField(max_digits=16, decimal_places=2)
    future_value = models.DecimalField(max_digits=16, decimal_places=2)
    inputs = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = _("CLV estimates")
        verbose_name = _("CLV estimate")
        constraints = [models.UniqueConstraint(fields=["account", "as_of"], name="clv_estimate_unique_day")]
        ordering = ["-as_of", "account_id"]

    def __str__(self):
        return f"{self.account_id} {self.as_of} {self.method} {self.value}"


class TierRule(models.Model):
    """A configurable value tier (seed 003: "根据客户的合作年限和项目总额，自动计算客户价值等级"):
    an account reaches it with at least this tenure AND this total revenue. Rules are tried by
    ``position``; the last must take every account (0, 0). With no rows, the defaults of
    clm.analytics.tiers.DEFAULT_TIERS apply."""

    position = models.PositiveSmallIntegerField(unique=True)
    key = models.SlugField(max_length=30, unique=True)
    label = models.CharField(max_length=60)
    label_zh = models.CharField(max_length=60, blank=True)
    min_tenure_years = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    min_total_revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = _("tier rule")
        verbose_name_plural = _("tier rules")
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_tenure_years__gte=0), name="tier_rule_tenure_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(min_total_revenue__gte=0), name="tier_rule_revenue_not_negative"
            ),
        ]

    def __str__(self):
        return self.label


class TierAssignment(models.Model):
    """An account's value tier and RFM standing as of a date."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_assignments")
    as_of = models.DateField(db_index=True)
    tier = models.CharField(max_length=30)
    tier_label = models.CharField(max_length=60)
    tenure_years = models.FloatField()
    total_revenue = models.DecimalField(max_digits=16, decimal_places=2)
    # RFM of the account's orders (empty when it has none)
    recency_days = models.IntegerField(null=True, blank=True)
    frequency = models.IntegerField(null=True, blank=True)
    monetary = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    rfm_code = models.CharField(max_length=3, blank=True)
    segment = models.CharField(max_length=30, blank=True)
    value_class = models.CharField(max_length=30, blank=True)

    class Meta:
        verbose_name = _("tier assignment")
        verbose_name_plural = _("tier assignments")
        constraints = [
            models.UniqueConstraint(fields=["account", "as_of"], name="tier_assignment_unique_day")
        ]
        ordering = ["-as_of", "account_id"]

    def __str__(self):
        return f"{self.account_id} {self.as_of} {self.tier}"


class Recommendation(models.Model):
    """A next-best offer sales can act on: buy ``product`` (because the account bought
    ``because_of``), due in a window, with the reason in words."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted (being worked)")
        DISMISSED = "dismissed", _("Dismissed")
        CONVERTED = "converted", _("Converted (the account bought it)")
        WITHDRAWN = "withdrawn", _("Withdrawn (no longer suggested)")

    class Kind(models.TextChoices):
        CROSS_SELL = "cross_sell", _("Cross-sell")
        UP_SELL = "up_sell", _("Up-sell")

    LIVE = (Status.OPEN, Status.ACCEPTED)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recommendations")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    because_of = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CROSS_SELL)
    rank = models.PositiveSmallIntegerField(default=1)
    score = models.FloatField()
    confidence = models.FloatField()
    lift = models.FloatField()
    due_from = models.DateField()
    due_to = models.DateField()
    reason = models.CharField(max_length=300)
    reason_zh = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    computed_on = models.DateField(help_text="as-of date of the run that last suggested it")
    # up-sell: the signals behind the offer (clm.analytics.upsell), the day first offered and the
    # account's MRR on the product family that day; on conversion, the MRR it added
    evidence = models.JSONField(default=dict, blank=True, db_default=models.Value({}, models.JSONField()))
    offered_on = models.DateField(null=True, blank=True)
    baseline_mrr = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    converted_on = models.DateField(null=True, blank=True)
    expansion_mrr = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        constraints = [
            # one cross-sell row per account and product; up-sell rows keep their history (a
            # converted upgrade to a plan, then seats on it), with at most one live offer each
            models.UniqueConstraint(
                fields=["account", "product"], condition=models.Q(kind="cross_sell"), name="recommendation_unique_cross_sell"
            ),
            models.UniqueConstraint(
                fields=["account", "product"], condition=models.Q(kind="up_sell", status__in=["open", "accepted"]),
                name="recommendation_one_live_up_sell",
            ),
        ]
        ordering = ["due_from", "account_id", "rank"]

    def __str__(self):
        return f"{self.account_id}: {self.product_id} ({self.status})"


class LoyaltyEntry(models.Model):
    """One change of an account's points. The balance is the sum of the entries: nothing is
    updated in place, a redemption is a negative entry (refused beyond the balance, see
    clm.value.services.redeem_points)."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Earned on a purchase")
        REFERRAL = "referral", _("Earned for a referral")
        REDEMPTION = "redemption", _("Redeemed for service credit")
        EXPIRY = "expiry", _("Expired")
        ADJUSTMENT = "adjustment", _("Adjustment")

    EARNING = (Kind.PURCHASE, Kind.REFERRAL)
    SPENDING = (Kind.REDEMPTION, Kind.EXPIRY)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="loyalty_entries")
    date = models.DateField(db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    points = models.IntegerField()
    credit = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        help_text="service credit granted (redemptions)",
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    referred_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("loyalty entry")
        verbose_name_plural = _("loyalty entries")
        constraints = [
            # each order and each referred customer earns once, however often the daily run repeats
            models.UniqueConstraint(fields=["order"], name="loyalty_entry_unique_order"),
            models.UniqueConstraint(fields=["referred_account"], name="loyalty_entry_unique_referral"),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["purchase", "referral"]) | models.Q(points__gt=0),
                name="loyalty_earning_positive",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["redemption", "expiry"]) | models.Q(points__lt=0),
                name="loyalty_spending_negative",
            ),
        ]
        indexes = [models.Index(fields=["account", "date"])]
        ordering = ["-date", "-id"]

    def clean(self):
        if self.kind in self.EARNING and self.points is not None and self.points <= 0:
            raise ValidationError({"points": _("an earning adds points: it must be above 0")})
        if self.kind in self.SPENDING and self.points is not None and self.points >= 0:
            raise ValidationError({"points": _("a redemption or expiry takes points away: it must be below 0")})

    def __str__(self):
        return f"{self.account_id} {self.date} {self.kind} {self.points:+d}"


# -- referrals (seed 003: 每成功推荐一个新客户签约……服务费减免) --------------------------------------


class ReferralCode(models.Model):
    """The code an account (or one of its contacts) hands out; a lead or account that arrives with
    it is attributed to them. One code per account, and one per contact."""

    code = models.CharField(_("referral code"), max_length=20, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="referral_codes")
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="referral_codes"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name, verbose_name_plural = _("referral code"), _("referral codes")
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(contact__isnull=True), name="referral_code_one_per_account"
            ),
            models.UniqueConstraint(
                fields=["contact"], condition=models.Q(contact__isnull=False), name="referral_code_one_per_contact"
            ),
        ]
        ordering = ["account_id", "id"]

    def __str__(self):
        return self.code


class ReferralRule(models.Model):
    """A reward for a referral whose customer signs, as data: points on the loyalty ledger, a
    service credit (booked on the ledger as the points that redeem to it), or a discount on the
    referrer's next invoice. The active rule with the lowest position applies."""

    class Kind(models.TextChoices):
        POINTS = "points", _("Loyalty points")
        SERVICE_CREDIT = "service_credit", _("Service credit")
        INVOICE_DISCOUNT = "invoice_discount", _("Discount on the next invoice")

    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    points = models.PositiveIntegerField(_("points"), default=0)
    credit = models.DecimalField(_("service credit"), max_digits=12, decimal_places=2, default=Decimal("0"))
    discount_percent = models.DecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name, verbose_name_plural = _("referral reward rule"), _("referral reward rules")
        ordering = ["position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100), name="referral_rule_percent"
            ),
            models.CheckConstraint(condition=models.Q(credit__gte=0), name="referral_rule_credit_not_negative"),
        ]

    def __str__(self):
        return self.code

    def label(self) -> str:
        from django.utils.translation import get_language

        return self.name_zh if (get_language() or "").lower().startswith("zh") and self.name_zh else self.name_en


class Referral(models.Model):
    """A lead or account that arrived with a referral code, attributed to the code's account
    (and contact); ``signed_on`` is the day the referred customer signed its first contract."""

    class Channel(models.TextChoices):
        API = "api", _("API")
        IMPORT = "import", _("Import")
        FORM = "form", _("Web form")
        MANUAL = "manual", _("By hand")
        RECORD = "record", _("“Referred by” on the account")

    code = models.ForeignKey(ReferralCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals")
    referrer = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="referrals_made")
    referrer_contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    referred_account = models.OneToOneField(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="referral"
    )
    lead = models.OneToOneField("sales.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="referral")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    arrived_at = models.DateTimeField(default=timezone.now)
    signed_on = models.DateField(_("signed on"), null=True, blank=True)

    class Meta:
        verbose_name, verbose_name_plural = _("referral"), _("referrals")
        ordering = ["-arrived_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(referred_account__isnull=False) | models.Q(lead__isnull=False),
                name="referral_has_someone",
            ),
        ]

    def __str__(self):
        return f"{self.referrer_id} → {self.referred_account_id or self.lead_id}"

    @classmethod
    def visibility_for(cls, user, prefix: str = ""):
        """A restricted user sees the referrals made by the accounts they may see."""
        from clm.core import access

        if not user.is_authenticated or not user.is_active:
            return None
        return access.visibility(Account, user, f"{prefix}referrer__")


class ReferralReward(models.Model):
    """What a referrer was granted when the referred customer signed: once per referral (a
    unique constraint), with the rule, the ledger entry, and its cost with the inputs behind it."""

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, related_name="reward")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="referral_rewards")
    rule = models.ForeignKey(ReferralRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=ReferralRule.Kind.choices)
    points = models.PositiveIntegerField(default=0)
    credit = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    inputs = models.JSONField(default=dict)
    entry = models.OneToOneField(LoyaltyEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    granted_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name, verbose_name_plural = _("referral reward"), _("referral rewards")
        ordering = ["-granted_on", "-id"]

    def __str__(self):
        return f"{self.account_id}: {self.kind} for referral {self.referral_id}"
class TierBenefit(models.Model):
    """What a value tier gives its members (seeds 002 and 003: 会员权益), as data: a dedicated
    account manager, a discount rate on orders, early access to new products, a support SLA."""

    tier = models.SlugField(_("tier"), max_length=30, unique=True, help_text="a tier rule's key")
    dedicated_manager = models.BooleanField(_("dedicated account manager"), default=False)
    discount_rate = models.DecimalField(
        _("discount rate"), max_digits=4, decimal_places=3, default=Decimal("0"), help_text="0.05 = 5% off orders"
    )
    early_access = models.BooleanField(_("early access to new products"), default=False)
    support_sla_hours = models.PositiveSmallIntegerField(_("support response within (hours)"), default=48)

    class Meta:
        verbose_name = _("tier benefit")
        verbose_name_plural = _("tier benefits")
        ordering = ["tier"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(discount_rate__gte=0, discount_rate__lt=1), name="tier_benefit_discount_0_1"
            ),
            models.CheckConstraint(condition=models.Q(support_sla_hours__gte=1), name="tier_benefit_sla_positive"),
        ]

    def __str__(self):
        return self.tier


class UpsellSettings(models.Model):
    """The up-sell thresholds (clm.analytics.upsell.Thresholds), one row, edited in the admin."""

    seat_utilisation = models.FloatField(
        _("seat utilisation threshold"), default=1.0, validators=[MinValueValidator(0.1), MaxValueValidator(5)],
        help_text=_("Active users ÷ contracted seats at or above which seats count as full (1.0 = every seat in "
                    "use); growth and core-feature breadth count from 0.9 × this value."),
    )
    growth = models.FloatField(
        _("growth threshold"), default=0.25, validators=[MinValueValidator(0.01), MaxValueValidator(10)],
        help_text=_("Growth of active users against the window before at or above which the account grows fast."),
    )
    core_breadth = models.FloatField(
        _("core-feature breadth threshold"), default=1.0, validators=[MinValueValidator(0.1), MaxValueValidator(1)],
        help_text=_("Share of the core features used in the window at or above which the plan is fully used."),
    )
    min_users = models.PositiveSmallIntegerField(
        _("minimum users for growth"), default=3, validators=[MinValueValidator(1)],
        help_text=_("Active users the earlier window needs before growth counts."),
    )
    target_utilisation = models.FloatField(
        _("target utilisation after more seats"), default=0.8, validators=[MinValueValidator(0.1), MaxValueValidator(1)],
    )
    window_days = models.PositiveSmallIntegerField(
        _("window (days)"), default=30, validators=[MinValueValidator(7), MaxValueValidator(180)]
    )
    due_days = models.PositiveSmallIntegerField(
        _("days to act on an offer"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    attribution_days = models.PositiveSmallIntegerField(
        _("days an upgrade counts as converted"), default=90, validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text=_("An upgrade or seat expansion within this many days of the offer counts as its conversion."),
    )

    plan_families = models.CharField(
        _("plan families"), max_length=300, blank=True,
        help_text=_("Product families sold as plans, comma-separated; empty: every family whose live contracts have "
                    "more than one seat (median)."),
    )

    class Meta:
        verbose_name = _("up-sell settings")
        verbose_name_plural = _("up-sell settings")

    def __str__(self):
        return str(_("up-sell settings"))

    @classmethod
    def current(cls) -> "UpsellSettings":
        return cls.objects.order_by("pk").first() or cls()
