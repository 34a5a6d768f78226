"""Who to ask for a referral, and what referrals bring: the advocates list — promoters (their latest
NPS answer 9–10) whose health is green and whose CLV is at or above the customers' median, with
what they have referred already — which the `promoter-referral-ask` play targets (its condition
``advocate``); and the referral KPIs, one function each (share of new customers from referrals,
referrals per advocate, reward cost against the referred customers' CLV)."""

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
# The value threshold: the median CLV of the customers. A promoter who is worth less than half
# the base is thanked, not asked: a referral ask spends a sales owner's call and a reward.
HIGH_CLV_QUANTILE = 0.5


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


def clv_threshold() -> float | None:
    """The customers' median latest CLV (the same for every user: the list does not move with
    what a user may see); None without estimates."""
    values = np.array([float(v) for v in _latest(
        CLVEstimate.objects.filter(account__lifecycle_stage__in=CUSTOMER_STAGES).order_by("account_id", "-as_of")
        .values_list("account_id", "value")).values()])
    return float(np.quantile(values, HIGH_CLV_QUANTILE)) if len(values) else None


def _candidates(accounts) -> tuple[list[Account], float | None]:
    """The customers among ``accounts`` whose latest NPS answer is a promoter's, with their NPS,
    CLV and referrals made and signed; and the CLV threshold. Five queries for all of them."""
    promoters = _latest(
        SurveyResponse.objects.filter(account__in=accounts, kind="nps").order_by("account_id", "-responded_at")
        .values_list("account_id", "score"))
    ids = [pk for pk, score in promoters.items() if score is not None and score >= PROMOTER]
    rows = list(accounts.filter(pk__in=ids, lifecycle_stage__in=CUSTOMER_STAGES).select_related("sales_owner"))
    ids = [a.pk for a in rows]
    clv = _latest(CLVEstimate.objects.filter(account_id__in=ids).order_by("account_id", "-as_of")
                  .values_list("account_id", "value"))
    made = dict(Referral.objects.filter(referrer_id__in=ids).order_by().values("referrer")
                .annotate(n=Count("pk")).values_list("referrer", "n"))
    signed = dict(Referral.objects.filter(referrer_id__in=ids, signed_on__isnull=False).order_by().values("referrer")
                  .annotate(n=Count("pk")).values_list("referrer", "n"))
    for a in rows:
        a.nps, a.clv, a.made, a.signed = promoters[a.pk], clv.get(a.pk), made.get(a.pk, 0), signed.get(a.pk, 0)
    return rows, clv_threshold()


def _qualifies(a: Account, threshold: float | None) -> bool:
    return (a.health_band == HealthBand.GREEN and a.clv is not None and threshold is not None
            and float(a.clv) >= threshold)


def advocate_ids(ids) -> set[int]:
    """Which of the accounts ``ids`` are on the advocates list (what the play's condition reads)."""
    rows, threshold = _candidates(Account.objects.filter(pk__in=list(ids)))
    return {a.pk for a in rows if _qualifies(a, threshold)}


def advocates(user, *, limit: int = 200) -> list[Advocate]:
    """The advocates the user may see: promoters whose health is green and whose CLV is at or
    above the customers' median; ranked by NPS, then referrals signed, then CLV, each with why."""
    rows, threshold = _candidates(visible_accounts(user))
    currency = workspace_currency()
    out = []
    for a in rows:
        if not _qualifies(a, threshold):
            continue
        made, signed = int(a.made or 0), int(a.signed or 0)
        reasons = [
            _("NPS %(score)s: a promoter") % {"score": a.nps},
            _("healthy (%(score)s)") % {"score": a.health_score},
            _("CLV %(clv)s, at or above the customers' median of %(median)s") % {
                "clv": money(a.clv, currency), "median": money(Decimal(str(round(threshold, 2))), currency)},
        ]
        if made:
            reasons.append(_("has referred %(made)s, %(signed)s signed") % {"made": made, "signed": signed})
        rank = float(a.nps) + 0.5 * min(signed, 4) + 0.1 * min(made, 4)
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
