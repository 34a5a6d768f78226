"""Support tickets and survey responses (NPS, CSAT)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from clm.core.models import Imported
from clm.customers.models import Account, Contact


class Ticket(Imported):
    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tickets")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    subject = models.CharField(max_length=300)
    category = models.CharField(max_length=50, blank=True, help_text="e.g. bug, question, complaint")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    csat = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1–5")

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            Imported.external_key_constraint("ticket"),
            models.CheckConstraint(condition=models.Q(csat__isnull=True) | models.Q(csat__range=(1, 5)), name="ticket_csat_1_5"),
        ]
        indexes = [models.Index(fields=["account", "opened_at"])]

    def __str__(self):
        return self.subject


class SurveyResponse(Imported):
    class Kind(models.TextChoices):
        NPS = "nps", _("NPS (0–10)")
        CSAT = "csat", _("CSAT (1–5)")

    SCALE = {Kind.NPS: (0, 10), Kind.CSAT: (1, 5)}

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_responses")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.NPS)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField()

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        constraints = [
            Imported.external_key_constraint("survey_response"),
            models.CheckConstraint(
                condition=(models.Q(kind="nps", score__lte=10) | models.Q(kind="csat", score__range=(1, 5))),
                name="survey_score_in_scale",
            ),
        ]
        indexes = [models.Index(fields=["account", "responded_at"])]
