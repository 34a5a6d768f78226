from django.contrib import admin

from clm.core.admin import AuditedAdmin
from clm.customers.models import Account, Contact, Interaction, Tag, TagCategory


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ("name", "title", "role", "is_key_person", "status", "email")
    extra = 0
    show_change_link = True


@admin.register(Account)
class AccountAdmin(AuditedAdmin):
    list_display = ("name", "industry", "region", "lifecycle_stage", "health_band", "sales_owner", "csm")
    list_filter = ("lifecycle_stage", "health_band", "industry", "region", "development_stage")
    search_fields = ("name", "domain", "external_id")
    raw_id_fields = ("parent", "referred_by_account", "referred_by_contact")
    filter_horizontal = ("tags",)
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(AuditedAdmin):
    list_display = ("name", "account", "title", "role", "is_key_person", "status")
    list_filter = ("role", "status", "is_key_person")
    search_fields = ("name", "email", "account__name")
    raw_id_fields = ("account",)


@admin.register(Interaction)
class InteractionAdmin(AuditedAdmin):
    list_display = ("occurred_at", "type", "account", "contact", "owner")
    list_filter = ("type", "direction")
    raw_id_fields = ("account", "contact")


class TagInline(admin.TabularInline):
    model = Tag
    extra = 1


@admin.register(TagCategory)
class TagCategoryAdmin(AuditedAdmin):
    inlines = [TagInline]


@admin.register(Tag)
class TagAdmin(AuditedAdmin):
    list_display = ("value", "category")
    list_filter = ("category",)
