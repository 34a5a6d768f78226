from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "clm.usage"
    label = "usage"

    def ready(self):
        from . import services  # noqa: F401  (registers the after-save hooks)
