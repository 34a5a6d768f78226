from django.contrib import admin

from clm.core.admin import AuditedAdmin
from clm.service.models import FeedbackForm, FeedbackSubmission, Survey, SurveyResponse, Ticket


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


@admin.register(Survey)
class SurveyAdmin(AuditedAdmin):
    list_display = ("name", "kind", "purpose", "valid_days", "reminder_days", "active")
    list_filter = ("kind", "purpose", "active")


@admin.register(FeedbackForm)
class FeedbackFormAdmin(AuditedAdmin):
    list_display = ("title", "key", "audience", "sla_days", "active")
    list_filter = ("audience", "active")


@admin.register(FeedbackSubmission)
class FeedbackSubmissionAdmin(AuditedAdmin):
    list_display = ("form", "category", "account", "status", "owner", "team", "due_at", "created_at")
    list_filter = ("status", "form", "category")
    raw_id_fields = ("account", "contact", "owner", "submitted_by", "rule")
