from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from .models import KpiTarget


class KpiTargetForm(forms.ModelForm):
    class Meta:
        model = KpiTarget
        fields = ("kpi", "period", "value")

    def clean(self):
        from . import services  # here: the KPI catalogue reads frames (pandas), the admin's start-up need not

        data = super().clean()
        try:
            services.check_target(data.get("kpi"), data.get("period"), data.get("value"))
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field, messages)
        return data


@admin.register(KpiTarget)
class KpiTargetAdmin(admin.ModelAdmin):
    form = KpiTargetForm
    list_display = ("kpi", "period", "value", "set_by", "set_at")
    list_filter = ("period",)
    search_fields = ("kpi", "period")

    def save_model(self, request, obj, form, change):
        from . import services

        # through the one service: checked, audited, managers only
        saved = services.set_target(request.user, obj.kpi, obj.period, obj.value, via="admin")
        obj.pk, obj.set_by, obj.set_at = saved.pk, saved.set_by, saved.set_at
