"""REST resources for products, subscriptions (with their change ledger), orders with their lines,
and payments."""

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import FilterLookup, FilterSchema, Router

from clm.commerce.models import Order, OrderLine, Payment, Product, Subscription, SubscriptionChange
from clm.commerce.services import TotalsMismatch, order_totals
from clm.core.crud import History, Id, Nested, Resource, Text, choice, invalid, register

router = Router()


class ProductFilters(FilterSchema):
    q: Annotated[Text | None, FilterLookup("name__icontains")] = None
    family: Annotated[Text | None, FilterLookup("family")] = None
    is_recurring: Annotated[bool | None, FilterLookup("is_recurring")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


class SubscriptionFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    product: Annotated[Id | None, FilterLookup("product_id")] = None
    status: Annotated[choice(Subscription.Status) | None, FilterLookup("status")] = None
    auto_renew: Annotated[bool | None, FilterLookup("auto_renew")] = None
    renewal_after: Annotated[dt.date | None, FilterLookup("renewal_date__gte")] = None
    renewal_before: Annotated[dt.date | None, FilterLookup("renewal_date__lt")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


class OrderFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    ordered_since: Annotated[dt.date | None, FilterLookup("ordered_on__gte")] = None
    ordered_before: Annotated[dt.date | None, FilterLookup("ordered_on__lt")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


class PaymentFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    order: Annotated[Id | None, FilterLookup("order_id")] = None
    subscription: Annotated[Id | None, FilterLookup("subscription_id")] = None
    status: Annotated[choice(Payment.Status) | None, FilterLookup("status")] = None
    due_since: Annotated[dt.date | None, FilterLookup("due_on__gte")] = None
    due_before: Annotated[dt.date | None, FilterLookup("due_on__lt")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


def prepare_order(data, user, instance, children):
    """Orders sent with lines get their totals from clm.commerce.services.order_totals."""
    lines = children.get("lines")
    if not lines:
        return data
    try:
        data.update(order_totals(lines, data))
    except TotalsMismatch as exc:
        raise invalid({exc.field: str(exc)}) from None
    return data


RESOURCES = [
    Resource(Product, "products", ProductFilters),
    Resource(
        Subscription,
        "subscriptions",
        SubscriptionFilters,
        extra_output={"arr": (Decimal, lambda s: s.arr)},
        histories=[History("changes", SubscriptionChange, "subscription")],
    ),
    Resource(
        Order,
        "orders",
        OrderFilters,
        optional=("amount",),
        prefetch_related=("lines",),
        nested={"lines": Nested(OrderLine, "order", number="line_no")},
        extra_output={"gross_margin": (Decimal, lambda o: o.gross_margin)},
        prepare=prepare_order,
    ),
    Resource(Payment, "payments", PaymentFilters),
]

for resource in RESOURCES:
    register(router, resource)
