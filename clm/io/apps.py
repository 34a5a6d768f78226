from django.apps import AppConfig


class IoConfig(AppConfig):
    name = "clm.io"
    label = "io"
    verbose_name = "CLM import and export"
