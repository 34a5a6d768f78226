"""The read models behind the workspace pages: one account whole (the 360 page), one contact, and
a user's own work. Each reads a fixed number of queries, whatever the length of the history; the
caller has already found the account through clm.core.access."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, Func, IntegerField, Q, Sum, Value
from django.utils import timezone

from clm.analytics.nps import net_promoter_score
from clm.commerce.models import Order, Subscription
from clm.commerce.services import contracts_ended_on
from clm.core.access import restrict, visible_accounts
from clm.customers.models import Account, Contact, HealthBand, Interaction, LifecycleStage, WarningLevel
from clm.lifecycle import services as lifecycle
from clm.sales.models import Opportunity
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import Feature, UsageDailyUser, UsageFeatureDaily
from clm.value.models import CLVEstimate, Recommendation, TierAssignment
from clm.web import explain
from clm.web.labels import ROLE_LABELS

USAGE_DAYS = 365
USAGE_WEEKS = 52
STAGE_CHANGES_SHOWN = 5
RECENT = 10
OPEN_TICKETS = (Ticket.Status.OPEN, Ticket.Status.PENDING)


@dataclass
class AccountOverview:
    account: Account
    decision_chain: list[tuple[str, list[Contact]]]
    subscriptions: list[Subscription]
    arr: object
    next_renewal: dt.date | None
    orders: list[Order]
    tickets: list[Ticket]
    open_tickets: int
    surveys: list[SurveyResponse]
    nps: int | None
    opportunities: list[Opportunity]
    usage: dict = field(default_factory=dict)
    clv: CLVEstimate | None = None
    clv_explained: dict | None = None
    tier: TierAssignment | None = None
    tier_name: str = ""
    segment_name: str = ""
    recommendations: list[Recommendation] = field(default_factory=list)
    churned_on: dt.date | None = None  # a churned account: when its last contract ended


def decision_chain(contacts: list[Contact]) -> list[tuple[str, list[Contact]]]:
    """Contacts grouped by decision-chain role, in the chain's order; key people first, people who
    left last within a role."""
    groups = defaultdict(list)
    for contact in contacts:
        groups[contact.role].append(contact)
    order = [*Contact.Role.values, ""]
    chain = []
    for role in order:
        if role in groups:
            people = sorted(groups[role], key=lambda c: (c.status == Contact.Status.LEFT, not c.is_key_person, c.name))
            label = ROLE_LABELS.get(role, role) if role else ""
            chain.append((label, people))
    return chain


def usage_series(account_id: int, today: dt.date, weeks: int = USAGE_WEEKS) -> dict:
    """Weekly active users (distinct people active in the week) and core-feature minutes over the
    last ``weeks`` weeks, Monday to Sunday, as chart series (weeks without usage read as zero)."""
    this_week = today - dt.timedelta(days=today.weekday())
    start = this_week - dt.timedelta(weeks=weeks - 1)
    axis = [start + dt.timedelta(weeks=i) for i in range(weeks)]
    week = WeekNumber("day", start)
    users = dict(
        UsageDailyUser.objects.filter(account_id=account_id, day__gte=start, day__lte=today)
        .annotate(week=week).values("week").annotate(n=Count("user_key", distinct=True)).values_list("week", "n")
    )
    core = list(Feature.objects.filter(is_core=True).values_list("key", flat=True))
    minutes = dict(
        UsageFeatureDaily.objects.filter(account_id=account_id, day__gte=start, day__lte=today, feature__in=core)
        .annotate(week=week).values("week").annotate(total=Sum("minutes")).values_list("week", "total")
    ) if core else {}
    return {
        "weeks": [d.isoformat() for d in axis],
        "active_users": [users.get(i, 0) for i in range(weeks)],
        "core_minutes": [round(minutes.get(i, 0.0)) for i in range(weeks)],
        "has_data": bool(users or minutes),
    }


class WeekNumber(Func):
    """The number of the week a date falls in, counted from ``start`` (0 for its first seven
    days; for days from start on): date arithmetic the database groups by natively, where
    TruncWeek runs a Python function per row on SQLite (a year of one account's daily users is
    20,000 rows)."""

    output_field = IntegerField()

    def __init__(self, field: str, start: dt.date):
        super().__init__(F(field), Value(start))

    def _parts(self, compiler):
        (day, day_params), (start, start_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return day, start, [*day_params, *start_params]

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL: a date minus a date is whole days
        day, start, params = self._parts(compiler)
        return f"(({day} - CAST({start} AS date)) / 7)", params

    def as_sqlite(self, compiler, connection, **extra):
        day, start, params = self._parts(compiler)
        return f"CAST((julianday({day}) - julianday({start})) / 7 AS INTEGER)", params


def churned_on(account: Account) -> dt.date | None:
    """The day a churned account's last contract ended (cancelled or run out)."""
    return contracts_ended_on([account.pk]).get(account.pk, account.lifecycle_stage_since)


def account_overview(account: Account, today: dt.date | None = None) -> AccountOverview:
    today = today or timezone.localdate()
    contacts = list(account.contacts.all())
    subscriptions = list(account.subscriptions.select_related("product").order_by("-start_date")[:20])
    live = account.subscriptions.live()
    next_renewal = live.filter(renewal_date__gte=today).order_by("renewal_date").values_list("renewal_date", flat=True)
    tickets = list(account.tickets.order_by("-opened_at")[:RECENT])
    open_tickets = account.tickets.filter(status__in=OPEN_TICKETS).count()
    surveys = list(account.survey_responses.order_by("-responded_at")[:RECENT])
    nps = net_promoter_score([s.score for s in surveys if s.kind == SurveyResponse.Kind.NPS]).score
    churned = account.lifecycle_stage == LifecycleStage.CHURNED
    # A churned account has no live value: no tier, no CLV, nothing to offer it.
    clv = None if churned else CLVEstimate.objects.filter(account=account).order_by("-as_of").first()
    tier = None if churned else TierAssignment.objects.filter(account=account).order_by("-as_of").first()
    return AccountOverview(
        account=account,
        decision_chain=decision_chain(contacts),
        subscriptions=subscriptions,
        arr=dict(live.arr_by_account()).get(account.pk),
        next_renewal=next_renewal.first(),
        orders=list(account.orders.order_by("-ordered_on", "-pk")[:RECENT]),
        tickets=tickets,
        open_tickets=open_tickets,
        surveys=surveys,
        nps=None if nps is None else round(nps),
        opportunities=list(
            account.opportunities.exclude(stage__in=Opportunity.CLOSED)
            .select_related("owner", "pipeline")
            .prefetch_related("pipeline__stages")
            .order_by("expected_close")
        ),
        usage=usage_series(account.pk, today),
        # The value engine's latest figures for the account (clm.value), when it has run.
        clv=clv,
        clv_explained=explain.clv(clv),
        tier=tier,
        tier_name=explain.tier_name(tier.tier, tier.tier_label) if tier else "",
        segment_name=explain.segment_name(tier.segment) if tier and tier.segment else "",
        # offers whose window has ended are not suggestions any more
        recommendations=[] if churned else list(
            Recommendation.objects.filter(account=account, status__in=Recommendation.LIVE, due_to__gte=today)
            .select_related("product", "because_of").order_by("rank")[:5]
        ),
        churned_on=churned_on(account) if churned else None,
    )


@dataclass
class MyWork:
    red_accounts: list[Account]
    renewals: list[Subscription]
    open_tickets: list[Ticket]
    recent: list[Interaction]
    accounts_count: int


def my_work(user, today: dt.date | None = None, horizon_days: int = 90) -> MyWork:
    """The user's own book: accounts they own or look after (within what they may see)."""
    today = today or timezone.localdate()
    mine = visible_accounts(user).filter(Q(sales_owner=user) | Q(csm=user))
    mine_ids = mine.values("pk")
    return MyWork(
        red_accounts=list(mine.filter(health_band=HealthBand.RED).order_by(
            "health_score", "name").only("name", "health_score", "health_band", "lifecycle_stage")[:20]),
        renewals=list(
            restrict(Subscription.objects.live(), user).filter(
                account_id__in=mine_ids,
                renewal_date__gte=today, renewal_date__lte=today + dt.timedelta(days=horizon_days),
            ).select_related("account", "product").order_by("renewal_date")[:30]
        ),
        open_tickets=list(
            restrict(Ticket.objects.all(), user).filter(account_id__in=mine_ids, status__in=OPEN_TICKETS)
            .select_related("account").order_by("opened_at")[:20]
        ),
        recent=list(
            restrict(Interaction.objects.all(), user).filter(
                account_id__in=mine_ids, occurred_at__gte=timezone.now() - dt.timedelta(days=30),
            ).select_related("account", "owner", "contact").order_by("-occurred_at")[:20]
        ),
        accounts_count=mine.count(),
    )


@dataclass
class HealthPanel:
    """The lifecycle engine's view of one account: the latest score with its components, the
    trend over a year, the open early-warning signals, the latest stage changes with their
    reasons and the churn model's latest prediction."""

    latest: object
    components: list[dict]
    trend: dict
    signals: list
    stages: list
    prediction: object
    factors: dict | None = None  # the prediction's factors in words, adding up from the baseline
    closed: bool = False  # a churned account: the latest score is its last, not a live one
    warning: dict | None = None  # the current warning level in words, with why


def health_panel(account: Account) -> HealthPanel:
    """Read through clm.lifecycle's own functions (the engine's reads for the API and this page),
    in plain words (clm.web.explain). A churned account shows its last score and no live risk."""
    history = lifecycle.health_history(account, days=USAGE_DAYS)
    latest = history[-1] if history else None
    stored = sorted(latest.components or [], key=lambda c: -(c.get("weight") or 0)) if latest else []
    closed = account.lifecycle_stage == LifecycleStage.CHURNED
    prediction = None if closed else lifecycle.latest_prediction(account)
    signals = [] if closed else lifecycle.open_signals(account)
    for s in signals:
        s.words = explain.signal_words(s)
    warned = None if closed else lifecycle.latest_warning(account)
    warning = None
    if warned is not None:
        warning = {"level": warned.level, "label": warned.get_level_display(), "as_of": warned.as_of,
                   "colour": WarningLevel.colour(warned.level),
                   **explain.warning_reasons(warned.level, warned.evidence)}  # fmt: skip
    stages = lifecycle.stage_history(account)[-STAGE_CHANGES_SHOWN:][::-1]
    for t in stages:
        t.reason = explain.stage_reason(t.rule)
    return HealthPanel(
        latest=latest,
        components=explain.components(stored),
        trend={"days": [h.as_of.isoformat() for h in history], "scores": [round(h.score, 1) for h in history]},
        signals=signals,
        stages=stages,
        prediction=prediction,
        factors=explain.churn_factors(prediction.factors, prediction.probability) if prediction else None,
        closed=closed,
        warning=warning,
    )
