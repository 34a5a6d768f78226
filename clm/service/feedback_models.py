"""Feedback forms (客户建议反馈表单): the forms a company builds, the rules that route what arrives to
an owner or a team, and each submission with its status, due date and the reply that closes the
loop. Imported by clm.service.models, which is where Django finds them."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from clm.core.models import Team, Timestamped
from clm.customers.models import Account, Contact


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    CHOICE = "choice", _("Choice")
    MULTI_CHOICE = "multi_choice", _("Multiple choice")
    NUMBER = "number", _("Number")
    EMAIL = "email", _("Email")


class FeedbackForm(Timestamped):
    """A form: its fields as data ([{name, label, type, required, choices}]), who may fill it in,
    and who gets what no rule routes. A field named `category` or `product` is what rules read."""

    class Audience(models.TextChoices):
        PUBLIC = "public", _("Anyone with the link")
        SIGNED_IN = "signed_in", _("Signed-in users only")

    key = models.SlugField(_("key"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200)
    intro = models.TextField(_("introduction"), blank=True)
    audience = models.CharField(_("who may fill it in"), max_length=10, choices=Audience.choices, default=Audience.PUBLIC)
    fields = models.JSONField(_("fields"), default=list)
    active = models.BooleanField(_("active"), default=True)
    sla_days = models.PositiveSmallIntegerField(_("answer within (days)"), default=7)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("owner when no rule matches"),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("feedback form")
        verbose_name_plural = _("feedback forms")
        ordering = ["title", "id"]

    def __str__(self):
        return self.title


class FeedbackRule(models.Model):
    """Where a submission goes: the first rule (by position) whose every given criterion matches —
    the category, the product (the fields of those names) and a keyword anywhere in the text."""

    form = models.ForeignKey(
        FeedbackForm, null=True, blank=True, on_delete=models.CASCADE, related_name="rules",
        help_text="empty: every form",
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    category = models.CharField(_("category"), max_length=100, blank=True)
    product = models.CharField(_("product"), max_length=100, blank=True)
    keyword = models.CharField(_("keyword"), max_length=100, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("owner"))
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("team"))
    sla_days = models.PositiveSmallIntegerField(_("answer within (days)"), null=True, blank=True)

    class Meta:
        verbose_name = _("feedback rule")
        verbose_name_plural = _("feedback rules")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner__isnull=False) | models.Q(team__isnull=False), name="feedback_rule_routes"
            ),
        ]

    def __str__(self):
        return f"{self.category or '*'}/{self.product or '*'}/{self.keyword or '*'}"


class FeedbackSubmission(Timestamped):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        DECLINED = "declined", _("Declined")

    CLOSED = (Status.DONE, Status.DECLINED)

    form = models.ForeignKey(FeedbackForm, on_delete=models.PROTECT, related_name="submissions")
    values = models.JSONField(default=dict)
    category = models.CharField(_("category"), max_length=100, blank=True)
    product = models.CharField(_("product"), max_length=100, blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(max_length=10, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("owner"))
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("team"))
    rule = models.ForeignKey(FeedbackRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_at = models.DateTimeField(_("due"))
    reply = models.TextField(_("reply to the customer"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    replied_at = models.DateTimeField(_("reply sent"), null=True, blank=True)
    reply_problem = models.CharField(_("reply not sent because"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "due_at"]), models.Index(fields=["category", "created_at"])]

    def __str__(self):
        return f"{self.form_id}#{self.pk}"

    @classmethod
    def visible_to_restricted(cls, user, prefix: str = "") -> models.Q:
        """A restricted user sees the feedback of the accounts they see, and what is routed to
        them or to their team."""
        seen = Account.visible_to_restricted(user, f"{prefix}account__") | models.Q(**{f"{prefix}owner": user})
        if user.team_id:
            seen |= models.Q(**{f"{prefix}team_id": user.team_id})
        return seen

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED
