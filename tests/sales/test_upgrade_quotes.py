"""Upgrade quotes: a quote for an account with a live contract amends it when accepted — the
contract's product, seats and MRR from the acceptance date, through the contract ledger — so the
MRR waterfall shows an expansion; a contract that is not live, or another account's, is refused."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clm.commerce.models import Product, Subscription, SubscriptionChange
from clm.core import services
from clm.reports import figures
from clm.reports.kpis.base import Scope
from clm.reports.periods import Period
from clm.sales import quotes
from clm.sales.models import Opportunity
from tests.factories import make_account

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def world(owner):
    from clm.sales.pipelines import install_built_in

    install_built_in()
    plan = Product.objects.create(name="专业版", list_price=D(260), is_recurring=True)
    flagship = Product.objects.create(name="旗舰版", list_price=D(300), is_recurring=True)
    addon = Product.objects.create(name="分析插件", list_price=D(100), is_recurring=True)
    account = make_account("华星精密", sales_owner=owner)
    contract = services.create(Subscription, {
        "account": account, "product": plan, "start_date": dt.date(2026, 9, 1), "end_date": dt.date(2027, 8, 31),
        "renewal_date": dt.date(2027, 9, 1), "seats": 10, "mrr": D(2600)})  # fmt: skip
    deal = services.create(Opportunity, {"account": account, "name": "升级旗舰版", "type": "expansion", "owner": owner})
    return {"plan": plan, "flagship": flagship, "addon": addon, "account": account, "contract": contract, "deal": deal}


def upgrade(owner, world, contract=None):
    return quotes.create_quote(owner, world["deal"], [
        {"product": world["flagship"].pk, "quantity": 12}, {"product": world["addon"].pk, "quantity": 2},
    ], amends=contract or world["contract"], valid_until=timezone.localdate() + dt.timedelta(days=30))  # fmt: skip


def test_an_accepted_upgrade_amends_the_contract_from_the_acceptance_date_and_the_waterfall_shows_it(owner, world, admin_user):
    q = quotes.send(owner, upgrade(owner, world))
    result = quotes.accept(owner, q, start=dt.date(2026, 11, 1))
    contract = Subscription.objects.get(pk=world["contract"].pk)
    # 12 seats of the flagship at 300 a month; the term is the contract's own
    assert (contract.product, contract.seats, contract.mrr, contract.end_date) == (
        world["flagship"], 12, D("3600.00"), dt.date(2027, 8, 31))
    addon = Subscription.objects.get(product=world["addon"])
    assert (addon.seats, addon.mrr, addon.start_date, addon.end_date) == (2, D("200.00"), dt.date(2026, 11, 1), dt.date(2027, 8, 31))
    assert [s.pk for s in result["subscriptions"]] == [contract.pk, addon.pk]
    change = SubscriptionChange.objects.filter(subscription=contract).order_by("id").last()
    assert (change.kind, change.effective_date, change.mrr_before, change.mrr_after, change.seats_after) == (
        "expansion", dt.date(2026, 11, 1), D(2600), D(3600), 12)
    waterfall = figures.read("revenue.waterfall", Scope(admin_user, None, dt.date(2026, 12, 7)), Period.parse("2026-11"))
    months = {row[0]: dict(zip(waterfall["columns"], row, strict=True)) for row in waterfall["rows"]}
    # November: 2,600 opening; the upgrade adds 3,600 − 2,600 and the co-termed add-on 200, both
    # expansion of an existing customer (not new): closing 3,800
    nov = months["2026-11"]
    assert (nov["opening_mrr"], nov["new"], nov["expansion"], nov["closing_mrr"]) == (2600, 0, 1200, 3800)
    assert months["2026-09"]["new"] == 2600
    assert waterfall["groups"]["2026-11:expansion"] == [world["account"].pk]


def test_a_contract_that_is_not_live_or_not_the_accounts_cannot_be_amended(owner, world, api_as):
    other = services.create(Subscription, {"account": make_account("别家"), "product": world["plan"],
                                           "start_date": dt.date(2026, 1, 1), "seats": 1, "mrr": D(260)})  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        upgrade(owner, world, other)
    assert "华星精密" in refused.value.message_dict["amends"][0]
    services.update(world["contract"], {"status": "cancelled", "cancelled_on": dt.date(2026, 10, 1)})
    with pytest.raises(ValidationError) as ended:
        upgrade(owner, world)
    assert "live" in ended.value.message_dict["amends"][0] or "生效" in ended.value.message_dict["amends"][0]
    api = api_as(owner, language="en")
    answer = api.post("/quotes", {"opportunity": world["deal"].pk, "amends": other.pk,
                                  "lines": [{"product": world["flagship"].pk, "quantity": 1}]})  # fmt: skip
    assert answer.status_code == 422 and "has no contract" in str(answer.json_body)


def test_a_contract_ended_before_acceptance_is_not_amended(owner, world):
    q = quotes.send(owner, upgrade(owner, world))
    services.update(world["contract"], {"status": "expired"})
    with pytest.raises(ValidationError):
        quotes.accept(owner, q, start=dt.date(2026, 11, 1))
    assert Subscription.objects.get(pk=world["contract"].pk).mrr == D(2600)
    assert not Subscription.objects.filter(product=world["addon"]).exists()


def test_the_api_creates_an_upgrade_quote(owner, world, api_as):
    api = api_as(owner, language="en")
    made = api.post("/quotes", {"opportunity": world["deal"].pk, "amends": world["contract"].pk,
                                "lines": [{"product": world["flagship"].pk, "quantity": 12}]})  # fmt: skip
    assert made.status_code == 201 and made.json_body["amends"] == world["contract"].pk
