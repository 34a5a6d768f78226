from django.contrib import admin

from .models import KpiTarget


@admin.register(KpiTarget)
class KpiTargetAdmin(admin.ModelAdmin):
    list_display = ("kpi", "period", "value", "set_by", "set_at")
    list_filter = ("period",)
    search_fields = ("kpi", "period")
    readonly_fields = ("set_by", "set_at")

    def save_model(self, request, obj, form, change):
        # through the one service: checked, audited, managers only
        from .services import set_target

        saved = set_target(request.user, obj.kpi, obj.period, obj.value, via="admin")
        obj.pk, obj.set_by, obj.set_at = saved.pk, saved.set_by, saved.set_at
