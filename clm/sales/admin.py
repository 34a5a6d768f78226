from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from clm.core.admin import AuditedAdmin
from clm.sales import pipelines
from clm.sales.models import (
    ICP,
    ApprovalRule,
    AssignmentRule,
    ChannelSpend,
    Lead,
    LeadScoring,
    LeadStageChange,
    Opportunity,
    OpportunityStageChange,
    Pipeline,
    PipelineStage,
    TalkTrack,
)


class LeadStageInline(admin.TabularInline):
    model = LeadStageChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "changed_at", "changed_by", "reason")
    exclude = ("criteria",)


@admin.register(Lead)
class LeadAdmin(AuditedAdmin):
    list_display = ("name", "company", "source_channel", "status", "fit_score", "icp_score", "engagement_score", "owner")
    list_filter = ("status", "source_channel", "icp")
    raw_id_fields = ("account", "contact")
    readonly_fields = ("icp", "icp_score", "icp_rules", "fit_score", "fit_reasons", "engagement_score",
                       "engagement_parts", "scored_at")
    inlines = [LeadStageInline]


@admin.register(ICP)
class ICPAdmin(AuditedAdmin):
    list_display = ("name", "key", "product_line", "match_at", "active")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        def clean_rules(self):
            from django import forms

            from clm.sales.reports import rule_problems

            problems = rule_problems(self.cleaned_data.get("rules"))
            if problems:
                raise forms.ValidationError(problems)
            return self.cleaned_data["rules"]

        form.clean_rules = clean_rules
        return form


@admin.register(LeadScoring)
class LeadScoringAdmin(AuditedAdmin):
    list_display = ("__str__", "half_life_days", "stale_days")


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(AuditedAdmin):
    list_display = ("name", "kind", "position", "capacity", "active")
    filter_horizontal = ("reps",)


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
