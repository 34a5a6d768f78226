"""The loyalty ledger: points earned by purchases and referrals (credited by the daily
recomputation, each order and each referred account once), expired by age, and the manual
entries (redeem, adjust), each validated against the balance and audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.analytics import tiers
from clm.analytics.clv import CLVInputError
from clm.commerce.models import Order
from clm.core import bulk, workspace
from clm.core import services as core_services
from clm.core.frames import iso, read_frame
from clm.customers.models import Account
from clm.value.models import LoyaltyEntry

from .loading import Known


def earn_points(known: Known, since: pd.Series) -> dict:
    """Points for every order up to the as-of date not yet credited, and for every referred
    account that has become a customer by then (to its referrer). Each order and each referred
    account earns once (unique constraints), so repeating a day adds nothing."""
    rules = workspace.loyalty_rules()
    uncredited = (
        Order.objects.filter(ordered_on__lte=known.as_of)
        .exclude(models.Exists(LoyaltyEntry.objects.filter(order_id=models.OuterRef("pk"))))
        .order_by()
        .values_list("id", flat=True)
    )
    orders = known.orders
    fresh = orders[orders["order_id"].isin(list(uncredited))]
    points = (
        tiers.purchase_points(fresh["amount"].to_numpy(), rules) if len(fresh) else np.zeros(0, int)
    )
    earning = fresh[points > 0]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    dates = [str(d) for d in earning["day"].to_numpy().astype("datetime64[D]")]
    purchase = [
        (int(a), d, LoyaltyEntry.Kind.PURCHASE.value, int(p), "0", int(o), "", now)
        for a, d, p, o in zip(
            earning["account_id"].tolist(),
            dates,
            points[points > 0].tolist(),
            earning["order_id"].tolist(),
            strict=True,
        )
    ]
    columns = ["account_id", "date", "kind", "points", "credit", "order_id", "note", "created_at"]
    bulk.insert(LoyaltyEntry, columns, purchase, conflict=("order_id",))
    referral = 0
    if len(since):
        from .referrals import reward_signed

        signed = {int(a): np.datetime64(int(d), "D").astype(object) for a, d in since.items()}
        referral = reward_signed(signed)
    expired = _expire_points(known.as_of, rules) if rules.expiry_months else 0
    return {"purchase": len(purchase), "referral": referral, "expiry": expired}


def _expire_points(as_of: dt.date, rules: tiers.LoyaltyRules) -> int:
    """Expiry entries for points older than the rules' expiry age, oldest first (clm.analytics.tiers)."""
    ledger = read_frame(
        LoyaltyEntry.objects.filter(date__lte=as_of)
        .order_by()
        .values_list("account_id", iso("date"), "kind", "points"),
        list(tiers.LEDGER_COLUMNS),
    )
    if ledger.empty:
        return 0
    due = tiers.expiry_entries(ledger, as_of, rules)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    day = connection.ops.adapt_datefield_value(as_of)
    rows = [
        (int(a), day, LoyaltyEntry.Kind.EXPIRY.value, int(p), "0", "points older than the expiry age", now)
        for a, p in zip(due["account_id"].tolist(), due["points"].tolist(), strict=True)
    ]
    bulk.insert(LoyaltyEntry, ["account_id", "date", "kind", "points", "credit", "note", "created_at"], rows)
    return len(rows)


def balance(account: Account, on: dt.date | None = None) -> int:
    """The account's points: the sum of its ledger (up to ``on``)."""
    entries = LoyaltyEntry.objects.filter(account=account)
    if on is not None:
        entries = entries.filter(date__lte=on)
    return int(entries.aggregate(total=models.Sum("points"))["total"] or 0)


def _ledger(account: Account) -> pd.DataFrame:
    rows = list(
        LoyaltyEntry.objects.filter(account=account).values_list("account_id", "date", "kind", "points")
    )
    return pd.DataFrame(rows, columns=list(tiers.LEDGER_COLUMNS))


def check_entry(account: Account, kind: str, points, on: dt.date) -> dict:
    """Refuse (ValidationError on "points") an entry the ledger cannot take: a kind it does not
    know, points that are not a whole number or of the wrong sign for the kind, or a redemption
    or deduction beyond the balance (as of its date, and overall: later entries count too).
    Returns the pure rule's entry (with the service credit of a redemption)."""
    if kind not in LoyaltyEntry.Kind.values:
        raise ValidationError({"kind": _("must be one of %(kinds)s") % {"kinds": ", ".join(LoyaltyEntry.Kind.values)}})
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ValidationError({"points": _("a whole number of points other than 0")})
    if kind in LoyaltyEntry.EARNING and points < 0:
        raise ValidationError({"points": _("an earning adds points: it must be above 0")})
    if kind in LoyaltyEntry.SPENDING and points > 0:
        raise ValidationError({"points": _("a redemption or expiry takes points away: it must be below 0")})
    entry = {"points": points, "credit": 0.0}
    if kind == LoyaltyEntry.Kind.REDEMPTION:
        try:
            entry = tiers.redemption_entry(_ledger(account), account.pk, -points, on, workspace.loyalty_rules())
        except tiers.RedemptionRefused as exc:
            raise ValidationError(
                {
                    "points": _("%(asked)s points requested, %(available)s available: a redemption cannot exceed the balance")
                    % {"asked": -points, "available": exc.available}
                }
            ) from None
        except CLVInputError as exc:
            raise ValidationError({"points": exc.reason}) from None
    total = balance(account)
    if points < 0 and total + points < 0:
        raise ValidationError(
            {"points": _("%(asked)s points requested, %(available)s available: the balance never goes below 0")
             % {"asked": -points, "available": total}}
        )
    return entry


@transaction.atomic
def redeem_points(
    account: Account,
    points: int,
    *,
    on: dt.date | None = None,
    note: str = "",
    actor=None,
    via: str = "system",
) -> LoyaltyEntry:
    """Redeem points for service credit (points × credit per point). Refused, with the available
    balance in the message, when the account's points do not cover it."""
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ValidationError({"points": _("a redemption is a whole number of points above 0")})
    return add_entry(account, LoyaltyEntry.Kind.REDEMPTION, -points, on=on, note=note, actor=actor, via=via)


@transaction.atomic
def add_entry(
    account: Account,
    kind: str,
    points: int,
    *,
    on: dt.date | None = None,
    note: str = "",
    actor=None,
    via: str = "system",
    referred_account: Account | None = None,
) -> LoyaltyEntry:
    """Add one ledger entry (a referral, an adjustment, a redemption with negative points...),
    checked by ``check_entry`` while the account is locked, so two redemptions at once cannot
    both spend the same points; audited."""
    on = on or timezone.localdate()
    Account.objects.select_for_update().filter(pk=account.pk).first()  # one change of points at a time
    entry = check_entry(account, kind, points, on)
    data = {
        "account": account,
        "date": on,
        "kind": kind,
        "points": points,
        "credit": Decimal(str(entry["credit"])),
        "note": note,
        "referred_account": referred_account,
        "created_by": actor if getattr(actor, "pk", None) else None,
    }
    return core_services.create(LoyaltyEntry, data, actor=actor, via=via)
