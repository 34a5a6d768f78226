from django import forms
from django.contrib import admin

from clm.core.admin import AuditedAdmin
from clm.value.models import (
    CLVEstimate,
    LoyaltyEntry,
    Recommendation,
    ReferralRule,
    TierAssignment,
    TierBenefit,
    TierRule,
    UpsellSettings,
)


class ComputedAdmin(admin.ModelAdmin):
    """Rows the daily run writes: shown, never edited by hand (the next run would overwrite them)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CLVEstimate)
class CLVEstimateAdmin(ComputedAdmin):
    list_display = ("account", "as_of", "method", "value", "historical_value", "future_value")
    list_filter = ("method", "as_of")
    raw_id_fields = ("account",)
    search_fields = ("account__name",)


@admin.register(TierAssignment)
class TierAssignmentAdmin(ComputedAdmin):
    list_display = ("account", "as_of", "tier", "tenure_years", "total_revenue", "rfm_code", "segment")
    list_filter = ("tier", "segment", "value_class")
    raw_id_fields = ("account",)
    search_fields = ("account__name",)


@admin.register(TierRule)
class TierRuleAdmin(AuditedAdmin):
    list_display = ("position", "key", "label", "label_zh", "min_tenure_years", "min_total_revenue")


@admin.register(ReferralRule)
class ReferralRuleAdmin(AuditedAdmin):
    """The referral reward: the active rule with the lowest position applies."""

    list_display = ("code", "kind", "name_en", "name_zh", "points", "credit", "discount_percent", "position", "active")
    list_editable = ("position", "active")


@admin.register(Recommendation)
class RecommendationAdmin(AuditedAdmin):
    list_display = ("account", "kind", "product", "because_of", "due_from", "due_to", "status", "expansion_mrr")
    list_filter = ("kind", "status")
    raw_id_fields = ("account", "product", "because_of")
    readonly_fields = (
        "product", "because_of", "kind", "rank", "score", "confidence", "lift",
        "due_from", "due_to", "reason", "reason_zh", "computed_on",
        "evidence", "offered_on", "baseline_mrr", "converted_on", "expansion_mrr",
    )  # fmt: skip


@admin.register(UpsellSettings)
class UpsellSettingsAdmin(AuditedAdmin):
    """One row: the up-sell thresholds the daily run reads (clm.value.services.upsell)."""

    list_display = ("__str__", "seat_utilisation", "growth", "core_breadth", "window_days", "attribution_days")

    def has_add_permission(self, request):
        return not UpsellSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


class LoyaltyEntryForm(forms.ModelForm):
    class Meta:
        model = LoyaltyEntry
        fields = ("account", "date", "kind", "points", "note")

    def clean(self):
        data = super().clean()
        if not self.errors and not self.instance.pk:
            from clm.value import services

            services.check_entry(data["account"], data["kind"], data["points"], data["date"])
        return data


@admin.register(LoyaltyEntry)
class LoyaltyEntryAdmin(AuditedAdmin):
    """Entries are added (adjustments) but never changed or deleted: the balance is their sum."""

    list_display = ("account", "date", "kind", "points", "credit", "note", "created_by")
    list_filter = ("kind",)
    raw_id_fields = ("account", "order", "referred_account")
    search_fields = ("account__name", "note")
    form = LoyaltyEntryForm

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        from clm.value import services

        if change:
            return
        services.add_entry(
            obj.account, obj.kind, obj.points, on=obj.date, note=obj.note, actor=request.user, via="admin"
        )


@admin.register(TierBenefit)
class TierBenefitAdmin(AuditedAdmin):
    list_display = ("tier", "dedicated_manager", "discount_rate", "early_access", "support_sla_hours")
