"""Who to ask for a referral, and what referrals bring: the advocates list (promoters with NPS 9–10,
healthy accounts in the top quarter of CLV, and who has already referred), used by the
`promoter-referral-ask` play; and the referral KPIs, one function each (share of new customers
from referrals, referrals per advocate, reward cost against the referred customers' CLV)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils.translation import gettext as _

from clm.core.access import visible_accounts
from clm.core.money import money, workspace_currency
from clm.customers.models import Account, HealthBand, LifecycleStage
from clm.service.models import SurveyResponse
from clm.value.models import CLVEstimate, Referral, ReferralReward

CUSTOMER_STAGES = (
    LifecycleStage.ONBOARDING, LifecycleStage.GROWTH, LifecycleStage.MATURE, LifecycleStage.REACTIVATED,
)
PROMOTER = 9  # NPS answers of 9 and 10 are promoters (Reichheld 2003)
HIGH_CLV_QUANTILE = 0.75


@dataclass
class Advocate:
    account: Account
    nps: int | None
    clv: Decimal | None
    referred: int
    signed: int
    rank: float = 0.0
    reasons: list[str] = field(default_factory=list)


def _latest(rows) -> dict:
    out = {}
    for key, value in rows:
        out.setdefault(key, value)
    return out


def _annotate(rows: list[Account]) -> None:
    """Each account's latest NPS answer and CLV, and its referrals made and signed: four queries
    for all of them (correlated subqueries per account cost more on SQLite)."""
    ids = [a.pk for a in rows]
    nps = _latest(SurveyResponse.objects.filter(account_id__in=ids, kind="nps").order_by("account_id", "-responded_at")
                  .values_list("account_id", "score"))
    clv = _latest(CLVEstimate.objects.filter(account_id__in=ids).order_by("account_id", "-as_of")
                  .values_list("account_id", "value"))
    made = dict(Referral.objects.filter(referrer_id__in=ids).order_by().values("referrer")
                .annotate(n=Count("pk")).values_list("referrer", "n"))
    signed = dict(Referral.objects.filter(referrer_id__in=ids, signed_on__isnull=False).order_by().values("referrer")
                  .annotate(n=Count("pk")).values_list("referrer", "n"))
    for a in rows:
        a.nps, a.clv, a.made, a.signed = nps.get(a.pk), clv.get(a.pk), made.get(a.pk, 0), signed.get(a.pk, 0)


def advocates(user, *, limit: int = 200) -> list[Advocate]:
    """Customers the user may see who are promoters, healthy with a CLV in the top quarter, or
    have referred before; ranked promoters first, then by referrals, then by CLV, each with why."""
    rows = list(visible_accounts(user).filter(lifecycle_stage__in=CUSTOMER_STAGES).select_related("sales_owner"))
    _annotate(rows)
    values = np.array([float(a.clv) for a in rows if a.clv is not None])
    threshold = float(np.quantile(values, HIGH_CLV_QUANTILE)) if len(values) else None
    currency = workspace_currency()
    out = []
    for a in rows:
        promoter = a.nps is not None and a.nps >= PROMOTER
        high = threshold is not None and a.clv is not None and float(a.clv) >= threshold
        healthy_high = high and a.health_band == HealthBand.GREEN
        made, signed = int(a.made or 0), int(a.signed or 0)
        if not (promoter or healthy_high or made):
            continue
        reasons = []
        if promoter:
            reasons.append(_("NPS %(score)s: a promoter") % {"score": a.nps})
        if healthy_high:
            reasons.append(_("healthy (%(score)s) with a CLV of %(clv)s, in the top quarter") % {
                "score": a.health_score, "clv": money(a.clv, currency)})
        if made:
            reasons.append(_("has referred %(made)s, %(signed)s signed") % {"made": made, "signed": signed})
        rank = 2.0 * promoter + 1.0 * healthy_high + 0.5 * min(made, 4)
        out.append(Advocate(a, a.nps, a.clv, made, signed, rank, reasons))
    out.sort(key=lambda r: (-r.rank, -float(r.clv or 0), r.account.name))
    return out[:limit]


# -- KPIs ------------------------------------------------------------------------------------------


def referral_share(accounts, start: dt.date, end: dt.date) -> tuple[int, int]:
    """(new customers in [start, end) who came by a referral, new customers in [start, end)): seed
    003's "超过40%来自于老客户推荐" is this ratio."""
    new = accounts.filter(customer_since__gte=start, customer_since__lt=end)
    referred = new.filter(Q(referral__isnull=False) | Q(referred_by_account__isnull=False)).count()
    return referred, new.count()


def referrals_per_advocate(user, start: dt.date, end: dt.date, listed: int | None = None) -> tuple[int, int]:
    """(referrals that arrived in [start, end) from accounts the user may see, advocates on the list
    now; ``listed`` when the caller has the list already)."""
    made = Referral.objects.filter(
        referrer__in=visible_accounts(user), arrived_at__date__gte=start, arrived_at__date__lt=end
    ).count()
    return made, listed if listed is not None else len(advocates(user, limit=10**6))


def reward_cost_to_clv(accounts) -> tuple[Decimal, Decimal]:
    """(the cost of the rewards granted for the referred customers among ``accounts``, the sum of
    those customers' latest CLV): what referrals cost against what they are worth."""
    rewards = ReferralReward.objects.filter(referral__referred_account__in=accounts)
    cost = rewards.aggregate(total=Sum("cost"))["total"] or Decimal(0)
    referred = list(rewards.values_list("referral__referred_account_id", flat=True))
    latest = CLVEstimate.objects.filter(account=OuterRef("account")).order_by("-as_of").values("pk")[:1]
    clv = CLVEstimate.objects.filter(account_id__in=referred, pk=Subquery(latest)).aggregate(total=Sum("value"))["total"]
    cent = Decimal("0.01")
    return Decimal(cost).quantize(cent), Decimal(clv or 0).quantize(cent)
