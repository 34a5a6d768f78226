from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "clm.core"
    label = "core"
    verbose_name = "CLM core"

    def ready(self):
        from clm.core import signals  # noqa: F401  (roles are created after migrate)
