"""Contracts and their MRR ledger; order totals."""

import datetime as dt
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from clm.commerce.models import Subscription, SubscriptionChange
from clm.core import events, services
from clm.core.services import Written, write_rule

ENDED = (Subscription.Status.CANCELLED, Subscription.Status.EXPIRED)
_effective: ContextVar[dt.date | None] = ContextVar("ledger_effective", default=None)


@contextmanager
def effective_on(day: dt.date | None):
    """Contract changes written inside take effect on ``day`` in the ledger (today otherwise)."""
    token = _effective.set(day)
    try:
        yield
    finally:
        _effective.reset(token)


def amend(subscription: Subscription, data: dict, *, effective: dt.date, actor=None, via: str = "system") -> Subscription:
    """A contract amended from ``effective`` on (seats, MRR, product): the one write path, so that
    the ledger records the expansion or contraction on that day and the audit who did it."""
    with effective_on(effective):
        return services.update(subscription, data, actor=actor, via=via)


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
    if (after.get("renewal_date") or after.get("end_date")) != (
        before.get("renewal_date") or before.get("end_date")
    ):
        return SubscriptionChange.Kind.RENEWAL
    if before["seats"] != after["seats"] or before["status"] != after["status"]:
        return SubscriptionChange.Kind.OTHER
    return None


def ledger_state(subscription: Subscription) -> dict:
    """What the ledger compares between two versions of a contract."""
    return {
        "mrr": subscription.mrr,
        "seats": subscription.seats,
        "status": subscription.status,
        "end_date": subscription.end_date,
        "renewal_date": subscription.renewal_date,
    }


def ledger_entry(subscription: Subscription, before: dict | None, effective: dt.date | None = None):
    """The SubscriptionChange for a subscription saved over `before` (None if nothing moved)."""
    after = ledger_state(subscription)
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


@write_rule(Subscription)
def write_ledger(written: Written) -> None:
    """New contracts get a NEW entry; changed ones the entry ledger_entry classifies (none when
    MRR, seats, status and dates are as before)."""
    changes = [ledger_entry(sub, None) for sub in Subscription.objects.filter(pk__in=written.created)]
    changes += [
        ledger_entry(_subscription(pk, after), ledger_state(_subscription(pk, before)), _effective.get())
        for pk, before, after in written.changed
    ]
    changes = SubscriptionChange.objects.bulk_create([c for c in changes if c is not None], batch_size=2000)
    events.emit_many(
        "subscription.changed",
        [
            {
                "subscription_id": c.subscription_id,
                "account_id": c.account_id,
                "kind": c.kind,
                "mrr_before": str(c.mrr_before),
                "mrr_after": str(c.mrr_after),
            }
            for c in changes
        ],
        actor=written.human_actor,
    )


def _subscription(pk: int, values: dict) -> Subscription:
    """A subscription as it now is, from its written values (dates as ISO text or dates)."""

    def date(v):
        return dt.date.fromisoformat(v) if isinstance(v, str) and v else (v or None)

    return Subscription(
        pk=pk,
        account_id=values["account_id"],
        start_date=date(values["start_date"]),
        end_date=date(values["end_date"]),
        renewal_date=date(values["renewal_date"]),
        cancelled_on=date(values["cancelled_on"]),
        seats=values["seats"],
        mrr=Decimal(str(values["mrr"])),
        status=values["status"],
    )


class TotalsMismatch(ValueError):
    """A total given with an order's lines is not their sum."""

    def __init__(self, field: str, given, total: Decimal):
        super().__init__(f"{given} is not the sum of the lines ({total})")
        self.field = field


def contracts_ended_on(account_ids: Iterable[int]) -> dict[int, dt.date]:
    """The day each account's last contract ended (cancelled, or else ran out), for the accounts
    that have one: when a churned customer left, by its contracts, whatever day the engine first
    saw it. A contract cancelled before its term's end ended on the day it was cancelled."""
    rows = (
        Subscription.objects.filter(account_id__in=list(account_ids)).order_by().values("account_id")
        .annotate(ended=Max(Coalesce("cancelled_on", "end_date")))
    )  # fmt: skip
    return {row["account_id"]: row["ended"] for row in rows if row["ended"] is not None}


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
