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
