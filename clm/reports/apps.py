from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "clm.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self):
        from . import charts  # noqa: F401  (registers the dashboards' figures)
