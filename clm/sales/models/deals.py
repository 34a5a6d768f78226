"""Quotes with their lines and approvals, the approval rules, and the talk tracks reps use on deals."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.core.models import Role, Timestamped
from clm.customers.models import Account, Contact

from .records import Lead, Opportunity, PipelineStage

LEAD_STAGES = ("mal", "mql", "sql")  # the lead stages a talk track may name, before a deal exists


class Quote(Timestamped):
    """A priced offer for a deal, in versions: lines from the product catalogue (a recurring
    product's price is per unit and month), a discount per line, tax at the quote's rate. Its
    totals are stored with it, as computed by clm.sales.quotes.totals when it was last saved."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        SUPERSEDED = "superseded", _("Superseded")

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="quotes")
    number = models.CharField(_("number"), max_length=30, db_index=True)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    language = models.CharField(_("language"), max_length=10, default="zh-hans", choices=settings.LANGUAGES)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    term_months = models.PositiveSmallIntegerField(
        _("term (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    tax_rate = models.DecimalField(
        _("tax rate"), max_digits=5, decimal_places=4, default=Decimal("0.06"),
        validators=[MinValueValidator(0), MaxValueValidator(1)], help_text=_("0.06 for 6% VAT."),
    )  # fmt: skip
    notes = models.TextField(_("notes"), blank=True)
    # the totals as last computed (clm.sales.quotes.totals), kept so that a figure can be explained
    monthly = models.DecimalField(_("recurring per month"), max_digits=16, decimal_places=2, default=0)
    one_off = models.DecimalField(_("one-off"), max_digits=16, decimal_places=2, default=0)
    list_total = models.DecimalField(_("list price total"), max_digits=16, decimal_places=2, default=0)
    discount_total = models.DecimalField(_("discount"), max_digits=16, decimal_places=2, default=0)
    net_total = models.DecimalField(_("net total"), max_digits=16, decimal_places=2, default=0)
    tax_total = models.DecimalField(_("tax"), max_digits=16, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=0)
    max_discount = models.DecimalField(_("largest discount"), max_digits=5, decimal_places=4, default=0)
    amends = models.ForeignKey(
        "commerce.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("amends contract"),
        help_text=_("An upgrade of the account's live contract: accepted, the quote's first recurring line becomes "
                    "the contract's product, seats and MRR from the acceptance date."),
    )  # fmt: skip
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    sent_at = models.DateTimeField(null=True, blank=True)
    # the customer's link to the printable quote (clm.sales.quote_links): blank when none or revoked
    link_key = models.CharField(max_length=32, blank=True)
    link_expires_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)  # accepted or declined by the customer

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["number", "version"]
        constraints = [models.UniqueConstraint(fields=["number", "version"], name="quote_unique_version")]

    def __str__(self):
        return f"{self.number} v{self.version}"

    @classmethod
    def visible_to_restricted(cls, user, prefix: str = "") -> models.Q:
        return Account.visible_to_restricted(user, f"{prefix}opportunity__account__")


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveSmallIntegerField()
    product = models.ForeignKey("commerce.Product", on_delete=models.PROTECT, related_name="+")
    description = models.CharField(_("description"), max_length=200, blank=True)
    list_price = models.DecimalField(_("list price"), max_digits=14, decimal_places=2)
    recurring = models.BooleanField(_("recurring"), default=True)
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=2, default=1, validators=[MinValueValidator(Decimal("0.01"))]
    )
    discount = models.DecimalField(
        _("discount"), max_digits=5, decimal_places=4, default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)], help_text=_("A share: 0.15 means 15 percent off."),
    )  # fmt: skip

    class Meta:
        ordering = ["quote", "line_no"]
        constraints = [models.UniqueConstraint(fields=["quote", "line_no"], name="quote_line_unique_no")]

    @property
    def net(self) -> Decimal:
        """The line after its discount: per month for a recurring product, once otherwise."""
        return (self.list_price * self.quantity * (1 - self.discount)).quantize(Decimal("0.01"))


class ApprovalRule(models.Model):
    """Who must approve a quote: one whose largest line discount is above ``above_discount`` or
    whose total is at least ``from_total`` needs the rule's approver (a named user, or any user of
    a role). ``up_to_discount`` bounds what the rule may approve: a discount above every rule's
    bound cannot be approved by anyone and is refused."""

    name = models.CharField(_("name"), max_length=100)
    above_discount = models.DecimalField(
        _("discount above"), max_digits=5, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )  # fmt: skip
    up_to_discount = models.DecimalField(
        _("approves discounts up to"), max_digits=5, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )  # fmt: skip
    from_total = models.DecimalField(_("total from"), max_digits=16, decimal_places=2, null=True, blank=True)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("approver"),
    )  # fmt: skip
    approver_role = models.CharField(_("approver role"), max_length=20, blank=True, choices=Role.choices)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("approval rule")
        verbose_name_plural = _("approval rules")
        ordering = ["order", "pk"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.above_discount is None and self.from_total is None:
            errors["above_discount"] = _("Give a discount, a total, or both.")
        if not self.approver_id and not self.approver_role:
            errors["approver"] = _("Name an approver or a role.")
        if self.up_to_discount is not None and self.above_discount is not None and self.up_to_discount <= self.above_discount:
            errors["up_to_discount"] = _("The bound must be above the discount that starts the rule.")
        if errors:
            raise ValidationError(errors)


class Approval(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting decision")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="approvals")
    rule = models.ForeignKey(ApprovalRule, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(_("why it is needed"), max_length=300)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    comment = models.TextField(_("comment"), blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")
        ordering = ["requested_at", "pk"]

    @classmethod
    def visible_to_restricted(cls, user, prefix: str = "") -> models.Q:
        return Account.visible_to_restricted(user, f"{prefix}quote__opportunity__account__") | models.Q(
            **{f"{prefix}approver": user}
        )


class TalkTrack(Timestamped):
    """A talk track or an answer to an objection (销售话术), tagged by what it fits: deal stages,
    industries, products and decision-chain roles (empty: any). Reps mark a track as used on a
    deal, and the deals' outcomes rank the tracks."""

    class Kind(models.TextChoices):
        TRACK = "track", _("Talk track")
        OBJECTION = "objection", _("Objection answer")

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TRACK)
    body = models.TextField(_("what to say"))
    stages = models.JSONField(
        _("stages"), default=list, blank=True,
        help_text=_("Deal stage keys (qualify, proposal…) or lead stages (mal, mql, sql); empty: any."),
    )  # fmt: skip
    industries = models.JSONField(_("industries"), default=list, blank=True, help_text=_("Empty: any."))
    products = models.ManyToManyField("commerce.Product", blank=True, related_name="+", verbose_name=_("products"))
    personas = models.JSONField(
        _("decision-chain roles"), default=list, blank=True,
        help_text=_("Roles of the people it speaks to (decision_maker, influencer…); empty: any."),
    )  # fmt: skip
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("talk track")
        verbose_name_plural = _("talk tracks")
        ordering = ["title"]

    def __str__(self):
        return self.title

    def clean(self):
        errors = {}
        for name in ("stages", "industries", "personas"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[name] = _('A list of words, e.g. ["proposal", "negotiation"].')
        known = set(LEAD_STAGES) | set(Opportunity.Stage.values) | set(
            PipelineStage.objects.order_by().values_list("key", flat=True).distinct())
        strange = [s for s in self.stages or [] if isinstance(s, str) and s not in known]
        if strange and "stages" not in errors:
            errors["stages"] = _("Unknown stages: %(stages)s. Choose from: %(known)s.") % {
                "stages": ", ".join(strange), "known": ", ".join(sorted(known))}  # fmt: skip
        roles = set(Contact.Role.values)
        unknown = [p for p in self.personas or [] if isinstance(p, str) and p not in roles]
        if unknown and "personas" not in errors:
            errors["personas"] = _("Unknown roles: %(roles)s. Choose from: %(known)s.") % {
                "roles": ", ".join(unknown), "known": ", ".join(sorted(roles))}  # fmt: skip
        if errors:
            raise ValidationError(errors)


class TalkTrackUse(models.Model):
    """A rep used the track on a deal or on a lead (one of the two): the deal's outcome, or the
    lead's (converted to a customer: won; disqualified: lost), ranks the track."""

    track = models.ForeignKey(TalkTrack, on_delete=models.CASCADE, related_name="uses")
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.CASCADE, related_name="talk_tracks")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="talk_tracks")
    used_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["track", "opportunity"], name="talk_track_used_once"),
            models.UniqueConstraint(fields=["track", "lead"], name="talk_track_used_once_on_lead"),
            models.CheckConstraint(
                condition=models.Q(opportunity__isnull=False, lead__isnull=True)
                | models.Q(opportunity__isnull=True, lead__isnull=False),
                name="talk_track_use_deal_or_lead",
            ),
        ]
