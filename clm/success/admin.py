from django.contrib import admin

from clm.automation.admin import WorkAdmin
from clm.core.admin import AuditedAdmin
from clm.success.models import ActivationDefinition, ActivationMilestone, Onboarding, SuccessPlan


class MilestoneInline(admin.TabularInline):
    model = ActivationMilestone
    extra = 1
    fields = ("position", "name", "name_zh", "kind", "target", "count", "days_allowed", "first_value")


@admin.register(ActivationDefinition)
class ActivationDefinitionAdmin(AuditedAdmin):
    """What activation means per product or segment; the best-fitting active one is used."""

    list_display = ("name", "name_zh", "product", "industry", "tier", "position", "active")
    list_editable = ("position", "active")
    inlines = [MilestoneInline]


@admin.register(Onboarding)
class OnboardingAdmin(WorkAdmin):
    list_display = ("account", "definition", "started_on", "status", "activated_on", "first_value_on")
    list_filter = ("status", "definition")


@admin.register(SuccessPlan)
class SuccessPlanAdmin(WorkAdmin):
    list_display = ("title", "account", "owner", "status", "starts_on", "ends_on", "closed_on")
    list_filter = ("status",)
