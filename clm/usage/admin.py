from django.contrib import admin

from clm.usage.models import Feature, UsageDaily, UsageEvent, UsageFeatureDaily


@admin.register(UsageEvent)
class UsageEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "account", "event", "feature", "user_key")
    raw_id_fields = ("account", "contact")
    show_full_result_count = False


@admin.register(UsageDaily)
class UsageDailyAdmin(admin.ModelAdmin):
    list_display = ("day", "account", "events", "active_users", "minutes")
    raw_id_fields = ("account",)
    show_full_result_count = False


admin.site.register(Feature)
admin.site.register(UsageFeatureDaily, UsageDailyAdmin.__base__)
