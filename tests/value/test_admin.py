"""The admin writes loyalty entries through the ledger's service (checked, audited) and shows the
computed rows read-only."""

import datetime as dt

import pytest

from clm.core.models import AuditLog
from clm.customers.models import Account
from clm.value import services
from clm.value.models import LoyaltyEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for(client, admin_user):
    client.force_login(admin_user)
    return client


def test_an_adjustment_added_in_the_admin_is_audited(admin_client_for, admin_user):
    account = Account.objects.create(name="loyal")
    response = admin_client_for.post(
        "/admin/value/loyaltyentry/add/",
        {
            "account": account.pk,
            "date": "2024-05-01",
            "kind": "adjustment",
            "points": "40",
            "credit": "0",
            "note": "goodwill",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    entry = LoyaltyEntry.objects.get(account=account)
    assert (entry.points, entry.created_by) == (40, admin_user)
    assert AuditLog.objects.filter(model="value.loyaltyentry", via="admin", actor=admin_user).count() == 1


def test_the_admin_cannot_overdraw_the_ledger(admin_client_for):
    account = Account.objects.create(name="loyal")
    services.add_entry(account, "referral", 10, on=dt.date(2024, 5, 1))
    response = admin_client_for.post(
        "/admin/value/loyaltyentry/add/",
        {
            "account": account.pk,
            "date": "2024-05-02",
            "kind": "adjustment",
            "points": "-11",
            "credit": "0",
            "note": "",
        },
    )
    assert LoyaltyEntry.objects.filter(account=account).count() == 1
    assert response.status_code == 200 and "余额不能小于 0" in response.content.decode()  # the admin speaks Chinese by default


def test_computed_rows_are_read_only_in_the_admin(admin_client_for):
    assert admin_client_for.get("/admin/value/clvestimate/").status_code == 200
    assert admin_client_for.get("/admin/value/clvestimate/add/").status_code == 403
