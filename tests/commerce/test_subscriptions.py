"""Live contracts and ARR: one rule (Subscription.objects.live / arr_by_account / account_arr)
for the accounts list, its ARR sort and the account page."""

import datetime as dt
from decimal import Decimal

import pytest

from clm.commerce.models import Subscription
from clm.customers.models import Account
from clm.web.accounts import Criteria, page
from clm.web.overview import account_overview

pytestmark = pytest.mark.django_db
START = dt.date(2020, 1, 1)


def contract(account, mrr, status="active", days=0, **fields):
    return Subscription.objects.create(
        account=account, start_date=START + dt.timedelta(days=days), mrr=Decimal(mrr), status=status, **fields
    )


def test_live_contracts_are_the_active_and_the_trials():
    account = Account.objects.create(name="a")
    for status in ("active", "trial", "cancelled", "expired"):
        contract(account, "10", status)
    assert sorted(Subscription.objects.live().values_list("status", flat=True)) == ["active", "trial"]
    assert Subscription.LIVE_STATUSES == ("active", "trial")


def test_arr_is_twelve_times_the_mrr_of_the_live_contracts_in_cents():
    paying, lapsed, never = (Account.objects.create(name=n) for n in ("paying", "lapsed", "never"))
    for mrr in ("0.10", "0.20", "1234.57"):  # float sums on SQLite would not give exact cents
        contract(paying, mrr)
    contract(paying, "999", "cancelled")
    contract(lapsed, "500", "expired")
    arr = dict(Subscription.objects.arr_by_account())
    assert arr == {paying.pk: Decimal("14818.44")}  # 12 × 1234.87
    annotated = dict(
        Account.objects.annotate(arr=Subscription.objects.account_arr()).values_list("name", "arr")
    )
    assert annotated == {"paying": Decimal("14818.44"), "lapsed": None, "never": None}


def test_the_list_its_sort_and_the_account_page_agree_on_arr(admin_user):
    """The account page summed the live contracts among the 20 latest only: an account with older
    live contracts showed less ARR there than in the list."""
    big = Account.objects.create(name="big")
    contract(big, "1000", days=0)  # the oldest contract, still live
    for i in range(25):
        contract(big, "10", "expired", days=i + 1)
    small = Account.objects.create(name="small")
    contract(small, "500")
    rows = page(admin_user, Criteria(sort="arr", descending=True)).object_list
    assert [(a.name, a.arr_value) for a in rows] == [("big", Decimal("12000")), ("small", Decimal("6000"))]
    assert account_overview(big).arr == Decimal("12000")
    assert account_overview(Account.objects.create(name="none")).arr is None


def test_the_next_renewal_is_the_earliest_of_all_live_contracts():
    account = Account.objects.create(name="a")
    today = dt.date(2026, 1, 1)
    contract(account, "10", renewal_date=dt.date(2026, 2, 1))  # the oldest
    for i in range(25):
        contract(account, "10", days=i + 1, renewal_date=dt.date(2026, 6, 1))
    contract(account, "10", "cancelled", days=30, renewal_date=dt.date(2026, 1, 15))
    assert account_overview(account, today=today).next_renewal == dt.date(2026, 2, 1)
