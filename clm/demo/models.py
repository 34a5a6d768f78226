"""The demo company's ground truth. The simulator writes it; the application never reads it —
only tests and backtests compare what CLM inferred with what really happened."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from clm.customers.models import Account


class TrueState(models.Model):
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+")
    archetype = models.CharField(max_length=30)
    churn_date = models.DateField(null=True, blank=True)
    churn_cause = models.CharField(max_length=50, blank=True)
    returned_on = models.DateField(null=True, blank=True)
    dormant_since = models.DateField(null=True, blank=True)
    propensities = models.JSONField(default=dict, help_text="the latent rates the simulator drew")
    seed = models.BigIntegerField()

    class Meta:
        verbose_name = _("ground truth")
        verbose_name_plural = _("ground truth")
