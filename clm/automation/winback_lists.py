"""What the win-back work reads: the churned accounts worth winning back (流失 → 回流), ranked by
their value and how recently they left, with the reason they gave; and the KPIs of win-back cases
(success rate and ARR won back, overall and by cause and by offer), one function each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from clm.analytics.winback import success_by, winback_priority
from clm.automation.models import Case, WinBack
from clm.commerce.models import Subscription
from clm.commerce.services import contracts_ended_on
from clm.core.access import visible_accounts, visible_records
from clm.customers.models import Account, LifecycleStage
from clm.value.models import CLVEstimate, TierAssignment


@dataclass
class ChurnedRow:
    account: Account
    left_on: dt.date | None
    days_since: int
    value: Decimal
    reason: str
    priority: float
    open_winback: int | None  # the open win-back case, if one is being worked


def churned_list(user, *, today: dt.date | None = None, limit: int = 100) -> list[ChurnedRow]:
    """Churned accounts the user may see, ranked by value × 0.5 ** (days since they left / 180)
    (clm.analytics.winback.winback_priority). Value: total revenue of the relationship, as the value
    run last read it: its CLV estimate's revenue to date (a churned account keeps an estimate, of
    what it brought, but gets no value tier), else the value tiers' latest figure; reason: the
    cancellation reason on their last cancelled contract, else the root cause of their last lost case."""
    today = today or timezone.localdate()
    revenue = TierAssignment.objects.filter(account=OuterRef("pk")).order_by("-as_of").values("total_revenue")[:1]
    estimate = CLVEstimate.objects.filter(account=OuterRef("pk")).order_by("-as_of").values("pk")[:1]
    cancel = (
        Subscription.objects.filter(account=OuterRef("pk")).exclude(cancel_reason="")
        .order_by("-cancelled_on", "-pk").values("cancel_reason")[:1]
    )
    lost = (
        Case.objects.filter(account=OuterRef("pk"), outcome=Case.Outcome.LOST, root_cause__isnull=False)
        .order_by("-closed_at").values("root_cause__code")[:1]
    )
    open_case = Case.objects.filter(
        account=OuterRef("pk"), type=Case.Type.WIN_BACK, status__in=Case.OPEN_STATUSES
    ).order_by("-created_at").values("pk")[:1]
    rows = list(
        visible_accounts(user).filter(lifecycle_stage=LifecycleStage.CHURNED)
        .annotate(revenue=Subquery(revenue), estimate=Subquery(estimate), cancel=Subquery(cancel), lost=Subquery(lost), open_case=Subquery(open_case))
        .select_related("csm", "sales_owner")
    )
    if not rows:
        return []
    from clm.automation.models import RootCause

    causes = {c.code: c.label() for c in RootCause.objects.all()}
    brought = dict(CLVEstimate.objects.filter(pk__in=[a.estimate for a in rows if a.estimate])
                   .values_list("account_id", "inputs"))
    values = [_revenue_to_date(brought.get(a.pk), a.revenue) for a in rows]
    # when they left: their last contract's end, not the day the engine first saw them churned (a
    # first run over imported history sees every past churner on its first day)
    ended = contracts_ended_on(a.pk for a in rows)
    left = [ended.get(a.pk, a.lifecycle_stage_since) for a in rows]
    days = [(today - day).days if day else 9999 for day in left]
    priority = winback_priority([float(v) for v in values], days)
    out = [
        ChurnedRow(
            account=a, left_on=day, days_since=d, value=v,
            reason=a.cancel or causes.get(a.lost or "", ""), priority=float(p), open_winback=a.open_case,
        )
        for a, day, v, d, p in zip(rows, left, values, days, priority, strict=True)
    ]
    out.sort(key=lambda r: (-r.priority, r.account.name))
    return out[:limit]


def _revenue_to_date(inputs, tier_revenue) -> Decimal:
    """What the relationship brought in, as the value run last read it: the CLV estimate's revenue
    to date, else the value tiers' last figure, else nothing."""
    to_date = inputs.get("revenue_to_date") if isinstance(inputs, dict) else None
    if to_date is not None:
        return Decimal(str(to_date)).quantize(Decimal("0.01"))
    return Decimal(tier_revenue or 0)


def evaluated(queryset=None, *, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """One row per evaluated win-back (evaluated in [start, end) when given): account_id, cause,
    offer, won, arr_won_back."""
    rows = (queryset if queryset is not None else WinBack.objects.all()).filter(step=WinBack.Step.EVALUATED)
    if start is not None:
        rows = rows.filter(evaluated_at__date__gte=start)
    if end is not None:
        rows = rows.filter(evaluated_at__date__lt=end)
    data = list(rows.order_by().values_list("account_id", "cause__code", "offer__code", "result", "arr_won_back"))
    frame = pd.DataFrame(data, columns=["account_id", "cause", "offer", "result", "arr_won_back"])
    frame["won"] = frame["result"].isin(list(WinBack.WON))
    frame["arr_won_back"] = frame["arr_won_back"].astype(float)
    return frame


def success_rate(frame: pd.DataFrame) -> float | None:
    """Won back (retained or renewed) ÷ evaluated; None with nothing evaluated."""
    return float(frame["won"].mean()) if len(frame) else None


def revenue_won_back(frame: pd.DataFrame) -> float:
    """The ARR of the customers won back, summed."""
    return float(frame.loc[frame["won"], "arr_won_back"].sum())


def by_cause(frame: pd.DataFrame) -> pd.DataFrame:
    return success_by(frame, "cause")


def by_offer(frame: pd.DataFrame) -> pd.DataFrame:
    return success_by(frame, "offer")


def visible_winbacks(user):
    return visible_records(WinBack, user)
