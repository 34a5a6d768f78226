from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "clm.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self):
        from clm.automation import privacy

        privacy.register_parts()
