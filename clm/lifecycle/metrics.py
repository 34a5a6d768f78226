"""The metrics source: per-account features as of a date, for all accounts at once.

Every number is aggregated in the database (one grouped query per source, never a query per
account) and finished in pandas. Computing as of a past date reads only what was known then:
usage up to that day, tickets opened by then and answered by then, payments still unpaid then,
contracts in the state the ledger (SubscriptionChange) gave them then, opportunities in the stage
their history gave them then. Windows end on the as-of day, included: "30 days" is the as-of day
and the 29 before it; the baseline is the 90 days before those, scaled to 30 days.

Usage definitions. An active day has at least one active user. Logins are user-days (a user active
on a day counts once that day): the rollups keep who was active each day, not each login event,
and a user-day is what "login frequency" measures. Core minutes are the minutes spent in features
marked core. ``*_vs_baseline`` is the relative change (−0.5 = half the baseline), missing when the
baseline is zero (a change from nothing is not a percentage). Usage is compared per working day
(the holiday calendar, lifecycle.Holiday): ``*_baseline_30d`` is the baseline's rate per working
day times the working days of the last 30, so 春节 or 国庆 in either window moves neither side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from clm.commerce.frames import change_frame, order_frame
from clm.commerce.models import Payment, Subscription
from clm.core import workspace
from clm.customers.models import Account, Interaction
from clm.lifecycle import terms, voice
from clm.lifecycle.models import Holiday
from clm.sales.models import Opportunity, OpportunityStageChange
from clm.service.models import Ticket
from clm.usage.models import Feature, UsageDaily, UsageDailyUser, UsageFeatureDaily

RECENT_DAYS = 30
BASELINE_DAYS = 90  # the account's own prior baseline, before the recent window
WINDOW_DAYS = RECENT_DAYS + BASELINE_DAYS
ACTIVITY_LOOKBACK_DAYS = 400  # days_since_last_activity is missing beyond this
PEAK_MONTHS = 5  # logins_30d_vs_peak: the last 30 days against the best of the 30-day spans before them
KEY_ROLES = voice.KEY_ROLES
HIGH_PRIORITY = (Ticket.Priority.HIGH, Ticket.Priority.URGENT)
# the contract ledger's columns (clm.value.services.loading) by the names used here
LEDGER_NAMES = {
    "subscription_id": "subscription", "account_id": "account", "effective_date": "date", "mrr_after": "mrr",
    "seats_after": "seats", "status_after": "status",
}  # fmt: skip


@dataclass(frozen=True)
class Metric:
    kind: str  # number, text or flag (conditions.METRIC_KINDS)
    description: str


def _n(description: str) -> Metric:
    return Metric("number", description)


METRICS: dict[str, Metric] = {
    # usage
    "active_days_30d": _n("days with at least one active user in the last 30 days"),
    "active_days_baseline_30d": _n("active days the prior 90 days predict for the last 30 (per working day)"),
    "active_days_30d_vs_baseline": _n("relative change of active working days on the baseline (−0.5 = half)"),
    "logins_30d": _n("user-days active (logins) in the last 30 days"),
    "logins_baseline_30d": _n("logins the prior 90 days predict for the last 30 (per working day)"),
    "logins_30d_vs_baseline": _n("relative change of logins per working day against the baseline"),
    "logins_30d_vs_peak": _n(
        "relative change of logins per working day against the busiest of the five 30-day spans before"
    ),
    "core_minutes_30d": _n("minutes in core features in the last 30 days"),
    "core_minutes_baseline_30d": _n("core-feature minutes the baseline predicts for the last 30 days"),
    "core_minutes_30d_vs_baseline": _n("relative change of core-feature minutes per working day"),
    "core_active_days_120d": _n("days a core feature was used in the last 120 days"),
    "core_feature_share": _n("share of the core features used in the last 30 days (0–1)"),
    "active_users_30d": _n("distinct active users in the last 30 days"),
    "seats": _n("licensed seats on the contracts live on the date"),
    "seat_utilisation": _n("active users in the last 30 days / licensed seats"),
    "days_since_last_activity": _n("days since the last active day (missing: none in 400 days)"),
    # service
    "tickets_30d": _n("tickets opened in the last 30 days"),
    "tickets_baseline_30d": _n("tickets per 30 days in the baseline"),
    "tickets_30d_vs_baseline": _n("relative change of tickets against the baseline"),
    "high_priority_tickets_30d": _n("high or urgent tickets opened in the last 30 days"),
    "sla_breaches_90d": _n("tickets of the last 90 days whose first response was late (SLA by priority)"),
    "complaints_90d": _n("complaint tickets in the last 90 days"),
    "nps_latest": _n("the latest NPS answer (0–10)"),
    "csat_latest": _n("the latest CSAT answer (1–5)"),
    "nps_365d": _n("Net Promoter Score of the NPS answers in the last 365 days (−100 to 100)"),
    "nps_trend": _n("mean NPS answer of the last 180 days minus the 180 days before"),
    "csat_365d": _n("mean CSAT answer in the last 365 days (1–5)"),
    "csat_trend": _n("mean CSAT answer of the last 180 days minus the 180 days before"),
    # relationship
    "days_since_csm_interaction": _n("days since our last call, meeting, visit, email or note"),
    "days_since_customer_reply": _n(
        "days since the customer last reached us (inbound contact, ticket, survey)"
    ),
    "key_contacts_left_90d": _n(
        "key people (KP, decision maker, economic buyer, champion) who left in 90 days"
    ),
    "key_people_missing": _n(
        "key people who left and whose role no one holds now (missing: no key person on record)"
    ),
    # commercial
    "customer_ever": _n("1 if the account had a contract or an order by the date"),
    "subscription_history": _n("1 if the account ever had a contract by the date"),
    "subscriptions_active": _n("contracts live on the date"),
    "mrr": _n("monthly recurring revenue on the date"),
    "revenue_change_180d": _n("relative change of MRR against 180 days before"),
    "expansions_180d": _n("expansions in the last 180 days"),
    "contractions_180d": _n("contractions in the last 180 days"),
    "days_to_renewal": _n("days to the end of the current fixed term (missing for evergreen contracts)"),
    "renewal_within_180d": _n(
        "1 if a fixed term ends in the next 180 days, 0 if every term ends later (missing for evergreen contracts)"
    ),
    "renewal_in_90_180d": _n("1 if a fixed term ends in 90 to 180 days (missing for evergreen contracts)"),
    "logins_fall_before_renewal": _n(
        "the fall of logins from their peak (0–1) where the customer can leave within 180 days (a term ends "
        "by then, or the contract is evergreen); 0 where every term runs longer"
    ),
    "renewal_intent": _n(
        "stated renewal intent from the renewal deal's stage: −1 leaving, 0 undecided, 1 renewing"
    ),
    "overdue_days_max": _n(
        "days the oldest unpaid invoice is past due (0 when none; missing when no invoice has come due)"
    ),
    "days_since_last_purchase": _n("days since the last order or contract purchase"),
    "orders_365d": _n("orders in the last 365 days"),
    "revenue_365d": _n("order revenue in the last 365 days"),
    "tenure_days": _n("days since the first contract or order"),
    # firmographics
    "employee_count": _n("employees"),
    "industry": Metric("text", "industry"),
    "region": Metric("text", "region"),
    "development_stage": Metric("text", "company development stage"),
    "acquisition_channel": Metric("text", "acquisition channel"),
    "plan": Metric("text", "the product of the largest live contract"),
    # computed by the daily run after the metrics, for the rules that read them
    "health_score": _n("the health score of the date"),
    "health_band": Metric("text", "green, yellow or red"),
    "signals_firing": _n("early-warning signals firing on the date"),
    "signals_confirmed": _n("risk signals firing that have held for their confirm_days"),
    "churn_risk": _n("the churn model's probability of churning within its horizon (missing without a model)"),
    "churn_risk_over_threshold": _n("churn risk / the flag threshold chosen when the model was trained"),
    "warning_level": _n("0 none, 1 watch, 2 watch closely, 3 churn warning (the one that flags): grows with the evidence"),
}
DERIVED = ("health_score", "health_band", "churn_risk", "churn_risk_over_threshold", "signals_firing",
           "signals_confirmed", "warning_level")  # fmt: skip
KINDS = {name: metric.kind for name, metric in METRICS.items()}


class FutureDate(ValueError):
    """An as-of date after today: the future is not known yet."""


def today() -> dt.date:
    return timezone.localdate()


def check_as_of(as_of: dt.date) -> dt.date:
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise ValueError(f"as-of must be a date, got {as_of!r}")
    if as_of > today():
        raise FutureDate(f"as-of date {as_of.isoformat()} is in the future (today is {today().isoformat()})")
    return as_of


def day_end(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` in the workspace's time zone: "by the end of day" is ``< day_end``."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def compute(as_of: dt.date) -> pd.DataFrame:
    """One row per account (index: account id) with every metric of METRICS but the DERIVED ones."""
    check_as_of(as_of)
    frame = _frame(
        Account.objects.values_list(
            "id", "employee_count", "industry", "region", "development_stage", "acquisition_channel"
        ),
        ["account", "employee_count", "industry", "region", "development_stage", "acquisition_channel"],
    ).set_index("account")
    frame["employee_count"] = pd.to_numeric(frame["employee_count"], errors="coerce").astype(float)
    for column in ("industry", "region", "development_stage", "acquisition_channel"):
        frame[column] = frame[column].replace("", None)
    window = Window(as_of)
    parts = [
        _usage(window),
        _core_usage(window),
        _contracts(window),
        _orders(window),
        _payments(window),
        _tickets(window),
        voice.surveys(window),
        _interactions(window),
        voice.key_people(window),
        _renewal_intent(window),
    ]
    for part in parts:
        frame = frame.join(part, how="left")
    _finish(frame, window)
    columns = [m for m in METRICS if m not in DERIVED]
    return frame[columns]


class Window:
    def __init__(self, as_of: dt.date):
        self.as_of = as_of
        self.end = day_end(as_of)
        self.recent_from = as_of - dt.timedelta(days=RECENT_DAYS - 1)
        self.window_from = as_of - dt.timedelta(days=WINDOW_DAYS - 1)
        workdays = Holiday.working_days(self.window_from, as_of)
        self.recent_workdays = [d for d in workdays if d >= self.recent_from]
        self.base_workdays = [d for d in workdays if d < self.recent_from]
        # the five 30-day spans before the last 30 days (days 31–60 back, …, 151–180), working days only
        spans = Holiday.working_days(as_of - dt.timedelta(days=RECENT_DAYS * (PEAK_MONTHS + 1) - 1), as_of)
        self.span_workdays = [
            [d for d in spans if RECENT_DAYS * k <= (as_of - d).days < RECENT_DAYS * (k + 1)]
            for k in range(1, PEAK_MONTHS + 1)
        ]

    def day(self, days_back: int) -> dt.date:
        return self.as_of - dt.timedelta(days=days_back)

    def instant(self, days_back: int) -> dt.datetime:
        """The start of the day ``days_back - 1`` days before the as-of day: the start of a
        ``days_back``-day window that ends on it."""
        return day_end(self.as_of - dt.timedelta(days=days_back))


def _frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=columns)


def _grouped(queryset, columns: list[str]) -> pd.DataFrame:
    """A values().annotate() queryset as a frame indexed by account."""
    frame = _frame(queryset.values_list("account_id", *columns), ["account", *columns])
    return frame.set_index("account")


USAGE_SUMS = ["active_days_30d", "active_days_work", "active_days_base", "logins_30d", "logins_work", "logins_base"]  # fmt: skip


def _usage(w: Window) -> pd.DataFrame:
    # one pass over the rollups: the windows' counts and the last active day (400 days back)
    recent = Q(day__gte=w.recent_from)
    work, base = Q(day__in=w.recent_workdays), Q(day__in=w.base_workdays)
    active = Q(active_users__gt=0)
    rows = (
        UsageDaily.objects.filter(day__gte=w.day(ACTIVITY_LOOKBACK_DAYS - 1), day__lte=w.as_of)
        .values("account_id")
        .annotate(
            active_days_30d=Count("id", filter=recent & active),
            active_days_work=Count("id", filter=work & active),
            active_days_base=Count("id", filter=base & active),
            logins_30d=Sum("active_users", filter=recent),
            logins_work=Sum("active_users", filter=work),
            logins_base=Sum("active_users", filter=base),
            last_active=Max("day", filter=active),
            **{f"logins_span{k}": Sum("active_users", filter=Q(day__in=days)) for k, days in enumerate(w.span_workdays)},
        )
    )
    usage = _grouped(rows, [*USAGE_SUMS, "last_active", *(f"logins_span{k}" for k in range(PEAK_MONTHS))])
    usage["logins_30d_vs_peak"] = logins_vs_peak(usage, w)
    # "account in (all accounts)" lets SQLite seek the (account, day, user) index per account
    # instead of scanning all of it for 30 days of rows (4× faster there; no change on PostgreSQL)
    users = _grouped(
        UsageDailyUser.objects.filter(
            day__gte=w.recent_from, day__lte=w.as_of, account_id__in=Account.objects.values("id")
        )
        .values("account_id")
        .annotate(active_users_30d=Count("user_key", distinct=True)),
        ["active_users_30d"],
    )
    return usage.join(users, how="outer")


def logins_vs_peak(usage: pd.DataFrame, w: Window) -> pd.Series:
    """The last 30 days' logins per working day against the busiest of the five 30-day spans
    before them (per working day too, so a span with a holiday week is not a slump): a decline
    that set in months ago shows here in full, where the 90-day baseline has already sunk with
    it. Missing when none of those spans had a login."""
    recent = pd.to_numeric(usage["logins_work"], errors="coerce").fillna(0.0) / max(len(w.recent_workdays), 1)
    rates = pd.concat(
        [
            pd.to_numeric(usage[f"logins_span{k}"], errors="coerce").fillna(0.0) / len(days)
            for k, days in enumerate(w.span_workdays)
            if days
        ],
        axis=1,
    )
    return _relative(recent, rates.max(axis=1))


def _core_usage(w: Window) -> pd.DataFrame:
    core = list(Feature.objects.filter(is_core=True).values_list("key", flat=True))
    recent = Q(day__gte=w.recent_from)
    rows = (
        UsageFeatureDaily.objects.filter(day__gte=w.window_from, day__lte=w.as_of, feature__in=core)
        .values("account_id")
        .annotate(
            core_minutes_30d=Sum("minutes", filter=recent),
            core_minutes_work=Sum("minutes", filter=Q(day__in=w.recent_workdays)),
            core_minutes_base=Sum("minutes", filter=Q(day__in=w.base_workdays)),
            core_active_days_120d=Count("day", distinct=True),
            core_features_30d=Count("feature", distinct=True, filter=recent),
        )
    )
    frame = _grouped(
        rows, ["core_minutes_30d", "core_minutes_work", "core_minutes_base", "core_active_days_120d", "core_features_30d"]
    )  # fmt: skip
    frame["core_feature_share"] = frame["core_features_30d"] / len(core) if core else np.nan
    return frame.drop(columns="core_features_30d")


def _contracts(w: Window) -> pd.DataFrame:
    """Contract state from the ledger as of the date, and 180 days before."""
    changes = change_frame(as_of=w.as_of).rename(columns=LEDGER_NAMES)
    out = pd.DataFrame(index=pd.Index([], name="account"))
    if changes.empty:
        return out
    as_of = pd.Timestamp(w.as_of)
    now = _state(changes)
    then = _state(changes[changes["date"] <= as_of - pd.Timedelta(days=180)])
    live = now[now["live"]]
    by_account = changes.groupby("account")
    out = pd.DataFrame(
        {
            "first_contract": by_account["date"].min(),
            "last_contract_purchase": changes[
                changes["kind"].isin(["new", "renewal", "expansion", "reactivation"])
            ]
            .groupby("account")["date"]
            .max(),
        }
    )
    out["subscription_history"] = 1.0
    out["subscriptions_active"] = live.groupby("account").size()
    out["mrr"] = live.groupby("account")["mrr"].sum()
    out["seats"] = live.groupby("account")["seats"].max()
    out["mrr_180d_ago"] = then[then["live"]].groupby("account")["mrr"].sum() if len(then) else np.nan
    recent = changes[changes["date"] > as_of - pd.Timedelta(days=180)]
    out["expansions_180d"] = recent[recent["kind"] == "expansion"].groupby("account").size()
    out["contractions_180d"] = recent[recent["kind"] == "contraction"].groupby("account").size()
    for column in ("subscriptions_active", "mrr", "expansions_180d", "contractions_180d"):
        out[column] = out[column].fillna(0.0)
    out["days_to_renewal"] = terms.days_to_renewal(w.as_of, live)
    plan = _plan(live)
    out["plan"] = plan
    return out


def _state(changes: pd.DataFrame) -> pd.DataFrame:
    last = changes.groupby("subscription").tail(1).set_index("subscription")
    last["live"] = last["status"].isin(Subscription.LIVE_STATUSES)
    return last


def _plan(live: pd.DataFrame) -> pd.Series:
    if live.empty:
        return pd.Series(dtype=object)
    names = dict(Subscription.objects.filter(id__in=list(live.index)).values_list("id", "product__name"))
    ranked = live.assign(plan=[names.get(s) for s in live.index]).sort_values("mrr", kind="stable")
    return ranked.groupby("account")["plan"].last()


def _orders(w: Window) -> pd.DataFrame:
    orders = order_frame(as_of=w.as_of)
    if orders.empty:
        return pd.DataFrame(index=pd.Index([], name="account"))
    year = orders["day"] > np.datetime64(w.day(365), "D").astype(np.int64)
    account = orders["account_id"].rename("account")
    days = orders["day"].groupby(account)
    return pd.DataFrame(
        {
            "first_order": _dates(days.min()),
            "last_order": _dates(days.max()),
            "orders_365d": year.groupby(account).sum(),
            "revenue_365d": orders["amount"]
            .where(year, 0.0)
            .groupby(account)
            .sum()
            .round(2),  # cents, as stored
        }
    )


def _dates(day_numbers: pd.Series) -> pd.Series:
    return pd.Series(day_numbers.to_numpy().astype("datetime64[D]").astype(object), index=day_numbers.index)


def _payments(w: Window) -> pd.DataFrame:
    """The oldest invoice unpaid on the date, and how many invoices had come due by then (an
    account with none has no payment record to judge: its overdue days are missing, not 0)."""
    unpaid = Q(paid_on__isnull=True) | Q(paid_on__gt=w.as_of)
    rows = (
        Payment.objects.filter(due_on__lt=w.as_of)
        .exclude(status=Payment.Status.VOID)
        .values("account_id")
        .annotate(oldest_unpaid=Min("due_on", filter=unpaid), invoices_due=Count("id"))
    )
    return _grouped(rows, ["oldest_unpaid", "invoices_due"])


def _tickets(w: Window) -> pd.DataFrame:
    tickets = _frame(
        Ticket.objects.filter(opened_at__gte=w.instant(WINDOW_DAYS), opened_at__lt=w.end).values_list(
            "account_id", "opened_at", "priority", "category", "first_response_at"
        ),
        ["account", "opened_at", "priority", "category", "first_response_at"],
    )
    if tickets.empty:
        return pd.DataFrame(index=pd.Index([], name="account"))
    opened = pd.to_datetime(tickets["opened_at"], utc=True)
    recent = opened >= pd.Timestamp(w.instant(RECENT_DAYS))
    last_90 = opened >= pd.Timestamp(w.instant(90))
    limit = pd.to_timedelta(tickets["priority"].map(workspace.sla_hours()).fillna(24), unit="h")
    responded = pd.to_datetime(tickets["first_response_at"], utc=True)
    end = pd.Timestamp(w.end)
    # a response after the date was not known then: the ticket was still waiting
    waited = responded.where(responded < end, end) - opened
    breached = waited > limit
    high = tickets["priority"].isin(HIGH_PRIORITY)
    complaint = tickets["category"].str.lower().eq("complaint")
    account = tickets["account"]
    return pd.DataFrame(
        {
            "tickets_30d": recent.groupby(account).sum(),
            "tickets_base": (~recent).groupby(account).sum(),
            "high_priority_tickets_30d": (recent & high).groupby(account).sum(),
            "sla_breaches_90d": (last_90 & breached).groupby(account).sum(),
            "complaints_90d": (last_90 & complaint).groupby(account).sum(),
            "last_ticket": opened.groupby(account).max(),
        }
    ).rename_axis("account")


def _interactions(w: Window) -> pd.DataFrame:
    since = w.instant(ACTIVITY_LOOKBACK_DAYS)
    inbound = Q(direction=Interaction.Direction.INBOUND)
    rows = (
        Interaction.objects.filter(occurred_at__gte=since, occurred_at__lt=w.end)
        .values("account_id")
        .annotate(
            last_ours=Max("occurred_at", filter=~inbound), last_inbound=Max("occurred_at", filter=inbound)
        )
    )
    return _grouped(rows, ["last_ours", "last_inbound"])


def _renewal_intent(w: Window) -> pd.DataFrame:
    """The most pessimistic stage, as of the date, of the renewal deals due within 120 days of it."""
    deals = dict(
        Opportunity.objects.filter(
            type=Opportunity.Type.RENEWAL,
            expected_close__gte=w.day(30),
            expected_close__lte=w.as_of + dt.timedelta(days=120),
        ).values_list("id", "account_id")
    )
    if not deals:
        return pd.DataFrame(index=pd.Index([], name="account"))
    history = _frame(
        OpportunityStageChange.objects.filter(opportunity_id__in=list(deals), changed_at__lt=w.end)
        .order_by("changed_at", "id")
        .values_list("opportunity_id", "to_stage"),
        ["deal", "stage"],
    )
    if history.empty:
        return pd.DataFrame(index=pd.Index([], name="account"))
    stage = history.groupby("deal")["stage"].last()
    intent = stage.map(
        workspace.renewal_intent()
    )  # a renewal deal's stage read as the customer's stated intent
    account = stage.index.map(deals)
    return intent.groupby(account).min().rename("renewal_intent").rename_axis("account").to_frame()


def _relative(recent: pd.Series, baseline: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((recent - baseline) / baseline).where(baseline > 0)


def _finish(frame: pd.DataFrame, w: Window) -> None:
    """Fill the derived columns in place; absent sources mean zero counts."""
    for column in (
        *USAGE_SUMS, "core_minutes_30d", "core_minutes_work",
        "core_minutes_base", "core_active_days_120d", "active_users_30d", "tickets_30d", "tickets_base",
        "high_priority_tickets_30d", "sla_breaches_90d", "complaints_90d", "key_contacts_left_90d",
        "subscription_history", "subscriptions_active", "mrr", "expansions_180d", "contractions_180d",
        "orders_365d", "revenue_365d",
    ):  # fmt: skip
        if column not in frame:
            frame[column] = 0.0
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float).fillna(0.0)
    frame["tickets_baseline_30d"] = frame["tickets_base"] * RECENT_DAYS / BASELINE_DAYS
    # usage per working day: the baseline's rate times the recent window's working days
    per_workday = len(w.recent_workdays) / max(len(w.base_workdays), 1)
    for usage in ("active_days", "logins", "core_minutes"):
        frame[f"{usage}_baseline_30d"] = frame[f"{usage}_base"] * per_workday
        frame[f"{usage}_30d_vs_baseline"] = _relative(frame[f"{usage}_work"], frame[f"{usage}_baseline_30d"])
    frame["tickets_30d_vs_baseline"] = _relative(frame["tickets_30d"], frame["tickets_baseline_30d"])
    for column in (
        "core_feature_share",
        "seats",
        "nps_latest",
        "csat_latest",
        "nps_365d",
        "nps_trend",
        "csat_365d",
        "csat_trend",
        "key_people_missing",
        "renewal_intent",
        "days_to_renewal",
    ):
        frame[column] = _numbers(frame, column)
    frame["core_feature_share"] = (
        frame["core_feature_share"].fillna(0.0).where(frame["subscription_history"] > 0)
    )
    terms.renewal_window(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["seat_utilisation"] = (frame["active_users_30d"] / frame["seats"]).where(frame["seats"] > 0)

    def since(column):
        if column not in frame:
            return pd.Series(np.nan, index=frame.index)
        values = frame[column]
        if values.isna().all():
            return pd.Series(np.nan, index=frame.index)
        stamps = pd.to_datetime(values, utc=True) if _instants(values) else pd.to_datetime(values)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None)
        return (pd.Timestamp(w.as_of) - stamps.dt.normalize()).dt.days.astype(float)

    frame["days_since_last_activity"] = since("last_active")
    frame["days_since_csm_interaction"] = since("last_ours")
    reply = pd.concat([since("last_inbound"), since("last_ticket"), since("last_survey")], axis=1).min(
        axis=1, skipna=True
    )
    frame["days_since_customer_reply"] = reply
    overdue = since("oldest_unpaid")
    frame["overdue_days_max"] = overdue.fillna(0.0).where(_numbers(frame, "invoices_due") > 0)
    first = pd.concat([since("first_contract"), since("first_order")], axis=1).max(axis=1, skipna=True)
    frame["tenure_days"] = first
    frame["customer_ever"] = first.notna().astype(float)
    frame["days_since_last_purchase"] = pd.concat(
        [since("last_contract_purchase"), since("last_order")], axis=1
    ).min(axis=1, skipna=True)
    frame["revenue_change_180d"] = _relative(frame["mrr"], _numbers(frame, "mrr_180d_ago"))
    frame["plan"] = frame["plan"] if "plan" in frame else None
    frame["plan"] = frame["plan"].astype(object).where(frame["plan"].notna(), None)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _instants(values: pd.Series) -> bool:
    sample = values.dropna()
    return len(sample) > 0 and isinstance(sample.iloc[0], dt.datetime)
