from django.contrib import admin

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Onboardings and plans change through clm.success's services (events, cases), so here they are read."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Onboarding)
class OnboardingAdmin(ReadOnlyAdmin):
    list_display = ("account", "definition", "started_on", "status", "activated_on", "first_value_on")
    list_filter = ("status", "definition")


@admin.register(SuccessPlan)
class SuccessPlanAdmin(ReadOnlyAdmin):
    list_display = ("title", "account", "owner", "status", "starts_on", "ends_on", "closed_on")
    list_filter = ("status",)
