"""Targets per KPI and period, set by managers: the dashboard marks a KPI that misses its target."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class KpiTarget(models.Model):
    kpi = models.CharField(_("KPI"), max_length=50)
    period = models.CharField(_("period"), max_length=10, help_text="2026-11, 2026-Q4 or 2026")
    value = models.FloatField(_("target"))
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    set_at = models.DateTimeField(default=timezone.now)
    # when the owning team's managers were told the period missed it (clm.reports.notify): once
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [models.UniqueConstraint(fields=["kpi", "period"], name="kpi_target_unique_period")]
        ordering = ["period", "kpi"]

    def __str__(self):
        return f"{self.kpi} {self.period}: {self.value}"


class Snapshot(models.Model):
    """A stored result (clm.reports.snapshots): the KPI table of one period (kind "kpis") or one
    registered figure ("figure:<key>"), as JSON with the inputs behind it (numerators,
    denominators, the accounts behind each number), so that pages read it instead of recomputing
    a year of history per request. The whole company's are computed by the daily run; a
    segment's (``segment``: its filter, such as "industry=制造业") when a page first shows it."""

    as_of = models.DateField(_("as of"))
    period = models.CharField(_("period"), max_length=10)
    kind = models.CharField(_("kind"), max_length=60)
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    seconds = models.FloatField(_("seconds to compute"), default=0.0)
    segment = models.CharField(_("segment"), max_length=400, blank=True, default="")

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        constraints = [models.UniqueConstraint(fields=["as_of", "period", "kind", "segment"],
                                               name="snapshot_once_per_day_and_segment")]
        ordering = ["-as_of", "period", "kind"]

    def __str__(self):
        return f"{self.kind} {self.period} {self.segment} as of {self.as_of}".replace("  ", " ")


class KpiDigestSubscription(models.Model):
    """Whether a manager gets the weekly KPI digest (yes unless they opted out in Preferences), and
    the ISO week it last went out, so it is sent at most once a week."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kpi_digest")
    enabled = models.BooleanField(default=True)
    last_sent_week = models.CharField(max_length=8, blank=True)  # 2026-W49

    def __str__(self):
        return f"{self.user}: {'on' if self.enabled else 'off'}"
