"""Upgrade quotes: a quote for an account with a live contract may amend it. The quote states the
contract as amended: accepted, its first recurring line becomes the contract's product, seats and
MRR from the acceptance date (clm.commerce.services.amend: the ledger records the expansion or
contraction on that day), and its other recurring lines become contracts co-termed with it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clm.commerce import services as commerce
from clm.commerce.models import Subscription
from clm.core import services
from clm.sales.models import Opportunity, Quote, QuoteLine

CENT = Decimal("0.01")


def check(opportunity: Opportunity, contract: Subscription | None) -> None:
    """An amended contract must be a live contract of the deal's account."""
    if contract is None:
        return
    if contract.account_id != opportunity.account_id:
        raise ValidationError({"amends": _("The contract %(contract)s is not one of %(account)s’s.") % {
            "contract": contract.pk, "account": opportunity.account.name}})  # fmt: skip
    if contract.status not in Subscription.LIVE_STATUSES:
        raise ValidationError({"amends": _("The contract %(contract)s is %(status)s, not live: only a live contract can be amended.") % {
            "contract": contract.pk, "status": contract.get_status_display()}})  # fmt: skip


def contract_of(opportunity: Opportunity, contract_id: int) -> Subscription:
    """The account's contract with that id, or a refusal naming it."""
    contract = Subscription.objects.filter(pk=contract_id, account_id=opportunity.account_id).first()
    if contract is None:
        raise ValidationError({"amends": _("%(account)s has no contract %(contract)s.") % {
            "account": opportunity.account.name, "contract": contract_id}})  # fmt: skip
    return contract


def live_contracts(opportunity: Opportunity):
    return Subscription.objects.live().filter(account_id=opportunity.account_id).select_related("product")


def amend(quote: Quote, lines: list[QuoteLine], start: dt.date, *, actor, via: str) -> list[Subscription]:
    """Apply an accepted upgrade quote: the amended contract, then one co-termed contract for each
    other recurring line; the contracts written, the amended one first."""
    contract = Subscription.objects.select_for_update().get(pk=quote.amends_id)
    check(quote.opportunity, contract)
    recurring = [li for li in lines if li.recurring]
    if not recurring:
        raise ValidationError({"lines": _("An upgrade quote needs a recurring line: it states the contract as amended.")})
    if contract.end_date and start > contract.end_date:
        raise ValidationError({"start": _("The contract ends on %(day)s, before the amendment would start.") % {
            "day": contract.end_date}})  # fmt: skip
    first, *others = recurring
    written = [commerce.amend(contract, {
        "product": first.product, "seats": max(1, int(first.quantity)), "mrr": first.net,
    }, effective=start, actor=actor, via=via)]  # fmt: skip
    for line in others:
        written.append(services.create(Subscription, {
            "account_id": contract.account_id, "product": line.product, "start_date": start,
            "seats": max(1, int(line.quantity)), "mrr": line.net, "end_date": contract.end_date,
            "renewal_date": contract.renewal_date,
        }, actor=actor, via=via))  # fmt: skip
    return written
