from django.contrib import admin

from clm.automation.models import Case, RootCause, Task, WinBackOffer
from clm.core.admin import AuditedAdmin


@admin.register(RootCause)
class RootCauseAdmin(AuditedAdmin):
    """The list offered when a case is closed; retire a cause by unticking active (cases keep it)."""

    list_display = ("code", "name_en", "name_zh", "position", "active")
    list_editable = ("position", "active")


@admin.register(WinBackOffer)
class WinBackOfferAdmin(AuditedAdmin):
    """The win-back offer library: the causes each offer answers, its tasks ({"en", "zh", "days"})
    and, for a discount, the limit above which a manager must approve."""

    list_display = ("code", "kind", "name_en", "name_zh", "approval_limit_percent", "max_percent", "position", "active")
    list_editable = ("position", "active")
    filter_horizontal = ("causes",)


class WorkAdmin(admin.ModelAdmin):
    """Tasks and cases change through clm.automation.work (events, cascades), so here they are read."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(WorkAdmin):
    list_display = ("title", "account", "assignee", "due_at", "status", "source")
    list_filter = ("status", "source", "priority")


@admin.register(Case)
class CaseAdmin(WorkAdmin):
    list_display = ("reason", "type", "account", "owner", "status", "outcome")
    list_filter = ("type", "status", "outcome")
