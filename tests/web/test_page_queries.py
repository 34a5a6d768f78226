"""The pages people open most make a fixed number of queries however large the book behind them:
the accounts list, My work and the account page cost the same for 3 accounts as for 15, and read the
workspace settings (the currency of every amount, who sees what) once per request, not once per
amount shown (clm.core.models.workspace_scope)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clm.automation import work
from clm.core import services
from clm.core.models import Workspace
from clm.customers.models import Account, Interaction
from clm.service.models import Ticket
from tests.factories import new_subscription

pytestmark = pytest.mark.django_db


def book(owner, csm, first: int, size: int) -> list[Account]:
    """`size` accounts of owner's, each with a live contract, an open task, an open ticket and a
    recent interaction, some of them red: every row of every panel shows an amount or a name."""
    today = timezone.localdate()
    accounts = []
    for n in range(first, first + size):
        account = services.create(Account, {
            "name": f"客户{n:03d}", "sales_owner": owner, "csm": csm, "industry": "制造", "region": "华东",
            "health_band": "red" if n % 2 else "green", "health_score": 40 if n % 2 else 80,
        })
        new_subscription(account, today - dt.timedelta(days=300), 1000 + n, renewal_date=today + dt.timedelta(days=30 + n))
        work.create_task(owner, title=f"回访{n}", account=account, due_at=timezone.now() + dt.timedelta(days=1))
        Ticket.objects.create(account=account, subject=f"工单{n}", opened_at=timezone.now())
        Interaction.objects.create(account=account, type="call", summary=f"电话{n}", owner=owner,
                                   occurred_at=timezone.now() - dt.timedelta(days=1))
        accounts.append(account)
    return accounts


def queries(client, url) -> list[str]:
    client.get(url)  # the session and the caches warm
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


PAGES = {
    "accounts list": lambda accounts: reverse("web:accounts"),
    "accounts list, sorted by ARR": lambda accounts: reverse("web:accounts") + "?sort=-arr",
    "my work": lambda accounts: reverse("web:my_work"),
    "account page": lambda accounts: reverse("web:account", args=[accounts[0].pk]),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_larger_book_costs_no_more_queries_and_the_workspace_is_read_once(client, owner, csm, page):
    Workspace.objects.create(currency="USD")
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    small = book(owner, csm, 0, 3)
    few = queries(client, PAGES[page](small))
    book(owner, csm, 3, 12)
    many = queries(client, PAGES[page](small))
    assert len(many) == len(few), page
    assert len([sql for sql in many if "core_workspace" in sql]) == 1, page
    assert len(many) <= 45, page


def test_the_amounts_of_a_larger_book_still_read_in_the_workspaces_currency(client, owner, csm):
    Workspace.objects.create(currency="USD")
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    book(owner, csm, 0, 15)
    page = client.get(reverse("web:accounts") + "?sort=-arr").content.decode()
    assert "$12,168" in page and "¥" not in page  # 客户014: MRR 1,014 × 12
