from django.apps import AppConfig


class ValueConfig(AppConfig):
    name = "clm.value"
    label = "value"
    verbose_name = "Value"
