"""Usage baselines count working days by the stored holiday calendar: a week when the whole
customer base is on holiday is not a drop in any one customer's usage."""

import datetime as dt

import pytest

from clm.customers.models import Account
from clm.lifecycle import metrics
from clm.lifecycle.models import Holiday
from clm.usage.models import UsageDaily

from .conftest import days, usage

D = dt.date
NATIONAL_DAY = D(2025, 10, 8)  # the last day of 国庆 2025 (国办发明电〔2024〕12号: 10-01 – 10-08 off)


@pytest.fixture
def steady(db):
    """An account whose 10 users work every working day of the calendar, and never otherwise."""
    account = Account.objects.create(name="Steady")
    workdays = set(Holiday.working_days(D(2025, 6, 11), NATIONAL_DAY))
    for day in days(D(2025, 6, 11), NATIONAL_DAY):
        if day in workdays:
            usage(account, day, 10)
    return account


def test_the_migration_seeds_the_public_holidays_and_make_up_days(db):
    assert Holiday.objects.get(day=D(2026, 2, 17)).name == "春节"
    assert Holiday.objects.get(day=D(2025, 9, 28)).kind == Holiday.Kind.WORKDAY
    assert Holiday.objects.filter(day__year=2025, kind=Holiday.Kind.DAY_OFF).count() == 28


def test_a_national_holiday_is_not_a_drop_in_usage(steady):
    """As of 2025-10-08 the last 30 days (09-09 – 10-08) hold 17 working days (16 weekdays in
    September and Sunday 09-28, worked), the 90 before them 64. 10 users on each: 170 logins,
    and the baseline predicts 10 × 64 × 17/64 = 170 for them: no change. Read by calendar days,
    as before, the baseline would be 640 × 30/90 = 213 and the holiday a 20% drop."""
    row = metrics.compute(NATIONAL_DAY).loc[steady.pk]
    assert row["logins_30d"] == 170
    assert row["logins_baseline_30d"] == pytest.approx(170)
    assert row["logins_30d_vs_baseline"] == pytest.approx(0)
    assert row["active_days_30d_vs_baseline"] == pytest.approx(0)


def test_a_day_off_added_by_an_admin_counts_at_once(steady):
    """The company closes on Tuesday 2025-09-30 and nobody works: 16 working days remain in the last
    30, still no drop. Without that row the empty Tuesday would be one day in 17 missing."""
    UsageDaily.objects.filter(account=steady, day=D(2025, 9, 30)).delete()
    dropped = metrics.compute(NATIONAL_DAY).loc[steady.pk]
    assert dropped["logins_30d_vs_baseline"] == pytest.approx(160 / 170 - 1)

    Holiday.objects.create(day=D(2025, 9, 30), kind=Holiday.Kind.DAY_OFF, name="公司团建")
    row = metrics.compute(NATIONAL_DAY).loc[steady.pk]
    assert row["logins_baseline_30d"] == pytest.approx(160)
    assert row["logins_30d_vs_baseline"] == pytest.approx(0)
