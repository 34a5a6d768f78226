from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from clm.core import services
from clm.core.models import ApiToken, AuditLog, CustomField, Team, User, Workspace


class AuditedAdmin(admin.ModelAdmin):
    """Admin edits go through the service layer, so they are validated, audited and followed by
    the same ledgers as edits made anywhere else."""

    def save_model(self, request, obj, form, change):
        if change:
            services.save_changed(obj, actor=request.user, via="admin")
        else:
            services.save_new(obj, actor=request.user, via="admin")

    def delete_model(self, request, obj):
        services.delete(obj, actor=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete(obj, actor=request.user, via="admin")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = BaseUserAdmin.fieldsets + (("CLM", {"fields": ("team", "language", "time_zone")}),)
    list_display = ("username", "email", "team", "is_staff", "is_active")
    list_filter = ("groups", "team", "is_staff", "is_active")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "hint", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("hint", "created_at", "last_used_at")
    exclude = ("digest",)

    def has_add_permission(self, request):
        return False  # tokens are issued by `clm issue_token` or the API, which show them once


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "via", "action", "model", "object_repr")
    list_filter = ("action", "model", "via")
    search_fields = ("object_repr", "object_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Team)
admin.site.register(Workspace)
admin.site.register(CustomField)

admin.site.site_header = "CLM"
admin.site.site_title = "CLM"
admin.site.index_title = "Customer lifecycle management"
