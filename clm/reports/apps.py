from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "clm.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self):
        # the daily run's listener that stores the snapshots registers itself on import
        from clm.reports import overview, snapshots  # noqa: F401
