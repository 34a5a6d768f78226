from django.apps import AppConfig


class ValueConfig(AppConfig):
    name = "clm.value"
    label = "value"
    verbose_name = "Value"

    def ready(self):
        # the referral listener (a web form sent with a referral code) registers itself on import
        from clm.value.services import referrals  # noqa: F401
