"""Dormant customers worth waking (seed 003: 识别出具有高激活潜力的休眠客户……激活了15%): each
dormant account's reactivation potential (clm.analytics.winback.reactivation_potential) from its
P(alive) (the BG/NBD estimate of the latest CLV run, for order-based customers), its past value,
how long it has been quiet and why it went quiet, explained in words; read for the list page and
for the `dormant-reactivation` playbook's condition."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clm.analytics.winback import REASON_FACTORS, reactivation_potential
from clm.commerce.models import Order
from clm.core.access import visible_accounts
from clm.core.money import money, workspace_currency
from clm.customers.models import Account, Contact, LifecycleStage
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import UsageDaily
from clm.value.models import CLVEstimate, TierAssignment

REASONS = {
    "none_known": gettext_lazy("no known reason"),
    "champion_left": gettext_lazy("a key person left"),
    "complaints": gettext_lazy("complaints or urgent tickets before going quiet"),
    "detractor": gettext_lazy("a detractor NPS answer (0–6)"),
}
LOOKBACK_DAYS = 365


def _latest_by_account(rows) -> dict[int, object]:
    out: dict[int, object] = {}
    for account_id, value in rows:
        out.setdefault(account_id, value)
    return out


def potential_frame(account_ids, today: dt.date) -> pd.DataFrame:
    """The inputs and the potential of each account in ``account_ids`` (a handful of queries for
    all of them): p_alive, past_value, last_active, days_quiet, reason, and the components."""
    ids = list(account_ids)
    columns = ["p_alive", "past_value", "last_active", "days_quiet", "reason"]
    if not ids:
        return pd.DataFrame(columns=[*columns, "alive", "alive_source", "value", "recency", "factor", "score"])
    since = today - dt.timedelta(days=LOOKBACK_DAYS)
    estimates = _latest_by_account(
        CLVEstimate.objects.filter(account_id__in=ids).order_by("account_id", "-as_of").values_list("account_id", "inputs")
    )
    revenue = _latest_by_account(
        TierAssignment.objects.filter(account_id__in=ids).order_by("account_id", "-as_of")
        .values_list("account_id", "total_revenue")
    )
    last_order = dict(Order.objects.filter(account_id__in=ids, ordered_on__lte=today).order_by().values("account_id")
                      .annotate(d=Max("ordered_on")).values_list("account_id", "d"))
    last_use = dict(UsageDaily.objects.filter(account_id__in=ids, day__lte=today).order_by().values("account_id")
                    .annotate(d=Max("day")).values_list("account_id", "d"))
    stage_since = dict(Account.objects.filter(pk__in=ids).values_list("pk", "lifecycle_stage_since"))
    detractors = set(SurveyResponse.objects.filter(
        account_id__in=ids, kind="nps", score__lte=6, responded_at__date__gte=since).values_list("account_id", flat=True))
    complaints = set(Ticket.objects.filter(account_id__in=ids, opened_at__date__gte=since).filter(
        Q(category__iexact="complaint") | Q(priority__in=["high", "urgent"])).values_list("account_id", flat=True))
    left = set(Contact.objects.filter(account_id__in=ids, status=Contact.Status.LEFT, is_key_person=True).filter(
        Q(left_on__gte=since) | Q(left_on__isnull=True)).values_list("account_id", flat=True))
    rows = []
    for pk in ids:
        inputs = estimates.get(pk) or {}
        p_alive = inputs.get("p_alive") if isinstance(inputs, dict) else None
        dates = [d for d in (last_order.get(pk), last_use.get(pk)) if d is not None]
        last = max(dates) if dates else stage_since.get(pk)
        reason = ("detractor" if pk in detractors else "complaints" if pk in complaints
                  else "champion_left" if pk in left else "none_known")
        rows.append((float(p_alive) if p_alive is not None else np.nan, float(revenue.get(pk) or 0), last,
                     (today - last).days if last else LOOKBACK_DAYS, reason))
    frame = pd.DataFrame(rows, columns=columns, index=pd.Index(ids, name="account_id"))
    return pd.concat([frame, reactivation_potential(frame)], axis=1)


def explain(row, currency: str | None = None) -> list[str]:
    """The score in sentences a CSM can read aloud."""
    if row["alive_source"] == "bgnbd":
        alive = _("P(alive) from their order history (BG/NBD): %(p).0f%%") % {"p": 100 * row["alive"]}
    else:
        alive = _("No order model for them: the chance they are still reachable is taken from how long they have "
                  "been quiet, %(p).0f%%") % {"p": 100 * row["alive"]}
    return [
        alive,
        _("Past revenue %(value)s, more than %(share).0f%% of the dormant customers") % {
            "value": money(row["past_value"], currency), "share": 100 * row["value"]},
        _("Quiet for %(days)s days (weight %(w).0f%%)") % {"days": int(row["days_quiet"]), "w": 100 * row["recency"]},
        _("Why they went quiet: %(reason)s (× %(factor).1f)") % {
            "reason": REASONS[row["reason"]], "factor": REASON_FACTORS[row["reason"]]},
    ]


@dataclass
class DormantRow:
    account: Account
    score: float
    days_quiet: int
    past_value: float
    reason: str
    lines: list[str]


def dormant_list(user, *, today: dt.date | None = None, limit: int = 200) -> list[DormantRow]:
    """The dormant accounts the user may see, highest reactivation potential first."""
    today = today or timezone.localdate()
    accounts = {a.pk: a for a in visible_accounts(user).filter(lifecycle_stage=LifecycleStage.DORMANT)
                .select_related("sales_owner", "csm")}
    frame = _all_dormant(today)
    frame = frame[frame.index.isin(list(accounts))].sort_values("score", ascending=False, kind="stable")
    currency = workspace_currency()
    return [
        DormantRow(accounts[pk], float(row["score"]), int(row["days_quiet"]), float(row["past_value"]),
                   str(REASONS[row["reason"]]), explain(row, currency))
        for pk, row in frame.head(limit).iterrows()
    ]


def scores(account_ids, today: dt.date) -> pd.Series:
    """The reactivation potential of the dormant accounts among ``account_ids`` (NaN for others):
    what a playbook's ``reactivation_potential`` condition reads."""
    return _all_dormant(today)["score"].astype(float).reindex(list(account_ids))


def _all_dormant(today: dt.date) -> pd.DataFrame:
    """Every dormant account's potential: the value percentile ranks among all of them, so an
    account's score does not depend on who asks."""
    dormant = Account.objects.filter(lifecycle_stage=LifecycleStage.DORMANT).values_list("pk", flat=True)
    return potential_frame(list(dormant), today)
