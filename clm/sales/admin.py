from django.contrib import admin

from clm.core.admin import AuditedAdmin
from clm.sales.models import (
    ICP,
    AssignmentRule,
    ChannelSpend,
    Lead,
    LeadScoring,
    LeadStageChange,
    Opportunity,
    OpportunityStageChange,
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
