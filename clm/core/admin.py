from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from clm.core import services, tokens
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

    def save_formset(self, request, form, formset, change):
        """Inline rows (an account's contacts) are saved through the services too."""
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            services.delete(obj, actor=request.user, via="admin")
        for obj in formset.new_objects:
            services.save_new(obj, actor=request.user, via="admin")
        for obj, _fields in formset.changed_objects:
            services.save_changed(obj, actor=request.user, via="admin")
        formset.save_m2m()


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = BaseUserAdmin.fieldsets + (("CLM", {"fields": ("team", "language", "time_zone")}),)
    list_display = ("username", "email", "team", "is_staff", "is_active")
    list_filter = ("groups", "team", "is_staff", "is_active")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "hint", "scope", "expires_at", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", "survives_password_change")
    search_fields = ("name", "user__username", "hint")
    readonly_fields = (
        "user", "hint", "scope", "expires_at", "survives_password_change", "created_at", "last_used_at", "revoked_at"
    )
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # issued from Preferences or `clm issue_token`, which show them once

    def has_change_permission(self, request, obj=None):
        return False  # a token's scope and expiry are fixed when it is issued; revoke and issue anew

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, not deleted: the audit log keeps naming it

    def has_revoke_permission(self, request):
        return request.user.has_perm("core.delete_apitoken")

    @admin.action(description=_("Revoke the selected API tokens"), permissions=["revoke"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at=None):
            tokens.revoke_token(token, actor=request.user, via="admin")


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
