"""Membership: each account's value tier with the date it gained it (and the tier it had before,
with the date it lost that one), read from the tier history the daily run writes, and what the
tier gives (TierBenefit rows; a tier without a row gives nothing beyond the standard)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from clm.core import services
from clm.core.records import may
from clm.value.models import TierAssignment, TierBenefit, TierRule


@dataclass
class Membership:
    account_id: int
    tier: str
    tier_label: str
    since: dt.date  # the first day of the current stretch in this tier (the run that gave it)
    previous_tier: str | None
    previous_label: str | None
    segment: str
    benefit: TierBenefit | None


def memberships(account_ids) -> dict[int, Membership]:
    """The membership of each account with a tier: two queries for any number of accounts."""
    rows = pd.DataFrame.from_records(
        list(TierAssignment.objects.filter(account_id__in=list(account_ids))
             .order_by("account_id", "as_of").values_list("account_id", "as_of", "tier", "tier_label", "segment")),
        columns=["account", "as_of", "tier", "label", "segment"],
    )
    if rows.empty:
        return {}
    # a new stretch starts wherever the tier differs from the account's run before
    changed = rows["tier"].ne(rows.groupby("account")["tier"].shift()).to_numpy()
    rows["stretch"] = pd.Series(changed, index=rows.index).groupby(rows["account"]).cumsum()
    starts = rows.loc[changed, ["account", "stretch", "as_of", "tier", "label"]]
    starts = starts.assign(
        previous_tier=starts.groupby("account")["tier"].shift(), previous_label=starts.groupby("account")["label"].shift()
    ).drop(columns=["tier", "label"])
    last = rows.drop_duplicates("account", keep="last").drop(columns="as_of")
    found = last.merge(starts, on=["account", "stretch"])
    found = found.astype(object).where(found.notna(), None)
    benefits = {b.tier: b for b in TierBenefit.objects.all()}
    return {
        int(account): Membership(int(account), tier, label, since, previous, previous_label, segment, benefits.get(tier))
        for account, tier, label, segment, since, previous, previous_label in zip(
            found["account"], found["tier"], found["label"], found["segment"], found["as_of"],
            found["previous_tier"], found["previous_label"], strict=True)
    }


def tier_keys() -> list[str]:
    from clm.analytics.tiers import DEFAULT_TIERS

    keys = list(TierRule.objects.order_by("position").values_list("key", flat=True))
    return keys or [t.key for t in DEFAULT_TIERS]


@transaction.atomic
def save_benefit(actor, tier: str, data: dict, *, via: str = "ui") -> TierBenefit:
    """Set what a tier gives (one row per tier, made on first save)."""
    if actor is not None and not may(actor, "change", TierBenefit):
        raise PermissionDenied(_("You may not change membership benefits."))
    from django.core.exceptions import ValidationError

    if tier not in tier_keys():
        raise ValidationError({"tier": _("No value tier is called %(tier)s.") % {"tier": tier}})
    found = TierBenefit.objects.filter(tier=tier).first()
    if found is None:
        return services.create(TierBenefit, {**data, "tier": tier}, actor=actor, via=via)
    return services.update(found, data, actor=actor, via=via)
