from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "clm.customers"
    label = "customers"

    def ready(self):
        from . import services  # noqa: F401  (registers the write rules)
