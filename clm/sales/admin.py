from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from clm.core.admin import AuditedAdmin
from clm.sales import pipelines
from clm.sales.models import (
    ApprovalRule,
    ChannelSpend,
    Lead,
    Opportunity,
    OpportunityStageChange,
    Pipeline,
    PipelineStage,
    TalkTrack,
)


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


class PipelineStagesFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [
            {"key": f.cleaned_data["key"], "order": f.cleaned_data["order"]}
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("key")
        ]
        try:
            pipelines.check_stages(kept, self.instance)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


class PipelineStageInline(admin.TabularInline):
    model = PipelineStage
    formset = PipelineStagesFormSet
    extra = 0
    fields = ("order", "key", "name", "probability", "required_fields")


@admin.register(Pipeline)
class PipelineAdmin(AuditedAdmin):
    list_display = ("label", "key", "type", "is_default", "active")
    list_filter = ("type", "active")
    inlines = [PipelineStageInline]


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(AuditedAdmin):
    list_display = ("name", "above_discount", "up_to_discount", "from_total", "approver", "approver_role", "active")
    list_filter = ("active",)


@admin.register(TalkTrack)
class TalkTrackAdmin(AuditedAdmin):
    list_display = ("title", "kind", "active")
    list_filter = ("kind", "active")
    search_fields = ("title", "body")
    filter_horizontal = ("products",)
