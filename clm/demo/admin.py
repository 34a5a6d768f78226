from django.contrib import admin

from clm.demo.models import TrueState


@admin.register(TrueState)
class TrueStateAdmin(admin.ModelAdmin):
    list_display = ("account", "archetype", "churn_date", "churn_cause", "returned_on")
    list_filter = ("archetype", "churn_cause")
    raw_id_fields = ("account",)
