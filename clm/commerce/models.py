"""Products, subscriptions (contracts) with their change ledger, orders with lines, payments."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.core.models import Imported, Timestamped
from clm.customers.models import Account


class Product(Imported):
    name = models.CharField(_("name"), max_length=200)
    family = models.CharField(_("family"), max_length=100, blank=True)
    list_price = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    is_recurring = models.BooleanField(default=True)
    active = models.BooleanField(_("sold"), default=True, help_text=_("Off: no longer offered on new quotes."))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [Imported.external_key_constraint("product")]
        ordering = ["family", "name"]

    def __str__(self):
        return self.name


ARR_FIELD = models.DecimalField(max_digits=16, decimal_places=2)  # SQLite's float sums come back in cents


class SubscriptionQuerySet(models.QuerySet):
    def live(self):
        """Contracts in force: active or in trial."""
        return self.filter(status__in=Subscription.LIVE_STATUSES)

    def arr_by_account(self):
        """Per account (account_id, arr): ARR = 12 × the MRR of its live contracts. Accounts
        without a live contract have no row."""
        return (
            self.live()
            .order_by()
            .values("account_id")
            .annotate(arr=models.ExpressionWrapper(models.Sum("mrr") * 12, output_field=ARR_FIELD))
            .values_list("account_id", "arr")
        )

    def account_arr(self, account=None):
        """The ARR of the account ``account`` refers to (an outer account's pk by default), as
        a subquery to annotate accounts with; NULL without a live contract."""
        account = models.OuterRef("pk") if account is None else account
        return models.Subquery(self.filter(account=account).arr_by_account().values("arr")[:1])


class Subscription(Imported, Timestamped):
    """A contract. Every change of MRR, seats or status is also written to SubscriptionChange, the
    ledger MRR movements (new, expansion, contraction, churn, reactivation) are computed from."""

    class Status(models.TextChoices):
        TRIAL = "trial", _("Trial")
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    LIVE_STATUSES = (Status.ACTIVE, Status.TRIAL)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    seats = models.PositiveIntegerField(default=1)
    mrr = models.DecimalField(_("MRR"), max_digits=14, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    auto_renew = models.BooleanField(default=False)
    renewal_date = models.DateField(null=True, blank=True)
    cancelled_on = models.DateField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            Imported.external_key_constraint("subscription"),
            models.CheckConstraint(condition=models.Q(mrr__gte=0), name="subscription_mrr_not_negative"),
        ]
        indexes = [models.Index(fields=["account", "start_date"])]

    @property
    def arr(self) -> Decimal:
        return self.mrr * 12  # the one contract's share of SubscriptionQuerySet.arr_by_account

    def __str__(self):
        return f"{self.account} {self.product or ''} {self.start_date}"


class SubscriptionChange(models.Model):
    class Kind(models.TextChoices):
        NEW = "new", _("New")
        RENEWAL = "renewal", _("Renewal")
        EXPANSION = "expansion", _("Expansion")
        CONTRACTION = "contraction", _("Contraction")
        CHURN = "churn", _("Churn")
        REACTIVATION = "reactivation", _("Reactivation")
        OTHER = "other", _("Other change")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="changes")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="subscription_changes")
    effective_date = models.DateField(db_index=True)
    kind = models.CharField(max_length=15, choices=Kind.choices)
    mrr_before = models.DecimalField(max_digits=14, decimal_places=2)
    mrr_after = models.DecimalField(max_digits=14, decimal_places=2)
    seats_before = models.PositiveIntegerField()
    seats_after = models.PositiveIntegerField()
    status_after = models.CharField(max_length=10, choices=Subscription.Status.choices)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "effective_date"])]
        ordering = ["effective_date", "id"]

    @property
    def mrr_delta(self) -> Decimal:
        return self.mrr_after - self.mrr_before


class Order(Imported):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="orders")
    ordered_on = models.DateField(db_index=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="sum of the lines")
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"), help_text="sum of the lines")

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [Imported.external_key_constraint("order")]
        indexes = [models.Index(fields=["account", "ordered_on"])]
        ordering = ["-ordered_on"]

    @property
    def gross_margin(self) -> Decimal:
        return self.amount - self.cost

    def __str__(self):
        return f"{self.external_id or self.pk} {self.ordered_on}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField()
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT)
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("1"))
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "line_no"], name="order_line_unique_no")]
        ordering = ["order", "line_no"]


class Payment(Imported):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="payments")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    due_on = models.DateField()
    paid_on = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [Imported.external_key_constraint("payment")]
        indexes = [models.Index(fields=["account", "due_on"])]

    def is_overdue(self, as_of) -> bool:
        """Overdue as of a date: due before it and not paid by it."""
        if self.status == self.Status.VOID or self.due_on >= as_of:
            return False
        return self.paid_on is None or self.paid_on > as_of

    def days_late(self, as_of) -> int:
        if not self.is_overdue(as_of) and not (self.paid_on and self.paid_on > self.due_on):
            return 0
        end = min(self.paid_on, as_of) if self.paid_on else as_of
        return max((end - self.due_on).days, 0)


class Coupon(Timestamped):
    """A coupon code (seeds 002, 003: 优惠券): an amount or a percentage off an order, valid between
    two dates, for the tiers and RFM segments it names (none: everyone), used at most `max_uses`
    times in all (1: single use; empty: no limit) and once per order. Who is eligible is decided
    where tiers are known (clm.value.coupons), which records each redemption against its order."""

    class Kind(models.TextChoices):
        AMOUNT = "amount", _("Amount off")
        PERCENT = "percent", _("Percentage off")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2,
                                help_text="an amount in the workspace's currency, or a percentage (10 = 10%)")
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    eligible_tiers = models.JSONField(_("eligible tiers"), default=list, blank=True)
    eligible_segments = models.JSONField(_("eligible segments"), default=list, blank=True)
    max_uses = models.PositiveIntegerField(_("uses in all"), null=True, blank=True, help_text="empty: no limit")
    min_order_amount = models.DecimalField(_("minimum order"), max_digits=14, decimal_places=2, default=Decimal("0"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-valid_until", "code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(condition=~models.Q(kind="percent") | models.Q(value__lte=100),
                                   name="coupon_percent_at_most_100"),
            models.CheckConstraint(condition=models.Q(valid_until__gte=models.F("valid_from")),
                                   name="coupon_valid_until_after_from"),
            models.CheckConstraint(condition=models.Q(max_uses__isnull=True) | models.Q(max_uses__gte=1),
                                   name="coupon_max_uses_positive"),
        ]

    def __str__(self):
        return self.code


class CouponRedemption(models.Model):
    """A coupon used on an order, with the discount it gave (stored: the number shown)."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="coupon_redemptions")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="coupon_redemptions")
    order_amount = models.DecimalField(max_digits=14, decimal_places=2)
    discount = models.DecimalField(max_digits=14, decimal_places=2)
    tier = models.CharField(max_length=30, blank=True, help_text="the account's tier when it redeemed")
    redeemed_at = models.DateTimeField(default=timezone.now)
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["coupon", "order"], name="coupon_once_per_order"),
            models.CheckConstraint(condition=models.Q(discount__gte=0), name="coupon_discount_not_negative"),
        ]
