"""The account timeline: complete, ordered, paginated without gaps or repeats, bounded queries."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.commerce.models import Order, Payment
from clm.customers.models import Account, Interaction
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import UsageDaily
from clm.web.timeline import BadCursor, Position, midnight, timeline
from tests.factories import new_subscription

pytestmark = pytest.mark.django_db

START = dt.date(2023, 1, 2)  # a Monday


@pytest.fixture
def account():
    account = Account.objects.create(name="杭州云帆科技")
    tz = timezone.get_current_timezone()
    for i in range(40):
        day = START + dt.timedelta(days=27 * i)
        at = dt.datetime.combine(day, dt.time(10, 30), tzinfo=tz)
        Interaction.objects.create(account=account, type="call", occurred_at=at, summary=f"call {i}")
        Order.objects.create(account=account, ordered_on=day, amount=Decimal("100"), external_id=f"o{i}")
        Payment.objects.create(account=account, due_on=day, amount=Decimal("100"))
        if i % 3 == 0:
            Ticket.objects.create(account=account, subject=f"t{i}", opened_at=at)
            SurveyResponse.objects.create(account=account, score=i % 11, responded_at=at)
    # Two orders on the same day as a call: ties are ordered by source, then id.
    Order.objects.create(account=account, ordered_on=START, amount=Decimal("5"), external_id="tie1")
    Order.objects.create(account=account, ordered_on=START, amount=Decimal("6"), external_id="tie2")
    new_subscription(account, START, 1000, seats=5)
    UsageDaily.objects.bulk_create(
        UsageDaily(account=account, day=START + dt.timedelta(days=d), events=10, active_users=d % 7 + 1, minutes=30.0)
        for d in range(3 * 365)
    )
    other = Account.objects.create(name="Other")
    Interaction.objects.create(account=other, type="note", summary="not mine")
    return account


def walk(account_id, limit, kinds=None):
    items, cursor, pages = [], None, 0
    while True:
        page = timeline(account_id, cursor=cursor, limit=limit, kinds=kinds)
        items += page.items
        pages += 1
        if page.next_cursor is None:
            return items, pages
        cursor = page.next_cursor


def test_pages_cover_the_whole_history_once_in_order(account):
    everything, _ = walk(account.pk, limit=200)
    paged, pages = walk(account.pk, limit=7)
    assert pages > 10
    assert [(i.kind, i.id) for i in paged] == [(i.kind, i.id) for i in everything]
    positions = [i.position for i in paged]
    assert positions == sorted(positions, reverse=True)
    assert len(set(positions)) == len(positions)
    kinds = {i.kind for i in paged}
    assert kinds == {"interaction", "order", "payment", "ticket", "survey", "contract", "usage"}
    weeks = [i for i in paged if i.kind == "usage"]
    assert len(weeks) == 157  # 3 years of days, Monday-aligned: 156 full weeks and one partial
    assert weeks[-1].data["events"] == 70 and weeks[-1].data["peak_daily_users"] == 7
    assert sum(1 for i in paged if i.kind == "order") == 42


def test_items_on_one_day_follow_the_source_order(account):
    items, _ = walk(account.pk, limit=50)
    first_day = [i for i in items if i.at.date() == START]
    assert [i.kind for i in first_day] == [
        "interaction", "ticket", "survey", "order", "order", "order", "contract", "payment", "usage",
    ]
    assert [i.data.get("amount") for i in first_day if i.kind == "order"] == [Decimal("6"), Decimal("5"), Decimal("100")]


def test_it_filters_by_kind(account):
    items, _ = walk(account.pk, limit=9, kinds=["ticket", "survey"])
    assert {i.kind for i in items} == {"ticket", "survey"}
    assert len(items) == 28


def test_it_never_shows_another_accounts_records(account):
    items, _ = walk(account.pk, limit=100)
    assert all(i.data.get("summary") != "not mine" for i in items)


def test_a_page_costs_one_query_per_source(account, django_assert_max_num_queries):
    from clm.web.timeline import SOURCES

    with django_assert_max_num_queries(len(SOURCES)):
        page = timeline(account.pk, limit=50)
    with django_assert_max_num_queries(len(SOURCES)):
        timeline(account.pk, cursor=page.next_cursor, limit=50)


@pytest.mark.parametrize("cursor", ["garbage", "", "MjAyNHwx", Position(midnight(START), 1, 1).encode()[:-3]])
def test_it_rejects_cursors_it_did_not_give_out(account, cursor):
    if cursor == "":
        assert timeline(account.pk, cursor=cursor).items  # an empty cursor is the first page
        return
    with pytest.raises(BadCursor, match="is not one this timeline gave out"):
        timeline(account.pk, cursor=cursor)


def test_it_rejects_unknown_kinds_and_limits(account):
    with pytest.raises(ValueError, match="unknown timeline kinds: emails"):
        timeline(account.pk, kinds=["emails"])
    with pytest.raises(ValueError, match="limit must be between 1 and 200"):
        timeline(account.pk, limit=0)


def test_an_interaction_shows_its_author_by_name_not_user_name(client, admin_user):
    from tests.factories import make_user

    author = make_user("csm07", "CSM", first_name="芳", last_name="王")
    account = Account.objects.create(name="杭州云帆科技")
    Interaction.objects.create(account=account, type="call", occurred_at=timezone.now(), summary="续约沟通", owner=author)
    assert timeline(account.pk, limit=5).items[0].data["owner"] == "王芳"
    client.force_login(admin_user)
    html = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "— 王芳" in html and "csm07" not in html


def test_a_week_of_usage_by_one_user_reads_in_the_singular(client, owner):
    from django.urls import reverse

    account = Account.objects.create(name="一人工作室", sales_owner=owner)
    day = timezone.localdate() - dt.timedelta(days=14)
    UsageDaily.objects.create(account=account, day=day, events=3, minutes=8.3, active_users=1)
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[account.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "3 events, 8.3 minutes, up to 1 user a day" in html and "1 users" not in html
