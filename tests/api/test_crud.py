"""CRUD through the one generic mechanism, for every resource, as data (one row per resource):
list, retrieve, create, partial update and delete; audit rows; who may write; what is a 404."""

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from clm.commerce.models import Order, Payment, Product, Subscription
from clm.core.models import AuditLog
from clm.customers.models import Account, Contact, Interaction, Tag, TagCategory
from clm.sales.models import ChannelSpend, Lead, Opportunity
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import Feature
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
TODAY = dt.date(2024, 3, 1)


@pytest.fixture
def world(owner):
    """One account owned by `owner`, with a contact, a product and a tag category."""
    account = Account.objects.create(name="华为技术", domain="huawei.com", sales_owner=owner, industry="通信")
    return {
        "account": account,
        "contact": Contact.objects.create(account=account, name="张伟", email="zw@huawei.com"),
        "product": Product.objects.create(name="CLM Pro", list_price=999),
        "category": TagCategory.objects.create(name="产线自动化率"),
    }


@dataclass
class Case:
    path: str
    model: type
    make: object  # (world, i) -> a saved record
    create: object  # world -> a valid POST body
    patch: dict
    account_owned: bool = True
    checks: dict = field(default_factory=dict)  # response fields expected after create


CASES = [
    Case(
        "accounts",
        Account,
        lambda w, i: Account.objects.create(name=f"Account {i}", sales_owner=w["account"].sales_owner),
        lambda w: {"name": "美的集团", "industry": "制造", "region": "华南", "tags": []},
        {"industry": "家电"},
    ),
    Case(
        "contacts",
        Contact,
        lambda w, i: Contact.objects.create(account=w["account"], name=f"Contact {i}"),
        lambda w: {"account": w["account"].pk, "name": "李娜", "role": "champion", "is_key_person": True},
        {"title": "CTO"},
    ),
    Case(
        "interactions",
        Interaction,
        lambda w, i: Interaction.objects.create(account=w["account"], type="call", summary=f"call {i}"),
        lambda w: {
            "account": w["account"].pk,
            "contact": w["contact"].pk,
            "type": "qbr",
            "summary": "Q1 review",
        },
        {"outcome": "renewal likely"},
    ),
    Case(
        "tag-categories",
        TagCategory,
        lambda w, i: TagCategory.objects.create(name=f"Category {i}"),
        lambda w: {"name": "数字化阶段"},
        {"description": "how digital the customer is"},
        account_owned=False,
    ),
    Case(
        "tags",
        Tag,
        lambda w, i: Tag.objects.create(category=w["category"], value=f"value {i}"),
        lambda w: {"category": w["category"].pk, "value": "高"},
        {"value": "低"},
        account_owned=False,
    ),
    Case(
        "products",
        Product,
        lambda w, i: Product.objects.create(name=f"Product {i}"),
        lambda w: {"name": "CLM Enterprise", "family": "suite", "list_price": "4999.00"},
        {"family": "core"},
        account_owned=False,
    ),
    Case(
        "subscriptions",
        Subscription,
        lambda w, i: Subscription.objects.create(
            account=w["account"], product=w["product"], start_date=TODAY, mrr=100 + i
        ),
        lambda w: {
            "account": w["account"].pk,
            "product": w["product"].pk,
            "start_date": "2024-03-01",
            "mrr": "1000.00",
        },
        {"seats": 5},
        checks={"arr": "12000.00", "status": "active"},
    ),
    Case(
        "orders",
        Order,
        lambda w, i: Order.objects.create(account=w["account"], ordered_on=TODAY, amount=10 * i),
        lambda w: {
            "account": w["account"].pk,
            "ordered_on": "2024-03-01",
            "lines": [{"product": w["product"].pk, "quantity": 2, "amount": "200.00", "cost": "50.00"}],
        },
        {"ordered_on": "2024-03-02"},
        checks={"amount": "200.00", "cost": "50.00", "gross_margin": "150.00"},
    ),
    Case(
        "payments",
        Payment,
        lambda w, i: Payment.objects.create(account=w["account"], due_on=TODAY, amount=10 * i),
        lambda w: {"account": w["account"].pk, "due_on": "2024-04-01", "amount": "1000.00"},
        {"status": "paid", "paid_on": "2024-04-03"},
        checks={"status": "open"},
    ),
    Case(
        "tickets",
        Ticket,
        lambda w, i: Ticket.objects.create(account=w["account"], subject=f"ticket {i}", opened_at=NOW),
        lambda w: {
            "account": w["account"].pk,
            "subject": "导出失败",
            "priority": "high",
            "opened_at": "2024-03-01T09:00:00+08:00",
        },
        {"status": "resolved", "csat": 4},
    ),
    Case(
        "survey-responses",
        SurveyResponse,
        lambda w, i: SurveyResponse.objects.create(account=w["account"], score=i % 11, responded_at=NOW),
        lambda w: {
            "account": w["account"].pk,
            "contact": w["contact"].pk,
            "score": 9,
            "responded_at": "2024-03-01T10:00:00",
        },
        {"comment": "很好用"},
    ),
    Case(
        "leads",
        Lead,
        lambda w, i: Lead.objects.create(name=f"Lead {i}", company="Acme", account=w["account"]),
        lambda w: {
            "name": "王芳",
            "company": "比亚迪",
            "source_channel": "webinar",
            "account": w["account"].pk,
        },
        {"status": "mql"},
    ),
    Case(
        "opportunities",
        Opportunity,
        lambda w, i: Opportunity.objects.create(account=w["account"], name=f"Deal {i}"),
        lambda w: {
            "account": w["account"].pk,
            "name": "2024 扩容",
            "type": "expansion",
            "amount": "50000.00",
        },
        {"stage": "proposal"},
    ),
    Case(
        "channel-spend",
        ChannelSpend,
        lambda w, i: ChannelSpend.objects.create(channel=f"channel {i}", month=TODAY, amount=100),
        lambda w: {"channel": "百度", "month": "2024-03-01", "amount": "5000.00"},
        {"amount": "6000.00"},
        account_owned=False,
    ),
    Case(
        "features",
        Feature,
        lambda w, i: Feature.objects.create(key=f"feature_{i}"),
        lambda w: {"key": "reports", "name": "Reports"},
        {"is_core": True},
        account_owned=False,
    ),
]
OWNED = [c for c in CASES if c.account_owned]


def ids(case):
    return case.path


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_it_creates_a_record_and_audits_it_as_an_api_write(case, world, admin_user, api_as):
    response = api_as(admin_user).post(f"/{case.path}", case.create(world))
    assert response.status_code == 201, response.content
    body = response.json_body
    record = case.model.objects.get(pk=body["id"])
    for key, value in {**case.create(world), **case.checks}.items():
        if key != "lines":
            assert body[key] == value or str(body[key]) == str(value) or _same_time(body[key], value), key
    log = AuditLog.objects.get(model=case.model._meta.label_lower, object_id=str(record.pk), action="create")
    assert (log.actor, log.via) == (admin_user, "api")


def _same_time(got, sent):
    try:
        return dt.datetime.fromisoformat(got) == _aware(dt.datetime.fromisoformat(sent))
    except (TypeError, ValueError):
        return False


def _aware(value):
    return value if value.tzinfo else timezone.make_aware(value)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_it_lists_and_retrieves_records(case, world, admin_user, api_as):
    made = [case.make(world, i) for i in range(3)]
    api = api_as(admin_user)
    listing = api.get(f"/{case.path}").json_body
    assert listing["count"] == case.model.objects.count()
    assert {r["id"] for r in listing["items"]} >= {m.pk for m in made}
    one = api.get(f"/{case.path}/{made[1].pk}")
    assert one.status_code == 200
    assert one.json_body["id"] == made[1].pk


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_patch_changes_only_the_fields_sent_and_audits_the_difference(case, world, admin_user, api_as):
    record = case.make(world, 1)
    before = api_as(admin_user).get(f"/{case.path}/{record.pk}").json_body
    response = api_as(admin_user).patch(f"/{case.path}/{record.pk}", case.patch)
    assert response.status_code == 200, response.content
    after = response.json_body
    for key, value in case.patch.items():
        assert str(after[key]) == str(value)
    untouched = {
        k
        for k in before
        if k not in case.patch
        and k not in ("updated_at", "arr", "gross_margin", "closed_on", "mql_at", "pipeline")  # set by write rules
    }
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    log = AuditLog.objects.get(model=case.model._meta.label_lower, object_id=str(record.pk), action="update")
    assert log.via == "api" and log.actor == admin_user
    assert set(case.patch) <= {k.removesuffix("_id") for k in log.changes}


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_delete_removes_the_record_and_audits_it(case, world, admin_user, api_as):
    record = case.make(world, 1)
    response = api_as(admin_user).delete(f"/{case.path}/{record.pk}")
    assert response.status_code == 204, response.content
    assert not case.model.objects.filter(pk=record.pk).exists()
    assert AuditLog.objects.filter(
        model=case.model._meta.label_lower, object_id=str(record.pk), action="delete", via="api"
    ).exists()
    assert_error(api_as(admin_user).get(f"/{case.path}/{record.pk}"), 404, "not_found")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_a_viewer_reads_but_may_not_write(case, world, viewer, api_as):
    record = case.make(world, 1)
    api = api_as(viewer)
    assert api.get(f"/{case.path}/{record.pk}").status_code == 200
    assert_error(api.post(f"/{case.path}", case.create(world)), 403, "forbidden")
    assert_error(api.patch(f"/{case.path}/{record.pk}", case.patch), 403, "forbidden")
    assert_error(api.delete(f"/{case.path}/{record.pk}"), 403, "forbidden")
    assert case.model.objects.filter(pk=record.pk).exists()
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("case", OWNED, ids=ids)
def test_a_record_of_an_account_the_user_cannot_see_is_not_found(
    case, world, team_visibility, outsider, api_as
):
    record = case.make(world, 1)
    api = api_as(outsider)
    error = assert_error(api.get(f"/{case.path}/{record.pk}"), 404, "not_found")
    assert world["account"].name not in error["message"]
    assert api.get(f"/{case.path}").json_body["count"] == 0


@pytest.mark.parametrize("case", OWNED, ids=ids)
def test_the_owner_sees_records_of_their_accounts_when_visibility_is_by_team(
    case, world, team_visibility, teammate, api_as
):
    record = case.make(world, 1)
    assert api_as(teammate).get(f"/{case.path}/{record.pk}").status_code == 200


@pytest.mark.parametrize("path", ["accounts", "contacts"])
def test_invisible_records_cannot_be_changed_or_deleted_either(
    path, world, team_visibility, outsider, api_as
):
    record = world["account"] if path == "accounts" else world["contact"]
    api = api_as(outsider)
    assert_error(api.patch(f"/{path}/{record.pk}", {"name": "hijacked"}), 404, "not_found")
    assert_error(api.delete(f"/{path}/{record.pk}"), 404, "not_found")
    record.refresh_from_db()
    assert record.name != "hijacked"


@pytest.mark.parametrize("case", [c for c in OWNED if c.path != "accounts"], ids=ids)
def test_it_refuses_to_create_records_for_an_account_the_user_cannot_see(
    case, world, team_visibility, csm, outsider, api_as
):
    """A CSM or Sales user of the other team may write these records, but only for accounts
    they can see; an invisible account is reported exactly like one that does not exist."""
    perm = f"{case.model._meta.app_label}.add_{case.model._meta.model_name}"
    writer = csm if csm.has_perm(perm) else outsider
    assert writer.has_perm(perm)
    before = case.model.objects.count()
    error = assert_error(api_as(writer).post(f"/{case.path}", case.create(world)), 422, "invalid_data")
    assert {"loc": ["account"], "message": f"unknown account {world['account'].pk}"} in error["details"]
    assert case.model.objects.count() == before


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_listing_fifty_records_takes_a_bounded_number_of_queries(
    case, world, admin_user, api_as, django_assert_max_num_queries
):
    for i in range(50):
        record = case.make(world, i + 10)
        if case.path == "accounts":
            record.tags.add(Tag.objects.get_or_create(category=world["category"], value=f"t{i % 5}")[0])
        if case.path == "orders":
            record.lines.create(line_no=1, amount=10 * i, product=world["product"])
    api = api_as(admin_user)
    api.get("/me")  # the token's first use is recorded once
    with django_assert_max_num_queries(10):
        response = api.get(f"/{case.path}", limit=50)
    assert len(response.json_body["items"]) == 50


# -- what particular resources add to the generic mechanism ---------------------------------


def test_changing_a_subscription_writes_its_ledger_readable_through_the_api(world, admin_user, api_as):
    api = api_as(admin_user)
    sub = api.post(
        "/subscriptions", {"account": world["account"].pk, "start_date": "2024-01-01", "mrr": "1000.00"}
    ).json_body
    api.patch(f"/subscriptions/{sub['id']}", {"mrr": "1500.00", "seats": 3})
    ends = (timezone.localdate() + dt.timedelta(days=30)).isoformat()  # expansions are dated today
    api.patch(f"/subscriptions/{sub['id']}", {"status": "cancelled", "cancelled_on": ends})
    changes = api.get(f"/subscriptions/{sub['id']}/changes").json_body
    assert [(c["kind"], c["mrr_before"], c["mrr_after"]) for c in changes["items"]] == [
        ("new", "0.00", "1000.00"),
        ("expansion", "1000.00", "1500.00"),
        ("churn", "1500.00", "0.00"),
    ]


def test_an_opportunitys_stage_history_follows_every_stage_change(world, owner, api_as):
    api = api_as(owner)
    opp = api.post(
        "/opportunities", {"account": world["account"].pk, "name": "续约 2025", "type": "renewal"}
    ).json_body
    api.patch(f"/opportunities/{opp['id']}", {"stage": "proposal"})
    api.patch(f"/opportunities/{opp['id']}", {"stage": "won"})
    history = api.get(f"/opportunities/{opp['id']}/stage-history").json_body["items"]
    assert [(h["from_stage"], h["to_stage"], h["changed_by"]) for h in history] == [
        ("", "qualify", owner.pk),
        ("qualify", "proposal", owner.pk),
        ("proposal", "won", owner.pk),
    ]
    assert api.get(f"/opportunities/{opp['id']}").json_body["closed_on"] is not None


def test_histories_of_invisible_records_are_not_found(world, team_visibility, outsider, api_as):
    sub = Subscription.objects.create(account=world["account"], start_date=TODAY, mrr=10)
    assert_error(api_as(outsider).get(f"/subscriptions/{sub.pk}/changes"), 404, "not_found")


def test_an_order_is_created_with_its_lines_and_its_totals_are_their_sums(world, owner, api_as):
    lines = [
        {"amount": "100.00", "cost": "40.00"},
        {"product": world["product"].pk, "quantity": 3, "amount": "30.50"},
    ]
    order = (
        api_as(owner)
        .post("/orders", {"account": world["account"].pk, "ordered_on": "2024-03-01", "lines": lines})
        .json_body
    )
    assert (order["amount"], order["cost"], order["gross_margin"]) == ("130.50", "40.00", "90.50")
    assert [(line["line_no"], line["amount"]) for line in order["lines"]] == [(1, "100.00"), (2, "30.50")]


def test_patching_an_orders_lines_replaces_them(world, owner, api_as):
    api = api_as(owner)
    order = api.post(
        "/orders",
        {"account": world["account"].pk, "ordered_on": "2024-03-01", "lines": [{"amount": "5.00"}] * 3},
    ).json_body
    changed = api.patch(f"/orders/{order['id']}", {"lines": [{"amount": "7.00"}]}).json_body
    assert [line["amount"] for line in changed["lines"]] == ["7.00"]
    assert changed["amount"] == "7.00"


def test_an_order_amount_that_is_not_the_sum_of_its_lines_is_refused(world, owner, api_as):
    body = {
        "account": world["account"].pk,
        "ordered_on": "2024-03-01",
        "amount": "99.00",
        "lines": [{"amount": "5.00"}],
    }
    error = assert_error(api_as(owner).post("/orders", body), 422, "invalid_data")
    assert error["details"] == [{"loc": ["amount"], "message": "99.00 is not the sum of the lines (5.00)"}]
    assert not Order.objects.exists()


def test_accounts_take_tags_by_id(world, owner, api_as):
    tags = [Tag.objects.create(category=world["category"], value=v) for v in ("高", "中")]
    api = api_as(owner)
    account = api.post("/accounts", {"name": "格力", "tags": [tags[0].pk]}).json_body
    assert account["tags"] == [tags[0].pk]
    changed = api.patch(f"/accounts/{account['id']}", {"tags": [t.pk for t in tags]}).json_body
    assert sorted(changed["tags"]) == sorted(t.pk for t in tags)
    log = AuditLog.objects.get(object_id=str(account["id"]), model="customers.account", action="update")
    assert log.changes["tags"] == [[tags[0].pk], sorted(t.pk for t in tags)]


def test_lifecycle_fields_are_read_only(world, owner, api_as):
    error = assert_error(api_as(owner).patch(f"/accounts/{world['account'].pk}", {"health_score": 99}), 422)
    assert error["details"][0]["loc"][-1] == "health_score"


def test_records_can_name_their_account_by_external_id(world, csm, api_as):
    Account.objects.filter(pk=world["account"].pk).update(external_id="SF-001", source="salesforce")
    body = {"account_external_id": "SF-001", "subject": "无法登录", "opened_at": "2024-03-01T09:00:00"}
    ticket = api_as(csm).post("/tickets", body)
    assert ticket.status_code == 201, ticket.content
    assert ticket.json_body["account"] == world["account"].pk


def test_custom_attributes_are_checked_against_their_registry(world, owner, api_as):
    from clm.core.models import CustomField

    CustomField.objects.create(target="account", key="plant_count", label="工厂数", type="number")
    api = api_as(owner)
    ok = api.patch(f"/accounts/{world['account'].pk}", {"custom": {"plant_count": "12"}})
    assert ok.json_body["custom"] == {"plant_count": 12.0}
    error = assert_error(
        api.patch(f"/accounts/{world['account'].pk}", {"custom": {"plants": 3}}), 422, "invalid_data"
    )
    assert error["details"][0]["loc"] == ["custom.plants"]
