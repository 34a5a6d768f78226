from django.contrib import admin

from clm.core.admin import AuditedAdmin
from clm.lifecycle.models import (
    ChurnModel,
    ChurnPrediction,
    HealthModel,
    HealthScore,
    Holiday,
    RuleSet,
    Run,
    Signal,
    StageTransition,
)


@admin.register(HealthModel)
class HealthModelAdmin(AuditedAdmin):
    """Edited as JSON; saving checks weights, points, bands and metric names (the model's clean)."""

    list_display = ("name", "position", "updated_at")


@admin.register(Holiday)
class HolidayAdmin(AuditedAdmin):
    list_display = ("day", "name", "kind")
    list_filter = ("kind", "name")
    date_hierarchy = "day"


@admin.register(RuleSet)
class RuleSetAdmin(AuditedAdmin):
    list_display = ("kind", "updated_at")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Results of the engine: written by the daily run, read here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(HealthScore)
class HealthScoreAdmin(ReadOnlyAdmin):
    list_display = ("account", "as_of", "score_int", "band", "model")
    list_filter = ("band", "as_of")
    raw_id_fields = ("account",)


@admin.register(StageTransition)
class StageTransitionAdmin(ReadOnlyAdmin):
    list_display = ("account", "date", "from_stage", "to_stage", "rule")
    list_filter = ("to_stage", "rule")
    raw_id_fields = ("account",)


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("account", "kind", "opened_on", "last_seen_on", "closed_on", "close_reason")
    list_filter = ("kind", "close_reason")
    raw_id_fields = ("account",)


@admin.register(ChurnModel)
class ChurnModelAdmin(ReadOnlyAdmin):
    list_display = ("version", "kind", "trained_at", "horizon_days", "active")
    exclude = ("payload",)


@admin.register(ChurnPrediction)
class ChurnPredictionAdmin(ReadOnlyAdmin):
    list_display = ("account", "as_of", "probability", "model")
    raw_id_fields = ("account",)


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ("as_of", "status", "started_at", "finished_at")
    list_filter = ("status",)
