from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "clm.usage"
    label = "usage"
