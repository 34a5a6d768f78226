"""KPIs of the contract revenue (the MRR ledger): logo retention and churn, NRR and GRR, expansion
and churned MRR, ARR — all through clm.analytics.revenue, over the MRR of the scope's accounts."""

from __future__ import annotations

import pandas as pd
from django.db.models import Sum
from django.utils.translation import gettext as _

from clm.analytics.revenue import account_mrr_movements, revenue_retention
from clm.commerce.models import Subscription
from clm.value.models import Recommendation

from .base import Result, Scope, finite, missing, share
from .stages import stage_as_of


def no_history(period) -> str:
    return _("No contract revenue is recorded at the start of %(period)s.") % {"period": period.label}


def _window(scope: Scope, period):
    """The retention row of the period (revenue_retention: the accounts with MRR at the end of
    the month before the period, compared with the end of its last month read so far), and the
    accounts at the start and at the end; read once per scope and period."""

    def compute():
        end_month = pd.Period(period.as_of(scope.today), "M")
        start_month = pd.Period(period.start, "M") - 1
        window = int(end_month.ordinal - start_month.ordinal)
        table = revenue_retention(scope.mrr, window=window, end=end_month) if len(scope.mrr) else None
        if table is None or end_month not in table.index:
            return None, None, None
        row = table.loc[end_month]
        if not row["accounts_at_start"]:
            return None, None, None
        return row, scope.mrr_at(start_month.end_time.date()), scope.mrr_at(end_month.end_time.date())

    return scope.memo(("retention", period.label), compute)


def logo_retention(scope: Scope, period) -> Result:
    row, at_start, at_end = _window(scope, period)
    if row is None:
        return missing(no_history(period))
    kept = at_start.index.intersection(at_end.index)
    return share(row["accounts_retained"], row["accounts_at_start"], kept, when_empty=no_history(period))


def logo_churn(scope: Scope, period) -> Result:
    row, at_start, at_end = _window(scope, period)
    if row is None:
        return missing(no_history(period))
    lost = at_start.index.difference(at_end.index)
    churned = row["accounts_at_start"] - row["accounts_retained"]
    return share(churned, row["accounts_at_start"], lost, when_empty=no_history(period))


def _revenue_retention(scope: Scope, period, column: str) -> Result:
    row, at_start, _at_end = _window(scope, period)
    if row is None or finite(row[column]) is None:
        return missing(no_history(period))
    ending = row["ending_mrr"] if column == "nrr" else row["starting_mrr"] - row["contraction"] - row["churn"]
    return Result(
        value=float(row[column]),
        numerator=float(ending),
        denominator=float(row["starting_mrr"]),
        account_ids=sorted(int(i) for i in at_start.index),
        breakdown={
            "expansion": float(row["expansion"]),
            "contraction": float(row["contraction"]),
            "churn": float(row["churn"]),
        },
    )


def nrr(scope: Scope, period) -> Result:
    return _revenue_retention(scope, period, "nrr")


def grr(scope: Scope, period) -> Result:
    return _revenue_retention(scope, period, "grr")


def _movements(scope: Scope, period, kind: str) -> pd.DataFrame | None:
    """The account-level MRR movements of ``kind`` in the period (all of them read once per scope)."""
    if scope.mrr.empty:
        return None
    moves = scope.memo("movements", lambda: account_mrr_movements(scope.mrr))
    months = moves["month"]
    end = pd.Period(period.as_of(scope.today), "M")
    inside = (months >= pd.Period(period.start, "M")) & (months <= end)
    return moves[inside & (moves["movement"] == kind)]


def expansion_mrr(scope: Scope, period) -> Result:
    """Expansion MRR of the period; in the breakdown, the part up-sell recommendations converted
    in the period brought (clm.value.services.upsell) and the rest."""
    moves = _movements(scope, period, "expansion")
    if moves is None:
        return missing(_("No contract revenue is recorded yet."))
    total = float(moves["amount"].sum())
    upsold = scope.records(
        Recommendation.objects.filter(kind=Recommendation.Kind.UP_SELL, converted_on__range=(period.start, period.end))
    ).aggregate(mrr=Sum("expansion_mrr"))["mrr"]
    upsold = float(upsold or 0)
    return Result(
        value=total, numerator=total, account_ids=sorted({int(i) for i in moves["account_id"]}),
        breakdown={"up_sell_recommendations": upsold, "other": max(total - upsold, 0.0)},
    )  # fmt: skip


def new_arr(scope: Scope, period) -> Result:
    """ARR of the customers new in the period: 12 × their new MRR movements (the sales team's
    target for the period, which the deals' forecast measures its gap against)."""
    moves = _movements(scope, period, "new")
    if moves is None:
        return missing(_("No contract revenue is recorded yet."))
    total = 12 * float(moves["amount"].sum())
    return Result(value=total, numerator=total, account_ids=sorted({int(i) for i in moves["account_id"]}))


def churned_mrr(scope: Scope, period) -> Result:
    """MRR lost by accounts that left, by the reason on their latest cancelled contract."""
    moves = _movements(scope, period, "churn")
    if moves is None:
        return missing(_("No contract revenue is recorded yet."))
    ids = sorted({int(i) for i in moves["account_id"]})
    reasons = {}
    for account_id, reason in (
        Subscription.objects.filter(account_id__in=ids, cancelled_on__lte=period.end)
        .exclude(cancel_reason="").order_by("cancelled_on", "id").values_list("account_id", "cancel_reason")
    ):
        reasons[account_id] = reason  # the latest wins
    unknown = _("reason not recorded")
    by_reason = (
        moves.assign(reason=[reasons.get(int(a), unknown) for a in moves["account_id"]])
        .groupby("reason")["amount"].sum()
    )
    total = float(moves["amount"].sum())
    return Result(
        value=total, numerator=total, account_ids=ids,
        breakdown={str(k): round(float(v), 2) for k, v in by_reason.sort_values(ascending=False).items()},
    )


def arr(scope: Scope, period) -> Result:
    """ARR = 12 × MRR at the end of the period (so far), with its split by lifecycle stage."""
    if scope.mrr.empty:
        return missing(_("No contract revenue is recorded yet."))
    mrr = scope.mrr_at(period.as_of(scope.today))
    stages = stage_as_of(scope, period.as_of(scope.today))
    by_stage = {}
    if stages is not None:
        joined = pd.DataFrame({"arr": mrr * 12}).join(stages.rename("stage"), how="left")
        by_stage = {str(k): round(float(v), 2) for k, v in joined.groupby("stage")["arr"].sum().items()}
    total = float(mrr.sum() * 12)
    return Result(value=total, numerator=total, account_ids=sorted(int(i) for i in mrr.index), breakdown=by_stage)
