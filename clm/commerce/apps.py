from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "clm.commerce"
    label = "commerce"

    def ready(self):
        from . import services  # noqa: F401  (registers the write rules)
