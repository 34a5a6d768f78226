from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "clm.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self):
        # the dashboards' figures, and the daily run's listener that stores them as snapshots, register on import
        from clm.reports import charts, overview, snapshots  # noqa: F401
