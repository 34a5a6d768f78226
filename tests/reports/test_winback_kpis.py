"""The win-back KPIs of the catalogue on a hand-made world: evaluated win-backs and a win-back case
closed by hand, by cause and by offer."""

import datetime as dt
from decimal import Decimal

import pytest

from clm.automation.models import Case, RootCause, WinBack, WinBackOffer
from clm.customers.models import Account
from clm.reports.catalogue import BY_KEY
from clm.reports.kpis.base import Scope
from clm.reports.periods import Period

from .conftest import TODAY, at

pytestmark = pytest.mark.django_db
NOV = Period.parse("2026-11")


def _evaluated(account, cause, offer, result, arr, day):
    case = Case.objects.create(account=account, type="win_back", reason="r", status="closed", outcome=(
        "closed_success" if result != "churned" else "closed_lost"), closed_at=at(day))
    WinBack.objects.create(case=case, account=account, step="evaluated", cause=RootCause.objects.get(code=cause),
                           offer=WinBackOffer.objects.get(code=offer), result=result, arr_won_back=Decimal(arr),
                           evaluated_at=at(day))


def test_win_back_success_and_revenue_by_cause_and_offer(admin_user):
    a, b, c, d = (Account.objects.create(name=n) for n in "ABCD")
    _evaluated(a, "product", "product-training", "renewed", "12000", dt.date(2026, 11, 3))
    _evaluated(b, "price", "renewal-discount", "churned", "0", dt.date(2026, 11, 9))
    _evaluated(c, "price", "renewal-discount", "retained", "6000", dt.date(2026, 11, 20))
    _evaluated(a, "price", "renewal-discount", "retained", "6000", dt.date(2026, 10, 20))  # October: not counted
    Case.objects.create(account=d, type="win_back", reason="by hand", status="closed", outcome="closed_lost",
                        root_cause=RootCause.objects.get(code="service"), closed_at=at(dt.date(2026, 11, 25)))
    scope = Scope(admin_user, None, TODAY)
    success = BY_KEY["winback_success"].compute(scope, NOV)
    # won: A (renewed) and C (retained) of four closed in November (B churned, D lost by hand) → 2 ÷ 4
    assert (success.value, success.numerator, success.denominator) == (0.5, 2.0, 4.0)
    assert success.breakdown["cause:price"] == 0.5 and success.breakdown["cause:service"] == 0.0
    assert success.breakdown["offer:renewal-discount"] == 0.5 and success.groups["cause:product"] == [a.pk]
    revenue = BY_KEY["winback_revenue"].compute(scope, NOV)
    # 12000 (A) + 6000 (C)
    assert revenue.value == 18000.0 and revenue.breakdown == {
        "cause:price": 6000.0, "cause:product": 12000.0, "offer:product-training": 12000.0, "offer:renewal-discount": 6000.0}
    empty = BY_KEY["winback_revenue"].compute(scope, Period.parse("2026-09"))
    assert empty.value is None and "2026-09" in empty.no_data


def test_a_win_back_closed_by_hand_before_its_evaluation_counts_as_its_case_ended(admin_user):
    # one win-back stopped at the root cause, its case closed by hand as lost: 0 won of 1
    account = Account.objects.create(name="E")
    case = Case.objects.create(account=account, type="win_back", reason="r", status="closed", outcome="closed_lost",
                               root_cause=RootCause.objects.get(code="competitor"), closed_at=at(dt.date(2026, 11, 5)))
    WinBack.objects.create(case=case, account=account, step="cause", cause=RootCause.objects.get(code="competitor"))
    result = BY_KEY["winback_success"].compute(Scope(admin_user, None, TODAY), NOV)
    assert (result.value, result.denominator, result.breakdown["cause:competitor"]) == (0.0, 1.0, 0.0)
