"""Filtering and pagination of lists: per-resource filters, limit/offset with a total count, a
stable order, and clear refusals of bad parameters."""

import datetime as dt

import pytest
from django.utils import timezone

from clm.commerce.models import Subscription
from clm.customers.models import Account, Contact, Tag, TagCategory
from clm.sales.models import Opportunity
from clm.service.models import Ticket
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user, api_as):
    return api_as(admin_user)


@pytest.fixture
def accounts(owner, csm):
    category = TagCategory.objects.create(name="行业")
    tag = Tag.objects.create(category=category, value="制造")
    made = [
        Account.objects.create(
            name="华为技术",
            domain="huawei.com",
            industry="通信",
            region="华南",
            sales_owner=owner,
            lifecycle_stage="growth",
            health_band="green",
        ),
        Account.objects.create(
            name="美的集团",
            domain="midea.com",
            industry="制造",
            region="华南",
            csm=csm,
            lifecycle_stage="at_risk",
            health_band="red",
        ),
        Account.objects.create(
            name="Acme Corp",
            domain="acme.com",
            industry="制造",
            region="华东",
            lifecycle_stage="at_risk",
            health_band="yellow",
        ),
    ]
    made[1].tags.add(tag)
    return made, tag


def names(response):
    assert response.status_code == 200, response.content
    return sorted(r["name"] for r in response.json_body["items"])


def test_accounts_filter_by_text_industry_region_stage_band_owner_csm_and_tag(accounts, api, owner, csm):
    made, tag = accounts
    assert names(api.get("/accounts", q="HUAWEI")) == ["华为技术"]
    assert names(api.get("/accounts", q="美的")) == ["美的集团"]
    assert names(api.get("/accounts", industry="制造")) == ["Acme Corp", "美的集团"]
    assert names(api.get("/accounts", region="华南", industry="制造")) == ["美的集团"]
    assert names(api.get("/accounts", lifecycle_stage="at_risk")) == ["Acme Corp", "美的集团"]
    assert names(api.get("/accounts", health_band="red")) == ["美的集团"]
    assert names(api.get("/accounts", sales_owner=owner.pk)) == ["华为技术"]
    assert names(api.get("/accounts", csm=csm.pk)) == ["美的集团"]
    assert names(api.get("/accounts", tag=tag.pk)) == ["美的集团"]


def test_accounts_filter_by_update_time(accounts, api):
    made, _ = accounts
    Account.objects.filter(pk=made[0].pk).update(updated_at=timezone.now() - dt.timedelta(days=10))
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert names(api.get("/accounts", updated_since=since)) == ["Acme Corp", "美的集团"]


def test_an_unknown_enum_value_is_refused_with_the_allowed_values(accounts, api):
    error = assert_error(api.get("/accounts", lifecycle_stage="zombie"), 422, "invalid_request")
    assert error["details"][0]["loc"] == ["query", "lifecycle_stage"]
    for stage in (
        "prospect",
        "onboarding",
        "growth",
        "mature",
        "at_risk",
        "dormant",
        "churned",
        "reactivated",
    ):
        assert stage in error["details"][0]["message"]


def test_contacts_filter_by_account_role_status_and_email(accounts, api):
    made, _ = accounts
    Contact.objects.create(account=made[0], name="张伟", role="decision_maker", email="ZW@huawei.com")
    Contact.objects.create(account=made[0], name="李娜", role="user", status="left")
    Contact.objects.create(account=made[1], name="王芳", role="decision_maker")
    assert names(api.get("/contacts", account=made[0].pk)) == ["张伟", "李娜"]
    assert names(api.get("/contacts", role="decision_maker")) == ["张伟", "王芳"]
    assert names(api.get("/contacts", status="left")) == ["李娜"]
    assert names(api.get("/contacts", email="zw@HUAWEI.com")) == ["张伟"]


def test_subscriptions_filter_by_account_status_and_renewal_window(accounts, api):
    made, _ = accounts
    for i, (status, renewal) in enumerate(
        [("active", "2024-04-15"), ("active", "2024-09-01"), ("cancelled", "2024-04-20")]
    ):
        Subscription.objects.create(
            account=made[i], start_date="2023-01-01", mrr=100, status=status, renewal_date=renewal
        )
    found = api.get(
        "/subscriptions", renewal_after="2024-04-01", renewal_before="2024-05-01", status="active"
    ).json_body
    assert [s["account"] for s in found["items"]] == [made[0].pk]
    assert api.get("/subscriptions", account=made[2].pk).json_body["count"] == 1


def test_tickets_filter_by_account_status_priority_and_opening_time(accounts, api):
    made, _ = accounts
    now = timezone.now()
    Ticket.objects.create(
        account=made[0], subject="old", opened_at=now - dt.timedelta(days=40), priority="urgent"
    )
    Ticket.objects.create(account=made[0], subject="new", opened_at=now, priority="urgent", status="pending")
    Ticket.objects.create(account=made[1], subject="other", opened_at=now, priority="low")
    subjects = lambda r: sorted(t["subject"] for t in r.json_body["items"])  # noqa: E731
    since = (now - dt.timedelta(days=7)).isoformat()
    assert subjects(api.get("/tickets", account=made[0].pk, opened_since=since)) == ["new"]
    assert subjects(api.get("/tickets", priority="urgent")) == ["new", "old"]
    assert subjects(api.get("/tickets", status="pending")) == ["new"]


def test_opportunities_filter_by_stage_and_type(accounts, api):
    made, _ = accounts
    Opportunity.objects.create(account=made[0], name="A", stage="proposal", type="expansion")
    Opportunity.objects.create(account=made[1], name="B", stage="won", type="renewal")
    assert names(api.get("/opportunities", stage="proposal")) == ["A"]
    assert names(api.get("/opportunities", type="renewal")) == ["B"]


def test_pages_carry_the_total_and_cover_every_record_once_in_a_stable_order(db, api):
    Account.objects.bulk_create([Account(name=f"Same name {i % 3}") for i in range(23)])
    seen = []
    for offset in range(0, 30, 10):
        page = api.get("/accounts", limit=10, offset=offset).json_body
        assert (page["count"], page["limit"], page["offset"]) == (23, 10, offset)
        seen += [a["id"] for a in page["items"]]
    assert len(seen) == 23 and len(set(seen)) == 23
    assert seen == [a["id"] for a in api.get("/accounts", limit=500).json_body["items"]]


def test_the_default_page_holds_fifty(db, api):
    Account.objects.bulk_create([Account(name=f"A{i}") for i in range(60)])
    page = api.get("/accounts").json_body
    assert (page["limit"], len(page["items"]), page["count"]) == (50, 50, 60)


@pytest.mark.parametrize(
    "query, loc",
    [
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**30}, "offset"),
        ({"sales_owner": "me"}, "sales_owner"),
        ({"sales_owner": 10**30}, "sales_owner"),
        ({"updated_since": "last tuesday"}, "updated_since"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_list_parameters_are_refused_with_the_parameter_named(db, api, query, loc):
    error = assert_error(api.get("/accounts", **query), 422, "invalid_request")
    assert error["details"][0]["loc"] == ["query", loc]


def test_a_filter_past_the_last_page_is_an_empty_page(db, api):
    Account.objects.create(name="Only")
    page = api.get("/accounts", offset=5).json_body
    assert (page["count"], page["items"]) == (1, [])
