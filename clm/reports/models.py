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

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [models.UniqueConstraint(fields=["kpi", "period"], name="kpi_target_unique_period")]
        ordering = ["period", "kpi"]

    def __str__(self):
        return f"{self.kpi} {self.period}: {self.value}"
