from django.contrib import admin

from clm.core.admin import AuditedAdmin
from clm.sales.models import ChannelSpend, Lead, Opportunity, OpportunityStageChange


@admin.register(Lead)
class LeadAdmin(AuditedAdmin):
    list_display = ("name", "company", "source_channel", "status", "mal_at", "owner")
    list_filter = ("status", "source_channel")
    raw_id_fields = ("account", "contact")


class StageInline(admin.TabularInline):
    model = OpportunityStageChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_stage", "to_stage", "changed_at", "changed_by")


@admin.register(Opportunity)
class OpportunityAdmin(AuditedAdmin):
    list_display = ("name", "account", "type", "stage", "amount", "expected_close")
    list_filter = ("type", "stage")
    raw_id_fields = ("account",)
    inlines = [StageInline]


@admin.register(ChannelSpend)
class ChannelSpendAdmin(AuditedAdmin):
    list_display = ("channel", "month", "amount")
