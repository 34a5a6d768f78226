"""The minimal sales entities: leads through the MAL/MQL/SQL funnel, opportunities with their
stage history, and marketing spend per channel and month (for CAC)."""

from django.conf import settings
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

    CLOSED = (Stage.WON, Stage.LOST)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.NEW)
    stage = models.CharField(max_length=15, choices=Stage.choices, default=Stage.QUALIFY, db_index=True)
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


class OpportunityStageChange(models.Model):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_history")
    from_stage = models.CharField(max_length=15, choices=Opportunity.Stage.choices, blank=True)
    to_stage = models.CharField(max_length=15, choices=Opportunity.Stage.choices)
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


# -- ICP, fit and the funnel's settings ------------------------------------------------------------


class ICP(Timestamped):
    """An ideal customer profile (理想客户画像): weighted rules over firmographics, as data
    (clm.analytics.fit.check_rules says what a rule may be); several, e.g. one per product line."""

    key = models.SlugField(max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    product_line = models.CharField(_("product line"), max_length=100, blank=True)
    rules = models.JSONField(_("rules"), default=list, help_text='[{"field", "op", "value", "weight"}]')
    match_at = models.PositiveSmallIntegerField(_("match at score"), default=70)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ideal customer profile")
        verbose_name_plural = _("ideal customer profiles")
        ordering = ["key"]

    def __str__(self):
        return self.name


class LeadScoring(models.Model):
    """The funnel's settings, one row: engagement points and their half-life, each stage's entry
    criteria, and when an untouched lead goes back to assignment."""

    half_life_days = models.PositiveSmallIntegerField(_("engagement half-life (days)"), default=30)
    points = models.JSONField(
        _("points per activity"),
        default=dict,
        help_text='{"email_open": 2, "email_click": 5, "form": 15, "web": 3, "product": 8, "meeting": 20}',
    )
    criteria = models.JSONField(
        _("stage entry criteria"),
        default=dict,
        help_text='{"mql": {"min_fit": 40, "min_engagement": 20}, "sql": {..., "actions": ["demo_requested"]}}',
    )
    stale_days = models.PositiveSmallIntegerField(_("reassign when untouched for (days)"), default=7)

    class Meta:
        verbose_name = _("lead scoring")
        verbose_name_plural = _("lead scoring")

    def __str__(self):
        return str(_("Lead scoring"))


class AssignmentRule(models.Model):
    """Who gets new leads: rules in order, the first that matches and has a rep with room wins."""

    class Kind(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        TERRITORY = "territory", _("By territory (region)")
        INDUSTRY = "industry", _("By industry")
        ICP = "icp", _("By ICP")

    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    values = models.JSONField(_("matching values"), default=list, blank=True, help_text="regions, industries or ICP keys")
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="lead_rules", verbose_name=_("reps"))
    capacity = models.PositiveIntegerField(_("open leads per rep at most"), default=50)
    last_rep = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class LeadActivity(models.Model):
    """Engagement: an email opened or clicked, a form filled, a web or product event, a meeting."""

    class Kind(models.TextChoices):
        EMAIL_OPEN = "email_open", _("Email opened")
        EMAIL_CLICK = "email_click", _("Email link clicked")
        FORM = "form", _("Form submitted")
        WEB = "web", _("Web visit")
        PRODUCT = "product", _("Product event")
        MEETING = "meeting", _("Meeting")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True, help_text="the form, page, event or email")
    at = models.DateTimeField(default=timezone.now)
    key = models.CharField(max_length=200, blank=True, help_text="the sender's idempotency key")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "at"], name="lead_activity_at")]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=~models.Q(key=""), name="lead_activity_key")
        ]


class LeadStageChange(models.Model):
    """Every move of a lead through the funnel: who, when, from, to, and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_history")
    from_status = models.CharField(max_length=15, choices=Lead.Status.choices, blank=True)
    to_status = models.CharField(max_length=15, choices=Lead.Status.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=300, blank=True)
    criteria = models.JSONField(default=dict, blank=True, help_text="the scores seen, for automatic moves")

    class Meta:
        ordering = ["changed_at", "id"]


class FitModel(models.Model):
    """A trained lookalike model with its held-out report (the model's and the rules' AUC, lift)."""

    trained_at = models.DateTimeField(default=timezone.now)
    as_of = models.DateField()
    report = models.JSONField(default=dict)
    blob = models.BinaryField()

    class Meta:
        ordering = ["-trained_at", "-id"]


class AccountFit(models.Model):
    """An account's fit: the rules' best ICP and score and the lookalike's score with reasons."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="fit")
    icp = models.ForeignKey(ICP, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    icp_score = models.FloatField(null=True, blank=True)
    icp_rules = models.JSONField(default=list, blank=True)
    fit_score = models.FloatField(null=True, blank=True)
    fit_reasons = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField(default=timezone.now)
