from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "clm.sales"
    label = "sales"

    def ready(self):
        from . import conversion, funnel, pipelines, services  # noqa: F401  (registers the write rules and listeners)
