from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SuccessConfig(AppConfig):
    name = "clm.success"
    label = "success"
    verbose_name = _("Customer success")

    def ready(self):
        from clm.success import listeners, plays  # noqa: F401  (they register on import)
