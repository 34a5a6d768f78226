from django.contrib import admin

from clm.commerce.models import Coupon, Order, OrderLine, Payment, Product, Subscription, SubscriptionChange
from clm.core.admin import AuditedAdmin


class ChangeInline(admin.TabularInline):
    model = SubscriptionChange
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in SubscriptionChange._meta.fields if f.name != "id"]
    exclude = ("account",)


@admin.register(Subscription)
class SubscriptionAdmin(AuditedAdmin):
    list_display = ("account", "product", "start_date", "end_date", "mrr", "seats", "status", "renewal_date")
    list_filter = ("status", "auto_renew", "product")
    raw_id_fields = ("account",)
    inlines = [ChangeInline]


class LineInline(admin.TabularInline):
    model = OrderLine
    extra = 0


@admin.register(Order)
class OrderAdmin(AuditedAdmin):
    list_display = ("external_id", "account", "ordered_on", "amount", "cost")
    raw_id_fields = ("account",)
    inlines = [LineInline]


@admin.register(Payment)
class PaymentAdmin(AuditedAdmin):
    list_display = ("external_id", "account", "due_on", "paid_on", "amount", "status")
    list_filter = ("status",)
    raw_id_fields = ("account", "order", "subscription")


admin.site.register(Product, AuditedAdmin)


@admin.register(Coupon)
class CouponAdmin(AuditedAdmin):
    list_display = ("code", "name", "kind", "value", "valid_from", "valid_until", "max_uses", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name")
