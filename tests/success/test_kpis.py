"""The activation KPIs on a hand-made world of five onboardings, worked out by hand, through
clm.success.kpis and through the reports catalogue.

Today is 2026-06-30.  started      first value      activated     segment
  A                     2026-05-01   05-02 (1 day)    05-05 (4 d)   制造业
  B                     2026-05-10   05-15 (5 days)   05-30 (20 d)  制造业
  C                     2026-06-01   06-11 (10 days)  –             零售
  D                     2026-06-28   –                –             零售   (2 days in: not observed yet)
  E (cancelled)         2026-05-03   –                –             零售   (left out)
7-day rate: observed A, B, C (started by 06-23); activated within 7 days: A → 1/3.
30-day rate: observed A, B (started by 05-31); both within 30 days → 2/2.
Median time to first value: A 1, B 5, C 10 → 5 days; by cohort 2026-05: (1 + 5) / 2 = 3, 2026-06: 10."""

import datetime as dt

import pytest

from clm.reports.catalogue import BY_KEY
from clm.reports.kpis.base import Scope
from clm.reports.periods import Period
from clm.success import kpis
from clm.success.models import Onboarding
from tests.factories import make_account
from tests.success.conftest import make_definition

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

D = dt.date
TODAY = D(2026, 6, 30)
ROWS = {
    "A": ("制造业", D(2026, 5, 1), D(2026, 5, 2), D(2026, 5, 5), "activated"),
    "B": ("制造业", D(2026, 5, 10), D(2026, 5, 15), D(2026, 5, 30), "activated"),
    "C": ("零售", D(2026, 6, 1), D(2026, 6, 11), None, "in_progress"),
    "D": ("零售", D(2026, 6, 28), None, None, "in_progress"),
    "E": ("零售", D(2026, 5, 3), None, None, "cancelled"),
}


@pytest.fixture
def world():
    definition = make_definition("Everyone", [("First use", "core_feature", "", 1, 7, True)])
    accounts = {}
    for name, (industry, start, first, done, status) in ROWS.items():
        accounts[name] = make_account(name, industry=industry)
        Onboarding.objects.create(account=accounts[name], definition=definition, started_on=start,
                                  first_value_on=first, activated_on=done, status=status)
    return accounts


@pytest.fixture
def frame(world):
    return kpis.onboarding_frame(Onboarding.objects.all())


def test_seven_day_activation_rate(frame, world):
    figure = kpis.activation_rate_7d(frame, TODAY)
    assert (figure.numerator, figure.denominator, figure.value) == (1, 3, pytest.approx(1 / 3))
    assert figure.account_ids == [world["A"].pk]
    by_segment = kpis.activation_rate_7d(frame, TODAY, kpis.SEGMENT)
    assert by_segment.breakdown == {"制造业": 0.5, "零售": 0.0}
    assert by_segment.groups["制造业"] == [world["A"].pk]


def test_thirty_day_activation_rate_by_cohort(frame, world):
    figure = kpis.activation_rate_30d(frame, TODAY, kpis.COHORT)
    assert (figure.numerator, figure.denominator, figure.value) == (2, 2, 1.0)
    assert figure.breakdown == {"2026-05": 1.0}  # June's onboardings are not 30 days in yet


def test_median_time_to_first_value(frame):
    figure = kpis.median_time_to_first_value(frame, TODAY)
    assert (figure.value, figure.denominator) == (5.0, 3)
    assert figure.breakdown == {"reached": 3.0, "not_yet": 1.0}
    assert kpis.median_time_to_first_value(frame, TODAY, kpis.COHORT).breakdown == {"2026-05": 3.0, "2026-06": 10.0}


def test_the_reports_catalogue_reads_the_onboardings_of_the_period(world, admin_user):
    def value(key, period):
        return BY_KEY[key].compute(Scope(admin_user, today=TODAY), Period.parse(period))

    q2 = "2026-Q2"
    assert value("activation_rate_7d", q2).value == pytest.approx(1 / 3)
    assert value("activation_rate_30d", q2).value == 1.0
    assert value("median_time_to_first_value_days", q2).value == 5.0
    may = value("activation_rate_7d", "2026-05")
    assert (may.numerator, may.denominator) == (1, 2) and may.breakdown == {"2026-05": 0.5}
    empty = value("activation_rate_7d", "2026-03")
    assert empty.value is None and "No onboarding started in" in empty.no_data
