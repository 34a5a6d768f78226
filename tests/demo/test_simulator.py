"""The demo company simulator: deterministic, the expected shape, coherent contracts, signals
that precede outcomes, and usage rollups that agree with the rows and events behind them."""

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from clm.commerce.models import Order, Payment, Subscription, SubscriptionChange
from clm.commerce.services import classify_change
from clm.customers.models import Account, Contact, Interaction, Tag, TagCategory
from clm.demo.models import TrueState
from clm.demo.simulator import SimulationError, digest, simulate
from clm.sales.models import ChannelSpend, Lead, Opportunity, OpportunityStageChange
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import Feature, UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily
from tests.demo.conftest import AS_OF

pytestmark = pytest.mark.django_db


def frame(queryset, *fields):
    return pd.DataFrame(list(queryset.values_list(*fields)), columns=list(fields))


def active_users_by_day(account_ids):
    rows = frame(UsageDaily.objects.filter(account_id__in=account_ids), "account_id", "day", "active_users")
    return {a: dict(zip(g["day"], g["active_users"], strict=True)) for a, g in rows.groupby("account_id")}


# ------------------------------------------------------------------ determinism and arguments


def test_the_same_seed_and_date_build_the_same_company_and_another_seed_does_not(company):
    simulate(40, 6, 11, AS_OF, wipe=True)
    first = digest()
    simulate(40, 6, 11, AS_OF, wipe=True)
    assert digest() == first
    simulate(40, 6, 12, AS_OF, wipe=True)
    assert digest() != first


def test_it_refuses_to_build_over_existing_customers_without_wipe(company):
    with pytest.raises(SimulationError, match="--wipe"):
        simulate(10, 3, 1, AS_OF)
    assert Account.objects.count() == 250


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"accounts": 0}, "--accounts 0"),
        ({"months": 0}, "--months 0"),
        ({"months": 121}, "--months 121"),
        ({"seed": -1}, "--seed -1"),
        ({"raw_event_days": 500}, "--raw-event-days 500"),
        ({"raw_event_days": 90, "months": 2}, "--raw-event-days 90"),
    ],
)
def test_it_rejects_arguments_out_of_range_naming_them(company, arguments, message):
    call = {"accounts": 10, "months": 3, "seed": 1, "as_of": AS_OF, "wipe": True} | arguments
    with pytest.raises(SimulationError, match=message):
        simulate(**call)
    assert Account.objects.count() == 250  # nothing was touched


def test_bulk_loading_leaves_every_index_and_foreign_key_in_place(company):
    tables = ["usage_usagedailyuser", "usage_usagedaily", "usage_usagefeaturedaily", "usage_usageevent", "customers_contact",
              "commerce_subscriptionchange"]
    with connection.cursor() as cursor:
        before = {t: connection.introspection.get_constraints(cursor, t) for t in tables}
    simulate(20, 3, 5, AS_OF, wipe=True)
    with connection.cursor() as cursor:
        after = {t: connection.introspection.get_constraints(cursor, t) for t in tables}
    for t in tables:
        assert sorted(before[t]) == sorted(after[t]), t
        assert any(c["foreign_key"] or c["unique"] and not c["primary_key"] for c in after[t].values()), t
    # Raw events and their rollups carry no foreign keys by design (clm.usage.models); the rest do.
    assert all(any(c["foreign_key"] for c in after[t].values()) for t in tables if not t.startswith("usage_"))


# ------------------------------------------------------------------ shape


def test_it_builds_a_whole_customer_base(company):
    assert Account.objects.count() == 250
    assert TrueState.objects.count() == 250
    assert not Account.objects.exclude(pk__in=TrueState.objects.values("account_id")).exists()
    counts = {m.__name__: m.objects.count() for m in (
        Contact, Lead, Opportunity, OpportunityStageChange, Subscription, SubscriptionChange, Order, Payment,
        Ticket, SurveyResponse, Interaction, UsageDaily, UsageFeatureDaily, UsageDailyUser, UsageEvent,
    )}  # fmt: skip
    assert all(n > 0 for n in counts.values()), counts
    assert counts["Contact"] >= 2 * 100
    assert counts["Lead"] > 150 and counts["Payment"] == counts["Order"]
    assert ChannelSpend.objects.values("channel").distinct().count() == 6
    assert Feature.objects.filter(is_core=True).count() >= 3
    assert Tag.objects.filter(category__name="产线自动化率").count() == 3
    assert TagCategory.objects.filter(name__in=["数字化成熟度", "决策周期"]).count() == 2
    assert Account.objects.filter(tags__category__name="产线自动化率").exclude(industry="制造业").count() == 0
    names = list(Account.objects.values_list("name", flat=True))
    assert any(n.endswith("有限公司") for n in names) and any(n.isascii() for n in names)
    assert set(Lead.objects.values_list("status", flat=True)) == {
        "mal",
        "mql",
        "sql",
        "converted",
        "disqualified",
    }
    assert set(Opportunity.objects.values_list("type", flat=True)) == {"new", "expansion", "renewal"}
    assert Opportunity.objects.filter(stage="lost").exclude(lost_reason="").exists()
    assert Ticket.objects.filter(category="complaint").exists()
    assert set(SurveyResponse.objects.values_list("kind", flat=True)) == {"nps", "csat"}


@pytest.mark.parametrize(
    "model",
    [Account, Contact, Interaction, Lead, Opportunity, OpportunityStageChange, Subscription, SubscriptionChange, Order,
     Payment, Ticket, SurveyResponse, ChannelSpend, TrueState, UsageDaily, UsageFeatureDaily, UsageEvent],
)  # fmt: skip
def test_generated_rows_pass_the_models_own_validation(company, model):
    ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
    sample = ids[:: max(1, len(ids) // 200)]  # about 200 rows spread over the table
    for row in model.objects.filter(pk__in=sample):
        row.full_clean(validate_unique=False)


def test_every_foreign_key_points_at_a_row(company):
    # the bulk load sets foreign-key checks aside while it writes; the data must not need them
    connection.check_constraints()


def test_opportunities_carry_their_stage_history(company):
    won = Opportunity.objects.filter(stage="won").annotate(steps=Count("stage_history"))
    assert won.exists() and all(o.steps == 5 for o in won)  # qualify, discovery, proposal, negotiation, won
    last = {o.opportunity_id: o.to_stage for o in OpportunityStageChange.objects.order_by("changed_at", "id")}
    assert all(last[o.pk] == o.stage for o in Opportunity.objects.all())


def test_referred_accounts_point_to_a_customer_who_was_with_us_first(company):
    referred = Account.objects.filter(acquisition_channel="转介绍")
    assert referred.exists()
    for account in referred.select_related("referred_by_account"):
        referrer = account.referred_by_account
        assert referrer is not None and referrer.pk != account.pk
        assert referrer.customer_since < account.created_at.date()
        assert account.referred_by_contact.account_id == referrer.pk


def test_staff_and_the_demo_login_exist(company):
    from clm.core.models import User

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("clm-demo-2026")
    owners = User.objects.filter(pk__in=Account.objects.values("sales_owner_id"))
    assert owners.exists() and all(u.has_role("Sales") and u.team_id for u in owners)
    assert all(u.has_role("CSM") for u in User.objects.filter(pk__in=Account.objects.values("csm_id")))


# ------------------------------------------------------------------ contracts


def test_every_contract_history_is_coherent(company):
    changes = defaultdict(list)
    for c in SubscriptionChange.objects.order_by("effective_date", "id"):
        changes[c.subscription_id].append(c)
    for sub in Subscription.objects.all():
        history = changes[sub.pk]
        assert history[0].kind == "new" and history[0].mrr_before == 0, sub.pk
        assert history[0].effective_date == sub.start_date
        before = None
        for c in history:
            after = {"mrr": c.mrr_after if c.status_after not in ("cancelled", "expired") else sub.mrr,
                     "seats": c.seats_after, "status": c.status_after,
                     "end_date": c.effective_date if c.kind == "renewal" else None}  # fmt: skip
            if before is not None:
                assert c.mrr_before == (0 if before["status"] in ("cancelled", "expired") else before["mrr"])
                assert c.seats_before == before["seats"]
            assert classify_change(before, after) == c.kind, (sub.pk, c.kind)
            before = after | {"mrr": c.mrr_after, "end_date": None}
        current = 0 if sub.status in ("cancelled", "expired") else sub.mrr
        assert sum(c.mrr_delta for c in history) == current, sub.pk
        assert history[-1].status_after == sub.status


def test_churned_accounts_contracts_end_at_the_true_churn_date(company):
    churned = TrueState.objects.filter(churn_date__isnull=False)
    assert churned.count() >= 5
    churn_days = defaultdict(list)
    for c in SubscriptionChange.objects.filter(kind="churn"):
        churn_days[c.account_id].append(c.effective_date)
    for truth in churned:
        assert any(abs((d - truth.churn_date).days) <= 3 for d in churn_days[truth.account_id]), (
            truth.account_id
        )
        live = Subscription.objects.filter(account_id=truth.account_id, status="active")
        if truth.returned_on is None:
            assert not live.exists()
        else:
            assert live.filter(
                changes__kind__in=["new", "reactivation"], changes__effective_date=truth.returned_on
            ).exists()


def test_churned_and_dormant_customers_come_back(company):
    assert SubscriptionChange.objects.filter(kind="reactivation").exists()
    assert TrueState.objects.filter(churn_date__isnull=False, returned_on__isnull=False).exists()
    dormant = TrueState.objects.filter(dormant_since__isnull=False)
    assert dormant.exists()
    for truth in dormant.filter(returned_on__isnull=True):
        # a dormant customer neither orders nor uses the product after it stopped
        assert not Order.objects.filter(
            account_id=truth.account_id, ordered_on__gt=truth.dormant_since
        ).exists()
        assert not UsageDaily.objects.filter(
            account_id=truth.account_id, day__gte=truth.dormant_since
        ).exists()
        assert not Subscription.objects.filter(account_id=truth.account_id).exists()


def test_some_invoices_are_paid_late_and_some_are_still_overdue(company):
    payments = frame(Payment.objects.all(), "due_on", "paid_on", "status")
    paid = payments.dropna(subset=["paid_on"])
    late = (paid["paid_on"] > paid["due_on"]).mean()
    overdue = ((payments["status"] == "open") & (payments["due_on"] < AS_OF)).sum()
    assert 0.03 < late < 0.5
    assert overdue > 0
    assert (payments["status"] == "paid").mean() > 0.8


def test_order_amounts_add_up_from_their_lines_and_carry_a_margin(company):
    for order in Order.objects.annotate(lines_amount=Sum("lines__amount"), lines_cost=Sum("lines__cost"))[
        :300
    ]:
        assert order.amount == order.lines_amount and order.cost == order.lines_cost
        assert 0 < order.cost < order.amount


# ------------------------------------------------------------------ signals precede outcomes


def churners_with_history(start):
    truths = TrueState.objects.filter(churn_date__gte=start + dt.timedelta(days=240)).select_related(
        "account"
    )
    return [
        t
        for t in truths
        if t.account.customer_since and t.account.customer_since < t.churn_date - dt.timedelta(days=240)
    ]


def test_usage_decays_for_months_before_a_churn(company):
    churners = churners_with_history(company.start)
    assert len(churners) >= 4
    usage = active_users_by_day([t.account_id for t in churners])
    last, baseline = [], []
    for t in churners:
        days = usage.get(t.account_id, {})
        c = t.churn_date
        lo = max(company.start, t.account.customer_since + dt.timedelta(days=45), c - dt.timedelta(days=365))
        hi = c - dt.timedelta(days=180)
        window = [lo + dt.timedelta(days=k) for k in range((hi - lo).days)]
        baseline.append(sum(days.get(d, 0) for d in window) / len(window))
        last.append(sum(days.get(c - dt.timedelta(days=k), 0) for k in range(1, 31)) / 30)
    assert sum(last) < 0.5 * sum(baseline)
    assert sum(a < b for a, b in zip(last, baseline, strict=True)) >= 0.8 * len(churners)


def test_nps_falls_before_a_churn(company):
    churned = dict(TrueState.objects.filter(churn_date__isnull=False).values_list("account_id", "churn_date"))
    nps = frame(SurveyResponse.objects.filter(kind="nps"), "account_id", "score", "responded_at")
    nps["day"] = nps["responded_at"].dt.date
    nps["churn"] = nps["account_id"].map(churned)
    mine = nps.dropna(subset=["churn"])
    before = mine[(mine["day"] < mine["churn"]) & (mine["day"] >= mine["churn"] - dt.timedelta(days=150))]
    earlier = mine[mine["day"] < mine["churn"] - dt.timedelta(days=270)]
    never = nps[nps["churn"].isna()]
    assert len(before) >= 5
    assert before["score"].mean() < never["score"].mean() - 2
    assert before["score"].mean() < earlier["score"].mean() - 1.5


def test_champions_of_churned_customers_leave_more_often(company):
    truths = TrueState.objects.exclude(archetype="prospect")
    champion_left = set(
        Contact.objects.filter(role="champion", status="left").values_list("account_id", flat=True)
    )
    churned = [t.account_id for t in truths if t.churn_date and t.churn_date >= company.start]
    stayed = [t.account_id for t in truths if not t.churn_date and t.archetype in ("steady", "growing")]
    share = lambda ids: sum(a in champion_left for a in ids) / len(ids)  # noqa: E731
    assert share(churned) > share(stayed) + 0.2


def test_tickets_and_complaints_rise_while_a_customer_declines(company):
    churners = churners_with_history(company.start)
    tickets = frame(Ticket.objects.filter(account_id__in=[t.account_id for t in churners]),
                    "account_id", "opened_at", "category")  # fmt: skip
    tickets["day"] = tickets["opened_at"].dt.date
    late = early = late_complaints = early_complaints = 0.0
    for t in churners:
        mine = tickets[tickets["account_id"] == t.account_id]
        decline = dt.date.fromisoformat(t.propensities["decline_from"])
        start = max(company.start, t.account.customer_since + dt.timedelta(days=60))  # after onboarding
        if (decline - start).days < 60:
            continue
        before = mine[(mine["day"] >= start) & (mine["day"] < decline)]
        last = mine[(mine["day"] >= t.churn_date - dt.timedelta(days=90)) & (mine["day"] < t.churn_date)]
        early += len(before) / (decline - start).days
        late += len(last) / 90
        early_complaints += (before["category"] == "complaint").sum() / (decline - start).days
        late_complaints += (last["category"] == "complaint").sum() / 90
    assert late > 1.4 * early
    assert late_complaints > 2 * early_complaints


# ------------------------------------------------------------------ usage rollups


def test_active_users_equal_the_daily_user_rows(company):
    daily = frame(UsageDaily.objects.all(), "account_id", "day", "active_users").set_index(
        ["account_id", "day"]
    )
    people = frame(
        UsageDailyUser.objects.values("account_id", "day").annotate(n=Count("id")), "account_id", "day", "n"
    )
    people = people.set_index(["account_id", "day"])["n"]
    assert (daily["active_users"] > 0).all()
    assert people.reindex(daily.index).fillna(0).astype(int).equals(daily["active_users"].astype(int))
    assert len(people) == len(daily)


def test_every_day_counts_one_login_per_active_user_plus_feature_sessions(company):
    daily = frame(UsageDaily.objects.all(), "account_id", "day", "events", "active_users", "minutes")
    features = frame(UsageFeatureDaily.objects.values("account_id", "day").annotate(e=Sum("events"), m=Sum("minutes")),
                     "account_id", "day", "e", "m")  # fmt: skip
    merged = daily.merge(features, on=["account_id", "day"], how="left").fillna({"e": 0, "m": 0.0})
    assert (merged["events"] == merged["active_users"] + merged["e"]).all()
    assert ((merged["minutes"] - merged["m"]).abs() < 0.05).all()


def test_the_last_days_hold_raw_events_whose_aggregates_are_the_rollups(company):
    tz = ZoneInfo(settings.TIME_ZONE)
    first_raw = AS_OF - dt.timedelta(days=29)
    events = UsageEvent.objects.annotate(day=TruncDate("occurred_at", tzinfo=tz))
    assert events.order_by("occurred_at").first().day >= first_raw
    assert events.order_by("-occurred_at").first().day <= AS_OF
    per_day = frame(events.values("account_id", "day").annotate(n=Count("id"), users=Count("user_key", distinct=True),
                                                                seconds=Sum("duration_seconds")),
                    "account_id", "day", "n", "users", "seconds").set_index(["account_id", "day"])  # fmt: skip
    daily = frame(UsageDaily.objects.filter(day__gte=first_raw), "account_id", "day", "events", "active_users",
                  "minutes").set_index(["account_id", "day"])  # fmt: skip
    assert len(daily) > 100 and sorted(daily.index) == sorted(per_day.index)
    per_day = per_day.loc[daily.index]
    assert (per_day["n"] == daily["events"]).all()
    assert (per_day["users"] == daily["active_users"]).all()
    assert ((per_day["seconds"] / 60 - daily["minutes"]).abs() < 1e-6).all()
    per_feature = frame(events.exclude(feature="").values("account_id", "day", "feature").annotate(n=Count("id")),
                        "account_id", "day", "feature", "n").set_index(["account_id", "day", "feature"])["n"]  # fmt: skip
    rollup = frame(
        UsageFeatureDaily.objects.filter(day__gte=first_raw), "account_id", "day", "feature", "events"
    )
    rollup = rollup.set_index(["account_id", "day", "feature"])["events"]
    assert per_feature.sort_index().equals(rollup.sort_index())
    # the history before holds rollups only: what the retention would have left
    assert UsageDaily.objects.filter(day__lt=first_raw).exists()


def test_core_features_fade_faster_than_logins_before_a_churn(company):
    churners = churners_with_history(company.start)
    ids = [t.account_id for t in churners]
    core = list(Feature.objects.filter(is_core=True).values_list("key", flat=True))
    minutes = frame(
        UsageFeatureDaily.objects.filter(account_id__in=ids, feature__in=core), "account_id", "day", "minutes"
    )
    late = early = 0.0
    for t in churners:
        mine = minutes[minutes["account_id"] == t.account_id]
        late += (
            mine[(mine["day"] >= t.churn_date - dt.timedelta(days=30)) & (mine["day"] < t.churn_date)][
                "minutes"
            ].sum()
            / 30
        )
        lo = max(company.start, t.churn_date - dt.timedelta(days=365))
        hi = t.churn_date - dt.timedelta(days=180)
        early += mine[(mine["day"] >= lo) & (mine["day"] < hi)]["minutes"].sum() / max((hi - lo).days, 1)
    assert late < 0.35 * early
