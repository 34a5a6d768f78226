from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "clm.demo"
    label = "demo"
