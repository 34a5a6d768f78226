"""What the lifecycle engine keeps: its configuration (health models, stage rules, signal
definitions) as data, and its results with their reasons — daily health scores with each
component, stage transitions with the rule and values behind them, early-warning signals with
what they saw, churn models and their predictions, and a record of each run.

The analytics core (numpy, pandas, scikit-learn) is imported where a definition is parsed, not
here: `clm check`, `clm --help` and the admin's start-up load every model and need none of it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from clm.analytics import calendar
from clm.customers.models import Account, LifecycleStage, WarningLevel

if TYPE_CHECKING:
    from clm.analytics import health


class HealthModel(models.Model):
    """A health model as data (clm.analytics.health.HealthModel.from_dict). Models with a segment
    are tried in position order; the one without a segment is the default and comes last."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0, help_text="order in which segments are tried")
    definition = models.JSONField(help_text="components, weights, points, bands and segment")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("health model")
        verbose_name_plural = _("health models")
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    def parsed(self) -> health.HealthModel:
        """The model as the analytics core reads it; refuses (ValidationError) anything it cannot score."""
        from clm.analytics import health
        from clm.analytics.conditions import RuleError
        from clm.lifecycle.metrics import KINDS

        data = self.definition if isinstance(self.definition, dict) else {}
        try:
            model = health.HealthModel.from_dict({**data, "name": self.name})
            model.validate(KINDS)
        except RuleError as error:
            raise ValidationError({"definition": str(error)}) from None
        return model

    def clean(self):
        if not isinstance(self.definition, dict):
            raise ValidationError({"definition": "expected an object with components, bands and segment"})
        model = self.parsed()
        if model.segment is None:
            others = HealthModel.objects.exclude(pk=self.pk)
            if any(not (m.definition or {}).get("segment") for m in others):
                raise ValidationError(
                    {
                        "definition": "another model is already the default (no segment); give this one a segment"
                    }
                )


class RuleSet(models.Model):
    """The stage rules or the early-warning signal definitions, as data (one row of each kind)."""

    class Kind(models.TextChoices):
        STAGES = "stages", _("Lifecycle stage rules")
        SIGNALS = "signals", _("Early-warning signals")

    kind = models.CharField(max_length=10, choices=Kind.choices, unique=True)
    definition = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.get_kind_display()

    def parsed(self):
        """The stage rules or signal set as the analytics core reads them, checked against the metrics."""
        from clm.analytics import stages, warning
        from clm.analytics.conditions import RuleError
        from clm.lifecycle.metrics import KINDS

        parse = stages.StageRules.from_dict if self.kind == self.Kind.STAGES else warning.SignalSet.from_dict
        try:
            rules = parse(self.definition)
            rules.validate(KINDS)
        except RuleError as error:
            raise ValidationError({"definition": str(error)}) from None
        return rules

    def clean(self):
        if self.kind in self.Kind.values:
            self.parsed()

    class Meta:
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")


class Holiday(models.Model):
    """A day of the holiday calendar: a public holiday (a day off) or a weekend day declared a
    working day (调休上班). Usage baselines count working days only (clm.analytics.calendar);
    seeded with China's public holidays, edited by admins for other calendars or company days off."""

    class Kind(models.TextChoices):
        DAY_OFF = calendar.DAY_OFF, _("Day off")
        WORKDAY = calendar.WORKDAY, _("Make-up working day")

    day = models.DateField(_("day"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DAY_OFF)
    name = models.CharField(_("name"), max_length=100, help_text=_("the holiday, e.g. 春节 or 国庆节"))

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holiday calendar")
        ordering = ["day"]

    def __str__(self):
        return f"{self.day} {self.name} ({self.get_kind_display()})"

    @classmethod
    def working_days(cls, first: dt.date, last: dt.date) -> list[dt.date]:
        """The working days in [first, last] by the stored calendar."""
        rows = cls.objects.filter(day__gte=first, day__lte=last).values_list("day", "kind")
        days_off = [d for d, kind in rows if kind == cls.Kind.DAY_OFF]
        workdays = [d for d, kind in rows if kind == cls.Kind.WORKDAY]
        return calendar.working_days(first, last, days_off, workdays)


class HealthScore(models.Model):
    """An account's health on a day, with each component's score and contribution."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_scores")
    as_of = models.DateField()
    model = models.CharField(max_length=100)
    score = models.FloatField()
    score_int = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=10)
    coverage = models.FloatField(help_text="share of the model's weight that had data")
    components = models.JSONField(help_text="per component: weight, score, contribution, metric values")

    class Meta:
        verbose_name = _("health score")
        verbose_name_plural = _("health scores")
        constraints = [models.UniqueConstraint(fields=["account", "as_of"], name="health_score_once_a_day")]
        # covers what the dashboards read of a day (the band of each account): no row is fetched
        indexes = [models.Index(fields=["as_of", "band", "account"], name="health_score_day_band")]
        ordering = ["account", "as_of"]


class StageTransition(models.Model):
    """A change of lifecycle stage, with the rule that caused it and the values it read."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stage_transitions")
    date = models.DateField()
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    rule = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    values = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("stage transition")
        verbose_name_plural = _("stage transitions")
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="stage_transition_once_a_day")
        ]
        indexes = [models.Index(fields=["date"])]
        ordering = ["account", "date"]


class Signal(models.Model):
    """An early-warning signal: open while its condition holds; one open signal per kind and account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="signals")
    kind = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="the condition, with its parameters filled in")
    values = models.JSONField(default=dict, help_text="what it saw when it opened")
    last_values = models.JSONField(default=dict, help_text="what it saw on the latest run")
    opened_on = models.DateField()
    last_seen_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    close_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = _("early-warning signal")
        verbose_name_plural = _("early-warning signals")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=models.Q(closed_on__isnull=True),
                name="one_open_signal_per_kind",
            )
        ]
        indexes = [models.Index(fields=["opened_on"])]
        ordering = ["-opened_on", "id"]

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class AccountWarning(models.Model):
    """An account's warning level on a run's date (1 watch, 2 watch closely, 3 churn warning) with what it
    rests on: the signals firing, the risk signals confirmed, the churn risk and its threshold.
    Only accounts with a warning have a row; the account's current level is on the account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="warnings")
    as_of = models.DateField()
    level = models.PositiveSmallIntegerField(choices=WarningLevel.choices)
    evidence = models.JSONField(default=dict, help_text="firing, confirmed, churn_risk, threshold")

    class Meta:
        verbose_name = _("warning level")
        verbose_name_plural = _("warning levels")
        constraints = [models.UniqueConstraint(fields=["account", "as_of"], name="warning_once_a_day")]
        indexes = [models.Index(fields=["as_of"])]
        ordering = ["account", "as_of"]


class ChurnModel(models.Model):
    """A trained churn model (clm.analytics.churn.ChurnModel, stored as bytes) and its validation."""

    version = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=30)
    trained_at = models.DateTimeField()
    horizon_days = models.PositiveSmallIntegerField()
    metadata = models.JSONField(help_text="training and validation windows, features, scores")
    payload = models.BinaryField()
    active = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("churn model")
        verbose_name_plural = _("churn models")
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="one_active_churn_model"
            )
        ]
        ordering = ["-trained_at"]

    def __str__(self):
        return self.version


class ChurnPrediction(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="churn_predictions")
    as_of = models.DateField()
    model = models.ForeignKey(ChurnModel, on_delete=models.CASCADE, related_name="predictions")
    probability = models.FloatField()
    factors = models.JSONField(default=list, help_text="the top factors raising the risk, in words")

    class Meta:
        verbose_name = _("churn prediction")
        verbose_name_plural = _("churn predictions")
        constraints = [
            models.UniqueConstraint(fields=["account", "as_of"], name="churn_prediction_once_a_day")
        ]
        ordering = ["account", "as_of"]


class Run(models.Model):
    """One daily run: when, for which date, how it went, and its summary."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    as_of = models.DateField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    summary = models.JSONField(default=dict)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("lifecycle run")
        verbose_name_plural = _("lifecycle runs")
        ordering = ["-started_at"]


class BacktestResult(models.Model):
    """One backtest as `clm backtest` reported it (Backtest.to_dict): the early-warning quality
    the dashboards chart — recall, precision, lead times, the churn model's calibration."""

    ran_at = models.DateTimeField(auto_now_add=True)
    start = models.DateField()
    end = models.DateField()
    step_days = models.PositiveSmallIntegerField()
    min_lead_days = models.PositiveSmallIntegerField()
    horizon_days = models.PositiveSmallIntegerField()
    report = models.JSONField(help_text="the backtest's report, as `clm backtest --json` prints it")

    class Meta:
        verbose_name = _("backtest result")
        verbose_name_plural = _("backtest results")
        ordering = ["-ran_at", "-id"]

    def __str__(self):
        return f"{self.start} – {self.end}"
