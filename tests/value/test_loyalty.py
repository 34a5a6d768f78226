"""The loyalty ledger: the balance is always the sum of the entries, a redemption beyond it is
refused, and every manual entry is audited (seed 002: points reward repurchases and referrals;
seed 003: referrals earn service credit)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clm.core.models import AuditLog
from clm.value import services
from clm.value.models import LoyaltyEntry

pytestmark = pytest.mark.django_db
DAY = dt.date(2024, 5, 1)


def test_redemption_grants_service_credit_and_is_audited(account, owner):
    services.add_entry(account, "referral", 500, on=DAY, actor=owner, via="ui")
    entry = services.redeem_points(account, 120, on=DAY, note="training day", actor=owner, via="ui")
    assert (entry.kind, entry.points, entry.credit) == ("redemption", -120, Decimal("120.00"))
    assert entry.created_by == owner
    assert services.balance(account) == 380
    logs = AuditLog.objects.filter(model="value.loyaltyentry", actor=owner, via="ui", action="create")
    assert logs.count() == 2


def test_redemption_beyond_the_balance_is_refused_and_writes_nothing(account):
    services.add_entry(account, "adjustment", 50, on=DAY, note="goodwill")
    with pytest.raises(ValidationError) as refused:
        services.redeem_points(account, 51, on=DAY)
    assert refused.value.message_dict["points"] == ["申请 51 积分，可用 50：兑换不能超过余额"]  # the workspace's default language
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        services.redeem_points(account, 51, on=DAY)
    assert "50 available" in str(refused.value)
    assert LoyaltyEntry.objects.filter(account=account).count() == 1
    assert services.balance(account) == 50


def test_points_earned_after_the_redemption_date_do_not_pay_for_it(account):
    services.add_entry(account, "referral", 100, on=dt.date(2024, 6, 1))
    with pytest.raises(ValidationError):
        services.redeem_points(account, 10, on=DAY)


def test_a_negative_adjustment_cannot_take_the_balance_below_zero(account):
    services.add_entry(account, "adjustment", 30, on=DAY)
    with pytest.raises(ValidationError):
        services.add_entry(account, "adjustment", -31, on=DAY)
    services.add_entry(account, "adjustment", -30, on=DAY)
    assert services.balance(account) == 0


@pytest.mark.parametrize(("kind", "points"), [("referral", -5), ("purchase", 0), ("expiry", 5)])
def test_entries_of_the_wrong_sign_are_refused(account, kind, points):
    with pytest.raises(ValidationError):
        services.add_entry(account, kind, points, on=DAY)
    assert not LoyaltyEntry.objects.exists()


@pytest.mark.parametrize("points", [0, -3, 2.5, True])
def test_a_redemption_is_a_whole_positive_number_of_points(account, points):
    services.add_entry(account, "referral", 500, on=DAY)
    with pytest.raises(ValidationError):
        services.redeem_points(account, points, on=DAY)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["earn", "redeem"]), st.integers(1, 400)), max_size=12))
def test_the_balance_is_the_sum_of_the_ledger_and_never_negative(account, operations):
    LoyaltyEntry.objects.filter(account=account).delete()
    expected = 0
    for operation, points in operations:
        if operation == "earn":
            services.add_entry(account, "referral", points, on=DAY)
            expected += points
        elif points <= expected:
            services.redeem_points(account, points, on=DAY)
            expected -= points
        else:
            with pytest.raises(ValidationError):
                services.redeem_points(account, points, on=DAY)
        assert services.balance(account) == expected >= 0
    assert sum(LoyaltyEntry.objects.filter(account=account).values_list("points", flat=True)) == expected
