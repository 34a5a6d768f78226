"""Win-back (seed 002's four steps 识别流失预警信号 → 分析流失根本原因 → 制定个性化挽回方案 →
执行并评估效果): the library of offers a plan is chosen from, and the win-back record that carries
a win-back case through the steps, with the values behind each one."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clm.automation.models.work import Case, RootCause, _visibility
from clm.customers.models import Account

__all__ = ["WinBackOffer", "WinBack"]


def _localised(en: str, zh: str) -> str:
    from django.utils.translation import get_language

    return zh if (get_language() or "").lower().startswith("zh") and zh else en


class WinBackOffer(models.Model):
    """One offer of the library (data an administrator keeps): which root causes it answers, the
    tasks that carry it out, and for a discount, the limit up to which no approval is needed."""

    class Kind(models.TextChoices):
        TRAINING = "training", pgettext_lazy("win-back offer", "Training")
        SERVICE_REVIEW = "service_review", pgettext_lazy("win-back offer", "Service review")
        DISCOUNT = "discount", pgettext_lazy("win-back offer", "Discount")
        ROADMAP_CALL = "roadmap_call", pgettext_lazy("win-back offer", "Product roadmap call")
        OTHER = "other", pgettext_lazy("win-back offer", "Other")

    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    causes = models.ManyToManyField(RootCause, related_name="winback_offers", blank=True)
    # [{"en": "...", "zh": "...", "days": 7}, ...]: the tasks the plan creates, due after `days`
    tasks = models.JSONField(default=list, blank=True)
    approval_limit_percent = models.DecimalField(
        _("discount without approval up to (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    max_percent = models.DecimalField(_("largest discount (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "code"]
        verbose_name, verbose_name_plural = _("Win-back offer"), _("Win-back offers")

    def __str__(self):
        return self.name_en

    def label(self) -> str:
        return _localised(self.name_en, self.name_zh)


class WinBack(models.Model):
    """A win-back case's steps: the signal that opened it and the values it saw; the root cause
    with a note; the plan (an offer, a discount and who approved it); the evaluation at a set date
    (retained, renewed or churned) with the ARR at stake and the ARR won back."""

    class Step(models.TextChoices):
        SIGNAL = "signal", _("Warning signal identified")
        CAUSE = "cause", _("Root cause analysed")
        PLAN = "plan", _("Plan being carried out")
        EVALUATED = "evaluated", _("Evaluated")

    class Result(models.TextChoices):
        RETAINED = "retained", pgettext_lazy("win-back result", "Retained")
        RENEWED = "renewed", pgettext_lazy("win-back result", "Renewed")
        CHURNED = "churned", pgettext_lazy("win-back result", "Churned")

    WON = (Result.RETAINED, Result.RENEWED)

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="winback")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="winbacks")
    step = models.CharField(_("step"), max_length=10, choices=Step.choices, default=Step.SIGNAL)
    signal_kind = models.CharField(_("signal"), max_length=60)
    signal_values = models.JSONField(default=dict, blank=True)
    arr_at_risk = models.DecimalField(_("ARR at stake"), max_digits=16, decimal_places=2, default=0)
    cause = models.ForeignKey(RootCause, null=True, blank=True, on_delete=models.PROTECT, related_name="winbacks")
    cause_note = models.TextField(_("root-cause note"), blank=True)
    cause_at = models.DateTimeField(null=True, blank=True)
    offer = models.ForeignKey(WinBackOffer, null=True, blank=True, on_delete=models.PROTECT, related_name="winbacks")
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan_note = models.TextField(_("plan note"), blank=True)
    planned_at = models.DateTimeField(null=True, blank=True)
    evaluate_on = models.DateField(_("evaluate on"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices, blank=True)
    result_note = models.TextField(_("evaluation note"), blank=True)
    arr_won_back = models.DecimalField(_("ARR won back"), max_digits=16, decimal_places=2, default=0)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name, verbose_name_plural = _("Win-back"), _("Win-backs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["step", "evaluate_on"], name="winback_step_due")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(step="evaluated") | ~models.Q(result=""), name="winback_evaluated_has_result"
            ),
        ]

    def __str__(self):
        return f"{self.account_id}: {self.signal_kind} ({self.step})"

    @property
    def won(self) -> bool:
        return self.result in self.WON

    @classmethod
    def visibility_for(cls, user, prefix: str = ""):
        """Those of accounts the user may see, and those of the cases the user owns."""
        return _visibility(user, prefix, "case__owner")
