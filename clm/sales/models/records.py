"""Leads through the MAL/MQL/SQL funnel, deals in their pipelines with their stage history,
marketing spend per channel and month (for CAC), and form submissions."""


from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.core.models import Imported, Timestamped
from clm.customers.models import Account, Contact


class Lead(Imported, Timestamped):
    class Status(models.TextChoices):
        MAL = "mal", _("MAL")  # marketing accepted
        MQL = "mql", _("MQL")  # marketing qualified
        SQL = "sql", _("SQL")  # sales qualified
        OPPORTUNITY = "opportunity", _("Opportunity")  # converted to an account with an open deal
        CONVERTED = "converted", _("Customer")  # the deal was won
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
    opportunity_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    disqualified_at = models.DateTimeField(null=True, blank=True)
    disqualify_reason = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    # Firmographics, for the ICP rules and the lookalike model (copied to the account on conversion).
    domain = models.CharField(_("domain"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=50, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue = models.DecimalField(_("annual revenue"), max_digits=16, decimal_places=2, null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    custom = models.JSONField(_("custom attributes"), default=dict, blank=True)
    actions = models.JSONField(default=list, blank=True, help_text="explicit actions done, e.g. demo_requested")

    # Filled by the scoring (clm.sales.scoring): what the numbers were made of is kept beside them.
    icp = models.ForeignKey("ICP", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    icp_score = models.FloatField(null=True, blank=True, help_text="the best ICP's rule score, 0-100")
    icp_rules = models.JSONField(default=list, blank=True, help_text="[rule index held] of the best ICP")
    fit_score = models.FloatField(null=True, blank=True, help_text="the lookalike model's score, 0-100")
    fit_reasons = models.JSONField(default=list, blank=True)
    engagement_score = models.FloatField(default=0)
    engagement_parts = models.JSONField(default=dict, blank=True, help_text="{activity kind: decayed points}")
    scored_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    touched_at = models.DateTimeField(null=True, blank=True, help_text="the owner's last work on the lead")

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [Imported.external_key_constraint("lead")]
        indexes = [models.Index(fields=["owner", "status"], name="lead_owner_status")]

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

    class ForecastCategory(models.TextChoices):
        """The owner's call on an open deal for the forecast (Salesforce's forecast categories)."""

        COMMIT = "commit", _("Commit")
        BEST_CASE = "best_case", _("Best case")
        PIPELINE = "pipeline", _("Pipeline")
        OMITTED = "omitted", _("Omitted")

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
    forecast_category = models.CharField(
        _("forecast category"), max_length=10, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE,
        help_text=_("The owner's call: commit, best case, pipeline or omitted from the forecast."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("opportunity")
        constraints = [Imported.external_key_constraint("opportunity")]
        indexes = [models.Index(fields=["closed_on"])]  # the win rate reads a period's closed deals
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


class ForecastCallChange(models.Model):
    """An owner's forecast call on a deal changed: who, when, from which category to which."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="forecast_history")
    from_category = models.CharField(max_length=10, blank=True, choices=Opportunity.ForecastCategory.choices)
    to_category = models.CharField(max_length=10, choices=Opportunity.ForecastCategory.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    via = models.CharField(max_length=20, blank=True)

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
