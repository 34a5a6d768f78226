"""The metrics source, worked out by hand on the small world of conftest, and computed as of a
past date without reading anything that happened after it."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clm.commerce.models import Order, Payment, SubscriptionChange
from clm.customers.models import Account, Contact, Interaction
from clm.lifecycle import metrics
from clm.sales.models import OpportunityStageChange
from clm.service.models import SurveyResponse, Ticket

from .conftest import AS_OF, D, at, ledger, usage

# Usage per working day (the seeded holiday calendar, 国办发明电〔2023〕7号): June 2024 has 19
# working days (20 weekdays, 端午 takes Monday 06-10), 10 of them odd days with usage (3, 5, 7, 11,
# 13, 17, 19, 21, 25, 27). The baseline 2024-03-03 – 05-31 has 63 (65 weekdays, 清明 takes 04-04
# and 04-05, 劳动节 05-01 – 05-03; the make-up days 04-07, 04-28 and 05-11 are worked), 43 of them
# with usage (day of month not a multiple of 3). The baseline predicts ×19/63 of itself for June.
PER_WORKDAY = 19 / 63
ACME = {
    "active_days_30d": 15,  # odd days of June
    "active_days_baseline_30d": 43 * PER_WORKDAY,  # 12.97
    "active_days_30d_vs_baseline": 10 / (43 * PER_WORKDAY) - 1,  # −0.229
    "logins_30d": 45,  # 15 days × 3 users
    "logins_baseline_30d": 6 * 43 * PER_WORKDAY,  # 77.8
    "logins_30d_vs_baseline": 3 * 10 / (6 * 43 * PER_WORKDAY) - 1,  # −0.614
    # the busiest 30-day span of the five before June, per working day: 03-03 – 04-01 has 21 working
    # days, 15 of them with usage (not 6, 12, 15, 18, 21, 27; 3, 9, 24 and 30 fall on weekends):
    # 90 logins / 21; 04-02 – 05-01 and 05-02 – 05-31 have 21 each (清明, 劳动节, make-up days
    # 04-07, 04-28, 05-11), 14 with usage: 84 / 21 = 4.0; the two spans before March had none
    "logins_30d_vs_peak": (30 / 19) / (90 / 21) - 1,  # −0.632
    "core_minutes_30d": 75,
    "core_minutes_baseline_30d": 20 * 43 * PER_WORKDAY,  # 259.4
    "core_minutes_30d_vs_baseline": 5 * 10 / (20 * 43 * PER_WORKDAY) - 1,  # −0.807
    "core_active_days_120d": 75,
    "core_feature_share": 0.5,  # tasks, not approvals
    "active_users_30d": 3,
    "seats": 10,
    "seat_utilisation": 0.3,
    "days_since_last_activity": 1,
    "tickets_30d": 2,
    "tickets_baseline_30d": 1 / 3,
    "tickets_30d_vs_baseline": 5.0,
    "high_priority_tickets_30d": 1,
    "sla_breaches_90d": 1,  # the urgent ticket waited 10 h for a 4 h target
    "complaints_90d": 1,
    "nps_latest": 4,
    "days_since_csm_interaction": 10,
    "days_since_customer_reply": 5,
    "key_contacts_left_90d": 1,  # the champion; a user leaving does not count
    "key_people_missing": 1,  # the champion left and no one holds the role
    "nps_365d": 0.0,  # one promoter (9) and one detractor (4): (1 − 1) / 2
    "customer_ever": 1,
    "subscription_history": 1,
    "subscriptions_active": 1,
    "mrr": 1000,
    "revenue_change_180d": 0.25,  # 800 → 1,000
    "expansions_180d": 1,
    "contractions_180d": 0,
    "days_to_renewal": 185,  # the term ends 2025-01-01
    "renewal_intent": 0.0,  # the renewal deal is at "qualify"
    "overdue_days_max": 20,
    "days_since_last_purchase": 60,  # the expansion of 2024-05-01
    "orders_365d": 0,
    "tenure_days": 181,
    "employee_count": 120,
}


@pytest.fixture
def frame(world):
    return metrics.compute(AS_OF)


def test_each_metric_of_a_contract_customer_matches_the_worked_example(frame, world):
    row = frame.loc[world["acme"].pk]
    for name, expected in ACME.items():
        assert row[name] == pytest.approx(expected), name
    assert np.isnan(row["csat_latest"]) and np.isnan(row["csat_365d"])
    assert np.isnan(row["nps_trend"])  # both answers fall in the last 180 days: no half-year before
    assert row["plan"] == "Pro plan" and row["industry"] == "制造业"


def test_a_buyer_without_contract_and_a_lead(frame, world):
    shop, lead = frame.loc[world["shop"].pk], frame.loc[world["lead"].pk]
    assert (shop["customer_ever"], shop["subscription_history"], shop["subscriptions_active"]) == (1, 0, 0)
    assert (shop["tenure_days"], shop["days_since_last_purchase"]) == (150, 29)
    assert (shop["orders_365d"], shop["revenue_365d"]) == (2, 1200)
    assert np.isnan(shop["seat_utilisation"]) and np.isnan(shop["core_feature_share"])
    assert lead["customer_ever"] == 0 and np.isnan(lead["tenure_days"])
    assert lead["tickets_30d"] == 0 and np.isnan(lead["active_days_30d_vs_baseline"])
    # no login in the five months before: no peak to fall from
    assert np.isnan(shop["logins_30d_vs_peak"]) and np.isnan(lead["logins_30d_vs_peak"])


def test_logins_against_the_peak_see_a_decline_the_baseline_has_sunk_with(world):
    """Acme's logins fall by 6 a day each month from March (60, 54, 48, 42 a day): in June the
    90-day baseline (March–May) has sunk with them and sees −22%; the busiest month has not: −30%."""
    acme = world["acme"]
    from clm.usage.models import UsageDaily

    UsageDaily.objects.filter(account=acme).delete()
    per_month = {3: 60, 4: 54, 5: 48, 6: 42}
    for day in (D(2024, 3, 1) + dt.timedelta(days=n) for n in range(122)):
        UsageDaily.objects.create(account=acme, day=day, events=1, active_users=per_month[day.month])
    row = metrics.compute(AS_OF).loc[acme.pk]
    # every day has the month's users, so per working day each 30-day span reads its months' level:
    # the peak is the span 03-03 – 04-01, all March days but 04-01 (54): 20 working days of 60
    # and one of 54 (days 90–119 back)
    peak = (20 * 60 + 54) / 21
    assert row["logins_30d_vs_peak"] == pytest.approx(42 / peak - 1)  # −0.297
    # the baseline, 03-03 – 05-31: 20 working days of 60, 22 of 54 (April with its make-up days), 21 of 48
    assert row["logins_30d_vs_baseline"] == pytest.approx(42 / ((20 * 60 + 22 * 54 + 21 * 48) / 63) - 1)  # −0.221


def test_every_metric_is_declared_with_its_kind(frame):
    produced = set(frame.columns)
    declared = {m for m in metrics.METRICS if m not in metrics.DERIVED}
    assert produced == declared
    assert {metrics.KINDS[m] for m in produced} <= {"number", "text"}


def test_what_happened_after_the_date_changes_nothing_as_of_the_date(frame, world):
    """Leakage: add everything the future could bring, then compute the same date again."""
    acme, sub = world["acme"], world["subscription"]
    before = metrics.compute(AS_OF)
    assert before.loc[acme.pk, "days_to_renewal"] == 185

    usage(acme, D(2024, 7, 1), 9, core_minutes=300)
    Ticket.objects.create(
        account=acme, subject="later", priority="urgent", category="complaint", opened_at=at(D(2024, 7, 2))
    )
    SurveyResponse.objects.create(account=acme, kind="nps", score=10, responded_at=at(D(2024, 7, 3)))
    SurveyResponse.objects.create(account=acme, kind="csat", score=5, responded_at=at(D(2024, 7, 3)))
    Contact.objects.create(account=acme, name="KP", is_key_person=True, status="left", left_on=D(2024, 7, 5))
    Interaction.objects.create(account=acme, type="visit", summary="later", occurred_at=at(D(2024, 7, 1)))
    Interaction.objects.create(
        account=acme, type="email", direction="inbound", summary="later", occurred_at=at(D(2024, 7, 1), 1)
    )
    Payment.objects.filter(account=acme, paid_on__isnull=True).update(paid_on=D(2024, 7, 1), status="paid")
    Order.objects.create(account=acme, ordered_on=D(2024, 7, 1), amount=Decimal(99))
    OpportunityStageChange.objects.create(
        opportunity=world["deal"], from_stage="qualify", to_stage="lost", changed_at=at(D(2024, 7, 10))
    )
    ledger(sub, D(2024, 8, 1), "churn", 0, 10, status="cancelled")
    sub.status, sub.cancelled_on, sub.end_date = "cancelled", D(2024, 8, 1), D(2024, 8, 1)
    sub.save()
    after = metrics.compute(AS_OF)
    pd.testing.assert_frame_equal(after, before)


def test_a_ticket_answered_after_the_date_was_still_waiting_on_it(world):
    shop = world["shop"]
    Ticket.objects.create(
        account=shop,
        subject="w",
        priority="high",
        opened_at=at(D(2024, 6, 30), 8),
        first_response_at=at(D(2024, 7, 1), 9),
    )
    assert metrics.compute(AS_OF).loc[shop.pk, "sla_breaches_90d"] == 1  # 08:00 to midnight: 16 h > 8 h
    Ticket.objects.update(first_response_at=at(D(2024, 6, 30), 9))
    assert metrics.compute(AS_OF).loc[shop.pk, "sla_breaches_90d"] == 0


def test_a_renewal_recorded_later_dates_the_term_end_known_on_the_date(world):
    acme, sub = world["acme"], world["subscription"]
    ledger(sub, D(2024, 12, 31), "renewal", 1000, 10)
    sub.end_date = D(2025, 12, 31)
    sub.save()
    assert metrics.compute(AS_OF).loc[acme.pk, "days_to_renewal"] == 184
    assert metrics.compute(D(2025, 1, 15)).loc[acme.pk, "days_to_renewal"] == 350


def test_an_ended_contract_is_no_longer_live(world):
    acme, sub = world["acme"], world["subscription"]
    ledger(sub, D(2024, 6, 15), "churn", 0, 10, status="cancelled")
    row = metrics.compute(AS_OF).loc[acme.pk]
    assert (row["subscription_history"], row["subscriptions_active"], row["mrr"]) == (1, 0, 0)
    assert np.isnan(row["seat_utilisation"]) and np.isnan(row["days_to_renewal"])


def test_a_future_date_is_refused_with_the_date_named(db):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(metrics.FutureDate, match=f"as-of date {tomorrow.isoformat()} is in the future"):
        metrics.compute(tomorrow)


def test_the_query_count_does_not_grow_with_the_number_of_accounts(world):
    with CaptureQueriesContext(connection) as few:
        metrics.compute(AS_OF)
    Account.objects.bulk_create(Account(name=f"more {k}") for k in range(200))
    for account in Account.objects.filter(name__startswith="more ")[:50]:
        usage(account, D(2024, 6, 3), 2, core_minutes=10)
    SubscriptionChange.objects.filter(account=world["acme"]).update(note="x")
    with CaptureQueriesContext(connection) as many:
        frame = metrics.compute(AS_OF)
    assert len(frame) == 203
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_sla_targets_and_renewal_intents_are_the_workspaces(world):
    from clm.core.models import Workspace

    shop = world["shop"]
    Ticket.objects.create(account=shop, subject="w", priority="high", opened_at=at(D(2024, 6, 30), 8),
                          first_response_at=at(D(2024, 6, 30), 18))
    assert metrics.compute(AS_OF).loc[shop.pk, "sla_breaches_90d"] == 1  # 10 h against the default 8 h
    settings = Workspace.current()
    settings.sla_first_response_hours = {**settings.sla_first_response_hours, "high": 12}
    settings.renewal_intent = {**settings.renewal_intent, "qualify": -0.5}
    settings.full_clean()
    settings.save()
    computed = metrics.compute(AS_OF)
    assert computed.loc[shop.pk, "sla_breaches_90d"] == 0  # within the workspace's 12 h
    assert computed.loc[world["acme"].pk, "renewal_intent"] == -0.5  # its renewal deal is at "qualify"


def test_key_people_missing_counts_those_gone_long_ago_and_not_those_replaced(world):
    """Acme's champion left 2024-06-01 (the worked example). A decision maker who left two years
    before the date is still missing; an economic buyer who left and was replaced is not; a
    shop with no key person on record has no figure (no data), not zero."""
    acme, shop = world["acme"], world["shop"]
    Contact.objects.create(account=acme, name="DM", role="decision_maker", status="left", left_on=D(2022, 6, 1))
    Contact.objects.create(account=acme, name="EB1", role="economic_buyer", status="left", left_on=D(2024, 1, 1))
    Contact.objects.create(account=acme, name="EB2", role="economic_buyer")
    row = metrics.compute(AS_OF).loc[acme.pk]
    assert (row["key_people_missing"], row["key_contacts_left_90d"]) == (2, 1)
    assert np.isnan(metrics.compute(AS_OF).loc[shop.pk, "key_people_missing"])


def test_trailing_nps_and_its_trend_over_two_half_years(world):
    """Shop's NPS answers: 10 and 8 in the half-year before the last (mean 9), then 2, 3 and 9
    in the last 180 days (mean 4.667): trend 4.667 − 9 = −4.333 points. Over 365 days: 2
    promoters (10, 9), 1 passive (8), 2 detractors (2, 3): NPS = (2 − 2) / 5 = 0. An answer older
    than a year counts in neither. CSAT 5 then 3: mean 4, trend 3 − 5 = −2."""
    shop = world["shop"]
    for day, score in ((D(2023, 3, 1), 0), (D(2023, 9, 1), 10), (D(2023, 12, 1), 8), (D(2024, 2, 1), 2),
                       (D(2024, 4, 1), 3), (D(2024, 6, 1), 9)):  # fmt: skip
        SurveyResponse.objects.create(account=shop, kind="nps", score=score, responded_at=at(day))
    SurveyResponse.objects.create(account=shop, kind="csat", score=5, responded_at=at(D(2023, 10, 1)))
    SurveyResponse.objects.create(account=shop, kind="csat", score=3, responded_at=at(D(2024, 5, 1)))
    row = metrics.compute(AS_OF).loc[shop.pk]
    assert row["nps_365d"] == pytest.approx(0.0)
    assert row["nps_trend"] == pytest.approx(14 / 3 - 9)
    assert (row["nps_latest"], row["csat_365d"], row["csat_trend"]) == (9, 4, -2)


def test_an_account_with_no_invoice_due_has_no_overdue_days_rather_than_zero(world):
    frame = metrics.compute(AS_OF)
    shop = world["shop"]
    assert np.isnan(frame.loc[shop.pk, "overdue_days_max"])  # orders, but no invoice on record
    assert frame.loc[world["acme"].pk, "overdue_days_max"] == 20
    Payment.objects.create(account=shop, due_on=D(2024, 6, 1), paid_on=D(2024, 5, 30), amount=500)
    Payment.objects.create(account=shop, due_on=D(2024, 7, 15), amount=700)  # not due yet on the date
    assert metrics.compute(AS_OF).loc[shop.pk, "overdue_days_max"] == 0  # paid on time: a record, 0 days
