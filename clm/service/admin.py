from django.contrib import admin

from clm.core.admin import AuditedAdmin
from clm.service.models import SurveyResponse, Ticket


@admin.register(Ticket)
class TicketAdmin(AuditedAdmin):
    list_display = ("subject", "account", "priority", "status", "opened_at", "resolved_at", "csat")
    list_filter = ("priority", "status", "category")
    raw_id_fields = ("account", "contact")


@admin.register(SurveyResponse)
class SurveyResponseAdmin(AuditedAdmin):
    list_display = ("account", "kind", "score", "responded_at")
    list_filter = ("kind",)
    raw_id_fields = ("account", "contact")
