from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "clm.service"
    label = "service"

    def ready(self):
        from . import services  # noqa: F401  (registers the write rules)
