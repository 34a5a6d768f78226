from django.contrib import admin

from clm.demo.models import TrueState


@admin.register(TrueState)
class TrueStateAdmin(admin.ModelAdmin):
    """The simulator's ground truth, for checking the engine against: shown, never edited, or the
    checks would measure against a hand-made answer."""

    list_display = ("account", "archetype", "churn_date", "churn_cause", "returned_on")
    list_filter = ("archetype", "churn_cause")
    raw_id_fields = ("account",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
