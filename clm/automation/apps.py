from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "clm.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self):
        # Listeners on the domain events and the step types register themselves on import.
        from clm.automation import approvals, privacy, surveys, winback  # noqa: F401
        from clm.automation.playbooks import dispatch, steps  # noqa: F401

        privacy.register_parts()
