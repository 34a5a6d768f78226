"""The uplift statistics against Newcombe's published intervals, and the report over enrollments."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.analytics.uplift import newcombe_difference, uplift, wilson
from clm.automation.models import Enrollment
from clm.automation.playbooks import outcomes
from tests.automation.conftest import playbook_doc

# R. G. Newcombe, "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Statistics in Medicine 17 (1998) 873–890, Table II, method 10
# (score interval, no continuity correction), examples (a)–(h).
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "interval"), NEWCOMBE_TABLE_II)
def test_the_interval_matches_newcombe_1998_table_ii(counts, interval):
    _, low, high = newcombe_difference(*counts)
    assert (round(low, 4), round(high, 4)) == interval


def test_wilson_matches_newcombe_1998_table_i():
    # Table I of the companion paper (Newcombe, Stat Med 17 (1998) 857–872), method 3: 81/263.
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_a_clear_effect_is_reported_with_its_interval():
    result = uplift(400, 340, 400, 280)
    assert result.difference == pytest.approx(0.15)
    assert result.low > 0 and not result.too_small
    assert result.verdict.startswith("the play helps: +15.0%")


def test_a_small_sample_is_too_small_to_tell():
    result = uplift(12, 9, 3, 1)
    assert result.too_small and result.verdict.startswith("too small to tell: 12 treated and 3 held out")
    assert uplift(10, 5, 0, 0).verdict == "too small to tell: no held-out accounts with a known outcome yet"


def test_an_interval_that_includes_zero_shows_no_difference():
    assert uplift(100, 50, 100, 48).verdict.startswith("no difference shown: +2.0%")


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="cannot exceed"):
        uplift(10, 11, 10, 1)


@pytest.mark.django_db
def test_the_report_counts_churn_within_the_window_for_matured_enrollments_only(accounts, save):
    from clm.commerce.models import Subscription, SubscriptionChange

    playbook = save(playbook_doc(outcome={"kind": "retained", "days": 90}))
    version = playbook.current
    start = timezone.now() - dt.timedelta(days=120)
    today = timezone.localdate()
    for i, account in enumerate(accounts):
        Enrollment.objects.create(
            playbook=playbook,
            version=version,
            account=account,
            held_out=i >= 6,
            dedupe_key=f"k{i}",
            started_at=start,
            status="completed",
        )
        subscription = Subscription.objects.create(
            account=account, start_date=today - dt.timedelta(days=400), mrr=Decimal(10)
        )
        SubscriptionChange.objects.create(
            subscription=subscription,
            account=account,
            effective_date=today - dt.timedelta(days=400),
            kind="new",
            mrr_before=0,
            seats_before=0,
            mrr_after=10,
            seats_after=1,
            status_after="active",
        )
        if i in (0, 6, 7):  # churned 30 days into the window
            SubscriptionChange.objects.create(
                subscription=subscription,
                account=account,
                effective_date=today - dt.timedelta(days=90),
                kind="churn",
                mrr_before=10,
                seats_before=1,
                mrr_after=0,
                seats_after=0,
                status_after="cancelled",
            )
    # a recent enrollment has no known outcome yet
    Enrollment.objects.create(
        playbook=playbook, version=version, account=accounts[0], dedupe_key="recent", status="active"
    )
    report = outcomes.report(playbook)
    assert (
        report["treated"],
        report["treated_successes"],
        report["held_out"],
        report["held_out_successes"],
    ) == (6, 5, 4, 2)
    assert report["matured"] == 10 and report["enrollments"] == 11 and report["too_small"]


@pytest.mark.django_db
def test_no_matured_enrollment_yet_is_too_small_to_tell(accounts, save):
    playbook = save(playbook_doc(outcome={"kind": "retained", "days": 90}))
    Enrollment.objects.create(playbook=playbook, version=playbook.current, account=accounts[0], dedupe_key="new")
    report = outcomes.report(playbook)
    assert (report["enrollments"], report["matured"], report["too_small"]) == (1, 0, True)


@pytest.mark.django_db
def test_outcomes_are_known_through_the_latest_finished_daily_run():
    from clm.lifecycle.models import Run

    assert outcomes.known_through() == timezone.localdate()  # no run yet: today
    Run.objects.create(as_of=dt.date(2025, 6, 30), status="done")
    Run.objects.create(as_of=dt.date(2025, 7, 7), status="failed")
    assert outcomes.known_through() == dt.date(2025, 6, 30)  # a demo built as of that date
