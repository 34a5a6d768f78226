from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "clm.sales"
    label = "sales"

    def ready(self):
        from . import pipelines, services  # noqa: F401  (register the write rules)
