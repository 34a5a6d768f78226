"""Contracts and their MRR ledger; order totals."""

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.utils import timezone

from clm.commerce.models import Subscription, SubscriptionChange
from clm.core.services import after_save

ENDED = (Subscription.Status.CANCELLED, Subscription.Status.EXPIRED)


def classify_change(before: dict | None, after: dict) -> str | None:
    """The ledger kind of a contract change, or None when MRR, seats and status are unchanged.

    before/after hold mrr (Decimal), seats (int), status (str) and end_date/renewal_date.
    A contract that ends is churn; one that starts again after ending is a reactivation;
    otherwise the direction of MRR decides, and a later renewal date with equal MRR is a renewal."""
    if before is None:
        return SubscriptionChange.Kind.NEW
    was_ended, is_ended = before["status"] in ENDED, after["status"] in ENDED
    if not was_ended and is_ended:
        return SubscriptionChange.Kind.CHURN
    if was_ended and not is_ended:
        return SubscriptionChange.Kind.REACTIVATION
    mrr_before, mrr_after = Decimal(str(before["mrr"])), Decimal(str(after["mrr"]))
    if mrr_after > mrr_before:
        return SubscriptionChange.Kind.EXPANSION
    if mrr_after < mrr_before:
        return SubscriptionChange.Kind.CONTRACTION
    if (after.get("renewal_date") or after.get("end_date")) != (before.get("renewal_date") or before.get("end_date")):
        return SubscriptionChange.Kind.RENEWAL
    if before["seats"] != after["seats"] or before["status"] != after["status"]:
        return SubscriptionChange.Kind.OTHER
    return None


def ledger_entry(subscription: Subscription, before: dict | None, effective: dt.date | None = None):
    """The SubscriptionChange for a subscription saved over `before` (None if nothing moved)."""
    after = {
        "mrr": subscription.mrr,
        "seats": subscription.seats,
        "status": subscription.status,
        "end_date": subscription.end_date,
        "renewal_date": subscription.renewal_date,
    }
    kind = classify_change(before, after)
    if kind is None:
        return None
    if effective is None:
        if kind == SubscriptionChange.Kind.NEW:
            effective = subscription.start_date
        elif kind == SubscriptionChange.Kind.CHURN:
            effective = subscription.cancelled_on or subscription.end_date or timezone.localdate()
        else:
            effective = timezone.localdate()
    mrr_before = Decimal(str(before["mrr"])) if before else Decimal("0")
    if before and before["status"] in ENDED:
        mrr_before = Decimal("0")
    mrr_after = Decimal("0") if subscription.status in ENDED else subscription.mrr
    return SubscriptionChange(
        subscription=subscription,
        account_id=subscription.account_id,
        effective_date=effective,
        kind=kind,
        mrr_before=mrr_before,
        mrr_after=mrr_after,
        seats_before=before["seats"] if before else 0,
        seats_after=subscription.seats,
        status_after=subscription.status,
    )


@after_save(Subscription)
def write_ledger(subscription, before, actor):
    change = ledger_entry(subscription, before)
    if change is not None:
        change.save()


class TotalsMismatch(ValueError):
    """A total given with an order's lines is not their sum."""

    def __init__(self, field: str, given, total: Decimal):
        super().__init__(f"{given} is not the sum of the lines ({total})")
        self.field = field


def order_totals(lines: Iterable[Mapping], given: Mapping | None = None) -> dict[str, Decimal]:
    """An order's amount and cost: the sums of its lines (a missing line cost counts as 0). A
    total also given must equal the sum, or TotalsMismatch names it. The one rule for orders
    made through the API and for imported ones."""
    lines = list(lines)
    out = {}
    for name in ("amount", "cost"):
        total = sum((Decimal(str(line.get(name) or 0)) for line in lines), Decimal("0"))
        if given is not None and given.get(name) is not None and Decimal(str(given[name])) != total:
            raise TotalsMismatch(name, given[name], total)
        out[name] = total
    return out
