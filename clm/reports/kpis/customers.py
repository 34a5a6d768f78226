"""Customer KPIs of activation and growth: early activity of new customers (clm.usage's daily
rollups; their time to first value is the onboardings', in kpis.activation), repurchase (orders),
NPS (clm.analytics.nps), high-value share (RFM value classes), referrals, and win-back cases
(clm.automation)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils.translation import gettext as _

from clm.analytics.nps import net_promoter_score
from clm.automation.models import Case
from clm.commerce.models import Order
from clm.core.frames import day_numbers, iso, read_frame
from clm.service.models import SurveyResponse
from clm.usage.models import UsageDaily
from clm.value.models import TierAssignment

from .base import Result, Scope, day_start, mean, missing, not_computed_by, share

NPS_WINDOW_DAYS = 90  # the shortest span NPS is read over (relationship surveys go out quarterly)
HIGH_VALUE = "important_value"  # 重要价值客户, the top cell of the RFM value map (clm.analytics.rfm)


def _starts(scope: Scope, period) -> pd.DataFrame:
    """The scope's customers who started from the span's first day on: account_id, since (the
    day they became customers), referred (by an account or a contact); read once per scope."""

    def load(first):
        rows = scope.accounts.filter(customer_since__gte=first, customer_since__lte=scope.today).order_by().values_list(
            "pk", "customer_since", "referred_by_account_id", "referred_by_contact_id")
        return pd.DataFrame([(a, since, bool(by_account or by_contact)) for a, since, by_account, by_contact in rows],
                            columns=["account_id", "since", "referred"])

    return scope.dated("customer starts", period, load)


def _new_customers(scope: Scope, period) -> pd.DataFrame:
    starts = _starts(scope, period)
    return starts[scope.inside(period, starts["since"])]


def _no_new(period) -> str:
    return _("No customer started in %(period)s.") % {"period": period.label}


def _first_active_days(scope: Scope, period) -> dict[int, dt.date]:
    """Each customer of ``_starts``' first day with an active user on or after the day they
    started; read once per scope."""

    def load(first):
        # per customer, the first row of its (account, day) index from the day it started: a
        # grouped MIN over their usage read most of the table (0.6 s on 10,000 accounts)
        earliest = UsageDaily.objects.filter(account=OuterRef("pk"), active_users__gt=0,
                                             day__gte=OuterRef("customer_since")).order_by("day").values("day")[:1]
        rows = scope.accounts.filter(customer_since__gte=first, customer_since__lte=scope.today).order_by().annotate(
            first_active=Subquery(earliest)).values_list("pk", "first_active")
        return {account: day for account, day in rows if day is not None}

    return scope.dated("first active days", period, load)


def _active_within(scope: Scope, period, days: int) -> Result:
    """Of the customers who started in the period and have been customers for ``days`` days by
    now, the share with an active user on at least one of their first ``days`` days."""
    new = _new_customers(scope, period)
    if new.empty:
        return missing(_no_new(period))
    if not scope.memo("usage recorded", UsageDaily.objects.exists):
        return missing(_("No product usage is recorded yet."))
    observed = new[[since + dt.timedelta(days=days - 1) < scope.today for since in new["since"]]]
    if observed.empty:
        return missing(_("None of the customers who started in %(period)s has been one for %(days)s days yet.")
                       % {"period": period.label, "days": days})
    first_active = _first_active_days(scope, period)
    active = {int(a) for a, since in zip(observed["account_id"], observed["since"], strict=True)
              if a in first_active and (first_active[a] - since).days < days}
    return share(len(active), len(observed), active, when_empty=_no_new(period))


def active_rate_7d(scope: Scope, period) -> Result:
    return _active_within(scope, period, 7)


def active_rate_30d(scope: Scope, period) -> Result:
    return _active_within(scope, period, 30)


def _order_days(scope: Scope, period) -> pd.DataFrame:
    """The days on which the accounts that ordered in the period ordered, up to its end (the
    period's buyers and their earlier orders: all repurchase reads), as days since 1970; the
    orders of the span's buyers read once per scope."""

    def load(first):
        orders = scope.records(Order.objects.filter(ordered_on__lte=scope.today))
        buyers = orders.filter(ordered_on__gte=first).values("account_id")
        frame = read_frame(
            orders.filter(account_id__in=buyers).order_by().values_list("account_id", iso("ordered_on")).distinct(),
            ["account_id", "day"],
        )
        frame["day"] = day_numbers(frame["day"])
        return frame.sort_values(["account_id", "day"], ignore_index=True)

    def cut():
        frame = scope.dated("order days", period, load)
        frame = frame[frame["day"] <= _day_number(period.as_of(scope.today))]
        buyers = frame.loc[frame["day"] >= _day_number(period.start), "account_id"].unique()
        return frame[frame["account_id"].isin(buyers)].reset_index(drop=True)

    return scope.memo(("order days", period.label), cut)


def _day_number(day: dt.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def repurchase_rate(scope: Scope, period) -> Result:
    """Of the accounts that ordered in the period, the share that had ordered before it (复购率)."""
    orders = _order_days(scope, period)
    start = _day_number(period.start)
    buyers = orders[orders["day"] >= start]["account_id"].unique()
    again = orders[orders["day"] < start]["account_id"].unique()
    return share(len(again), len(buyers), again,
                 when_empty=_("No order was placed in %(period)s.") % {"period": period.label})


def repurchase_interval(scope: Scope, period) -> Result:
    """Mean days between an order in the period and the same account's previous order (复购周期)."""
    orders = _order_days(scope, period)
    gap = orders.groupby("account_id")["day"].diff()
    inside = (orders["day"] >= _day_number(period.start)) & gap.notna()
    return mean(gap[inside].astype(float), orders.loc[inside, "account_id"],
                when_empty=_("No repeat order was placed in %(period)s.") % {"period": period.label})


def nps(scope: Scope, period) -> Result:
    """NPS of the answers in the period; a period shorter than ``NPS_WINDOW_DAYS`` (a month) reads
    the answers of the ``NPS_WINDOW_DAYS`` days up to its end instead: relationship surveys go out
    quarterly, so a month alone would have no answer two months in three."""
    def load(first):
        return list(scope.records(SurveyResponse.objects.filter(kind=SurveyResponse.Kind.NPS,
                                                               responded_at__gte=day_start(first)))
                    .order_by().values_list("account_id", "score", "responded_at"))

    last = period.as_of(scope.today)
    first = min(period.start, last - dt.timedelta(days=NPS_WINDOW_DAYS - 1))
    start, end = day_start(first), day_start(last + dt.timedelta(days=1))
    answers = scope.dated("nps answers", period, load, lead_days=NPS_WINDOW_DAYS)
    rows = [(a, s) for a, s, at in answers if start <= at < end]
    score = net_promoter_score([s for _a, s in rows])
    if score.score is None:
        return missing(_("No NPS answer came in from %(first)s to %(last)s.") % {"first": first, "last": last})
    return Result(
        value=score.score, numerator=float(score.promoters - score.detractors), denominator=float(score.responses),
        account_ids=sorted({a for a, _s in rows}),
        breakdown={"promoters": float(score.promoters), "passives": float(score.passives),
                   "detractors": float(score.detractors)},
    )


def high_value_share(scope: Scope, period) -> Result:
    """Share of the accounts with a value class (RFM, latest run up to the period's end) that are
    important-value customers (重要价值客户)."""
    tiers = scope.records(TierAssignment.objects.filter(as_of__lte=period.as_of(scope.today)))
    day = tiers.aggregate(day=Max("as_of"))["day"]
    if day is None:
        return missing(not_computed_by(TierAssignment, scope, _("Value classes")))
    rows = list(tiers.filter(as_of=day).exclude(value_class="").values_list("account_id", "value_class"))
    high = [a for a, c in rows if c == HIGH_VALUE]
    return share(len(high), len(rows), high,
                 when_empty=_("No account has bought enough to be given a value class yet."))


def referral_rate(scope: Scope, period) -> Result:
    """Share of the customers who started in the period that were referred by another customer."""
    if not scope.memo("referrals recorded", lambda: scope.accounts.filter(
            Q(referred_by_account__isnull=False) | Q(referred_by_contact__isnull=False)).exists()):
        return missing(_("No referral is recorded yet (“referred by” on the account)."))
    new = _new_customers(scope, period)
    referred = new.loc[new["referred"], "account_id"]
    return share(len(referred), len(new), referred, when_empty=_no_new(period))


def _winback_frame(scope: Scope, period) -> pd.DataFrame:
    """Win-backs evaluated in the period (clm.automation.winback), and win-back cases closed in it
    without the steps (closed by hand): account_id, cause, offer, won, arr_won_back."""
    return scope.memo(("win-backs", period.label), lambda: _load_winbacks(scope, period))


def _load_winbacks(scope: Scope, period) -> pd.DataFrame:
    from clm.automation import winback_lists
    from clm.automation.models import WinBack

    start, end = scope.day_range(period)
    steps = scope.records(WinBack.objects.filter(evaluated_at__gte=start, evaluated_at__lt=end))
    frame = winback_lists.evaluated(steps)
    by_hand = scope.records(Case.objects.filter(
        type=Case.Type.WIN_BACK, status=Case.Status.CLOSED, closed_at__gte=start, closed_at__lt=end,
    ).filter(Q(winback__isnull=True) | ~Q(winback__step="evaluated"))).order_by().values_list("account_id", "root_cause__code", "outcome")
    rows = [(a, c or "", "", o == Case.Outcome.SUCCESS, 0.0) for a, c, o in by_hand]
    if rows:
        extra = pd.DataFrame(rows, columns=["account_id", "cause", "offer", "won", "arr_won_back"])
        frame = pd.concat([frame.drop(columns=["result"]), extra], ignore_index=True)
    return frame


def _winback_groups(frame: pd.DataFrame) -> tuple[dict[str, float], dict[str, list[int]]]:
    from clm.automation import winback_lists

    breakdown, groups = {}, {}
    for prefix, table in (("cause", winback_lists.by_cause(frame)), ("offer", winback_lists.by_offer(frame[frame["offer"] != ""]))):
        for key, row in table.iterrows():
            breakdown[f"{prefix}:{key}"] = float(row["rate"])
            groups[f"{prefix}:{key}"] = sorted({int(a) for a in frame.loc[frame[prefix] == key, "account_id"]})
    return breakdown, groups


def winback_success(scope: Scope, period) -> Result:
    """Won back (retained or renewed at the evaluation; a hand-closed case closed as a success) ÷
    win-backs evaluated in the period; by cause and by offer in the breakdown."""
    frame = _winback_frame(scope, period)
    won = frame.loc[frame["won"], "account_id"].unique()
    result = share(int(frame["won"].sum()), len(frame), won,
                   when_empty=_("No win-back case was evaluated or closed in %(period)s.") % {"period": period.label})
    if result.has_value:
        result.breakdown, result.groups = _winback_groups(frame)
        result.breakdown.update({"won_back": float(frame["won"].sum()), "lost": float((~frame["won"]).sum())})
    return result


def winback_revenue(scope: Scope, period) -> Result:
    """The ARR of the customers won back by win-backs evaluated in the period; by cause and by offer."""
    frame = _winback_frame(scope, period)
    if frame.empty:
        return missing(_("No win-back case was evaluated or closed in %(period)s.") % {"period": period.label})
    won = frame[frame["won"]]
    breakdown = {f"cause:{k}": float(v) for k, v in won.groupby("cause")["arr_won_back"].sum().items()}
    breakdown.update({f"offer:{k}": float(v) for k, v in won[won["offer"] != ""].groupby("offer")["arr_won_back"].sum().items()})
    return Result(value=float(won["arr_won_back"].sum()), numerator=float(won["arr_won_back"].sum()),
                  denominator=float(len(frame)), account_ids=sorted({int(a) for a in won["account_id"]}), breakdown=breakdown)
