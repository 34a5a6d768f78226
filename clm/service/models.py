"""Support tickets, survey responses (NPS, CSAT, CES), the surveys CLM sends and their one-time
invitations; feedback forms and their submissions are in clm.service.feedback_models."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clm.core.models import Imported, Timestamped
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
        CES = "ces", _("CES (1–7)")

    SCALE = {Kind.NPS: (0, 10), Kind.CSAT: (1, 5), Kind.CES: (1, 7)}

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_responses")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.NPS)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField()
    survey = models.ForeignKey(
        "service.Survey", null=True, blank=True, on_delete=models.SET_NULL, related_name="responses"
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        constraints = [
            Imported.external_key_constraint("survey_response"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="nps", score__lte=10)
                    | models.Q(kind="csat", score__range=(1, 5))
                    | models.Q(kind="ces", score__range=(1, 7))
                ),
                name="survey_score_in_scale",
            ),
        ]
        indexes = [models.Index(fields=["account", "responded_at"])]


class Survey(Timestamped):
    """An NPS, CSAT or CES survey CLM sends: its question in both languages, whom a relationship
    survey goes to (decision-chain roles) or that it follows a closed ticket (transactional), how
    long a link works and when the one reminder goes."""

    class Purpose(models.TextChoices):
        RELATIONSHIP = "relationship", _("Relationship (to the decision chain)")
        TRANSACTIONAL = "transactional", _("Transactional (after a ticket closes)")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=5, choices=SurveyResponse.Kind.choices)
    purpose = models.CharField(_("purpose"), max_length=15, choices=Purpose.choices, default=Purpose.RELATIONSHIP)
    question_zh = models.CharField(_("question (Chinese)"), max_length=500)
    question_en = models.CharField(_("question (English)"), max_length=500)
    roles = models.JSONField(_("roles"), default=list, blank=True, help_text="decision-chain roles; empty: every contact")
    valid_days = models.PositiveSmallIntegerField(_("link valid for (days)"), default=14)
    reminder_days = models.PositiveSmallIntegerField(
        _("remind after (days)"), default=3, help_text="0: no reminder"
    )
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(valid_days__gte=1), name="survey_valid_at_least_a_day"),
        ]

    def __str__(self):
        return self.name

    def question(self, language: str) -> str:
        return self.question_zh if (language or "").lower().startswith("zh") else self.question_en

    @property
    def scale(self) -> tuple[int, int]:
        return SurveyResponse.SCALE[self.kind]


class SurveyInvitation(models.Model):
    """One contact asked to answer one survey, by email or by a link handed over. The link's token
    is never stored: only its SHA-256 (token_hash) and the random salt it is derived from with the
    server's secret, so a reminder can carry the same link and a copy of the database cannot."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        LINK = "link", _("Link")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_invitations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="survey_invitations")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices)
    salt = models.CharField(max_length=32, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivery_problem = models.CharField(_("not delivered because"), max_length=300, blank=True)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    response = models.OneToOneField(
        SurveyResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["survey", "answered_at"]), models.Index(fields=["contact", "survey"])]


from clm.service.feedback_models import FeedbackForm, FeedbackRule, FeedbackSubmission  # noqa: E402

__all__ = [
    "FeedbackForm", "FeedbackRule", "FeedbackSubmission", "Survey", "SurveyInvitation", "SurveyResponse", "Ticket",
]
