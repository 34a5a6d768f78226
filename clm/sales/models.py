"""The minimal sales entities: leads through the MAL/MQL/SQL funnel, opportunities with their
stage history, and marketing spend per channel and month (for CAC)."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.core.models import Imported, Role, Timestamped
from clm.customers.models import Account, Contact


class Lead(Imported, Timestamped):
    class Status(models.TextChoices):
        MAL = "mal", _("MAL")  # marketing accepted
        MQL = "mql", _("MQL")  # marketing qualified
        SQL = "sql", _("SQL")  # sales qualified
        CONVERTED = "converted", _("Converted")
        DISQUALIFIED = "disqualified", _("Disqualified")

    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=100, blank=True)
    company = models.CharField(_("company"), max_length=200)
    source_channel = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.MAL, db_index=True)
    mal_at = models.DateTimeField(default=timezone.now)
    mql_at = models.DateTimeField(null=True, blank=True)
    sql_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    disqualified_at = models.DateTimeField(null=True, blank=True)
    disqualify_reason = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [Imported.external_key_constraint("lead")]

    def __str__(self):
        return f"{self.name} ({self.company})"

    @classmethod
    def visible_to_restricted(cls, user, prefix: str = "") -> models.Q:
        """Before conversion a lead has no account, so a restricted user sees, besides the leads of
        visible accounts, the leads they or their team own and the pool of unassigned leads."""
        owned = models.Q(**{f"{prefix}owner": user})
        if user.team_id:
            owned |= models.Q(**{f"{prefix}owner__team_id": user.team_id})
        pool = models.Q(**{f"{prefix}account__isnull": True, f"{prefix}owner__isnull": True})
        return Account.visible_to_restricted(user, f"{prefix}account__") | owned | pool


class Opportunity(Imported, Timestamped):
    class Type(models.TextChoices):
        NEW = "new", _("New business")
        EXPANSION = "expansion", _("Expansion")
        RENEWAL = "renewal", _("Renewal")

    class Stage(models.TextChoices):
        QUALIFY = "qualify", _("Qualify")
        DISCOVERY = "discovery", _("Discovery")
        PROPOSAL = "proposal", _("Proposal")
        NEGOTIATION = "negotiation", _("Negotiation")
        WON = "won", _("Closed won")
        LOST = "lost", _("Closed lost")

    CLOSED = (Stage.WON, Stage.LOST)
    STAGE_LABELS = dict(Stage.choices)  # the built-in stages; a pipeline may name its own

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.NEW)
    pipeline = models.ForeignKey(
        "Pipeline", null=True, blank=True, on_delete=models.PROTECT, related_name="opportunities",
        help_text=_("Blank: the default pipeline of the deal's type."),
    )  # fmt: skip
    stage = models.CharField(max_length=15, default=Stage.QUALIFY, db_index=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    expected_close = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    lost_reason = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("opportunity")
        constraints = [Imported.external_key_constraint("opportunity")]
        verbose_name_plural = _("opportunities")

    def __str__(self):
        return self.name

    def clean(self):
        """The stage must be one of the pipeline's, and the deal must hold every field its stage
        (and, unless it is lost, each stage before it) requires."""
        if self.pipeline_id is None:
            self.pipeline = Pipeline.objects.filter(type=self.type, is_default=True).first()
        pipeline = self.pipeline
        if pipeline is None:
            return  # no pipelines configured: the built-in stages stand alone
        stages = list(pipeline.stages.all())
        current = next((s for s in stages if s.key == self.stage), None)
        if current is None:
            raise ValidationError({"stage": _("“%(stage)s” is not a stage of the pipeline “%(pipeline)s”; its stages are: %(stages)s.") % {
                "stage": self.stage, "pipeline": pipeline.label, "stages": ", ".join(s.key for s in stages),
            }})  # fmt: skip
        if current.key == PipelineStage.LOST:
            passed = [current]
        else:
            passed = [s for s in stages if s.order <= current.order and s.key != PipelineStage.LOST]
        missing = {}
        for stage in passed:
            for field in stage.required_fields:
                value = getattr(self, f"{field}_id" if field == "owner" else field)
                if value in (None, "") or (field == "amount" and not value):
                    message = _("Required to enter the stage “%(stage)s”.") % {"stage": stage.label}
                    missing.setdefault(field, message)
        if missing:
            raise ValidationError(missing)

    @property
    def stage_label(self) -> str:
        return self.label_of(self.stage)

    def label_of(self, key: str) -> str:
        """A stage's name in the deal's pipeline (a built-in stage's translated name otherwise)."""
        for stage in self.pipeline.stages.all() if self.pipeline_id else ():
            if stage.key == key:
                return stage.label
        return str(self.STAGE_LABELS.get(key, key))


class Pipeline(models.Model):
    """A sales process for one kind of deal (new business, renewal, expansion): its stages in order,
    each with the probability that a deal there is won and the fields a deal needs to enter it.
    Every pipeline ends in the stages ``won`` and ``lost``, which the analytics read."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True, help_text=_("Blank: the built-in name."))
    type = models.CharField(_("deal type"), max_length=10, choices=Opportunity.Type.choices, default="new")
    is_default = models.BooleanField(_("default for its deal type"), default=False)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["type"], condition=models.Q(is_default=True), name="pipeline_one_default_per_type"
            )
        ]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return self.name or str(BUILT_IN_PIPELINES.get(self.key, self.key))


BUILT_IN_PIPELINES = {
    "new-business": _("New business"),
    "renewal": _("Renewal"),
    "expansion": _("Expansion"),
}


class PipelineStage(models.Model):
    WON, LOST = "won", "lost"
    REQUIRABLE = {
        "amount": _("amount"),
        "expected_close": _("expected close date"),
        "owner": _("owner"),
        "lost_reason": _("lost reason"),
    }

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    key = models.SlugField(_("key"), max_length=15)
    name = models.CharField(_("name"), max_length=100, blank=True, help_text=_("Blank: the built-in name."))
    order = models.PositiveSmallIntegerField(_("order"))
    probability = models.PositiveSmallIntegerField(
        _("probability of winning (%)"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    required_fields = models.JSONField(
        _("fields required to enter"), default=list, blank=True,
        help_text=_("Any of: amount, expected_close, owner, lost_reason."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("pipeline stage")
        verbose_name_plural = _("pipeline stages")
        ordering = ["pipeline", "order"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "key"], name="pipeline_stage_unique_key")]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return self.name or str(Opportunity.STAGE_LABELS.get(self.key, self.key))

    @property
    def is_closed(self) -> bool:
        return self.key in (self.WON, self.LOST)

    @property
    def required_labels(self) -> list[str]:
        return [str(self.REQUIRABLE.get(f, f)) for f in self.required_fields or []]

    def clean(self):
        unknown = [f for f in self.required_fields or [] if f not in self.REQUIRABLE]
        if not isinstance(self.required_fields, list) or unknown:
            raise ValidationError({"required_fields": _("Unknown fields: %(fields)s. Choose from: %(known)s.") % {
                "fields": ", ".join(map(str, unknown)) or str(self.required_fields),
                "known": ", ".join(self.REQUIRABLE),
            }})  # fmt: skip


class OpportunityStageChange(models.Model):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_history")
    from_stage = models.CharField(max_length=15, blank=True)
    to_stage = models.CharField(max_length=15)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["changed_at", "id"]


class ChannelSpend(models.Model):
    """Marketing and sales spend for one acquisition channel in one month (the CAC numerator)."""

    channel = models.CharField(max_length=50)
    month = models.DateField(help_text="first day of the month")
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("channel spend")
        verbose_name_plural = _("channel spend")
        constraints = [
            models.UniqueConstraint(fields=["channel", "month"], name="channel_spend_unique_month"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="channel_spend_not_negative"),
        ]
        ordering = ["month", "channel"]

    def __str__(self):
        return f"{self.channel} {self.month:%Y-%m}"


class FormSubmission(models.Model):
    """A form a contact or a lead filled in (a web form, a landing page, an event sign-up), found by
    email or external id; playbooks can be triggered by it (the form.submitted event)."""

    form = models.CharField(_("form"), max_length=100, db_index=True, help_text="the form's key")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="form_submissions"
    )
    email = models.EmailField(blank=True)
    fields = models.JSONField(default=dict, help_text="{field name: value}")
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("form submission")
        verbose_name_plural = _("form submissions")
        ordering = ["-submitted_at", "-id"]

    def __str__(self):
        return f"{self.form} {self.submitted_at:%Y-%m-%d %H:%M}"


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
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    sent_at = models.DateTimeField(null=True, blank=True)
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
        validators=[MinValueValidator(0), MaxValueValidator(1)], help_text=_("0.15 for 15% off."),
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
    stages = models.JSONField(_("deal stages"), default=list, blank=True, help_text=_("Stage keys; empty: any."))
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
        roles = set(Contact.Role.values)
        unknown = [p for p in self.personas or [] if isinstance(p, str) and p not in roles]
        if unknown and "personas" not in errors:
            errors["personas"] = _("Unknown roles: %(roles)s. Choose from: %(known)s.") % {
                "roles": ", ".join(unknown), "known": ", ".join(sorted(roles))}  # fmt: skip
        if errors:
            raise ValidationError(errors)


class TalkTrackUse(models.Model):
    track = models.ForeignKey(TalkTrack, on_delete=models.CASCADE, related_name="uses")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="talk_tracks")
    used_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["track", "opportunity"], name="talk_track_used_once")]
