"""Quotes: totals worked out by hand, the approval paths (none needed, approve, reject and
re-submit, two levels, approver absent, a discount nobody may approve), sending, and acceptance
that becomes contracts and an order without retyping."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clm.commerce.models import Order, Product, Subscription
from clm.core import services
from clm.core.models import Role
from clm.sales import quotes
from clm.sales.models import Approval, ApprovalRule, Opportunity, Quote
from tests.factories import make_account, make_user

pytestmark = pytest.mark.django_db
D = Decimal


def test_totals_worked_by_hand():
    """12 seats of a 260/month plan at 10% off for 12 months, and one 18,000 implementation at 5%:
    monthly 12 × 260 × 0.9 = 2,808; list 12 × 260 × 12 + 18,000 = 55,440; discount 312 × 12 + 900
    = 4,644; net 50,796; VAT 6% = 3,047.76; total 53,843.76."""
    lines = [
        {"list_price": D(260), "quantity": D(12), "discount": D("0.10"), "recurring": True},
        {"list_price": D(18000), "quantity": D(1), "discount": D("0.05"), "recurring": False},
    ]
    assert quotes.totals(lines, D("0.06"), 12) == {
        "monthly": D("2808.00"), "one_off": D("17100.00"), "list_total": D("55440.00"),
        "discount_total": D("4644.00"), "net_total": D("50796.00"), "tax_total": D("3047.76"),
        "total": D("53843.76"), "max_discount": D("0.10"),
    }  # fmt: skip


@pytest.fixture
def world(owner, team_a):
    from clm.sales.pipelines import install_built_in

    install_built_in()
    plan = Product.objects.create(name="专业版（席位/月）", list_price=D(260), is_recurring=True)
    service = Product.objects.create(name="实施服务包", list_price=D(18000), is_recurring=False)
    retired = Product.objects.create(name="旧版", list_price=D(99), is_recurring=True, active=False)
    account = make_account("华星精密", sales_owner=owner)
    deal = services.create(Opportunity, {"account": account, "name": "年度订阅", "owner": owner})
    manager = make_user("lead", Role.MANAGER, team_a)
    director = make_user("director", Role.MANAGER)
    ApprovalRule.objects.create(name="15%+", above_discount=D("0.15"), up_to_discount=D("0.30"),
                                approver_role=Role.MANAGER, order=1)  # fmt: skip
    ApprovalRule.objects.create(name="30%+", above_discount=D("0.30"), up_to_discount=D("0.50"), approver=director,
                                order=2)  # fmt: skip
    return {"plan": plan, "service": service, "retired": retired, "deal": deal, "account": account,
            "manager": manager, "director": director}  # fmt: skip


def quote(owner, world, discount="0", seats=12):
    return quotes.create_quote(owner, world["deal"], [
        {"product": world["plan"].pk, "quantity": seats, "discount": discount},
        {"product": world["service"].pk, "quantity": 1},
    ], valid_until=dt.date.today() + dt.timedelta(days=30))  # fmt: skip


def test_a_quote_needing_no_approval_is_sent_and_accepted_into_a_contract_and_an_order(owner, world):
    q = quote(owner, world, "0.10")
    assert (q.number, q.version, q.total) == (f"Q-{dt.date.today():%Y}-0001", 1, D("53843.76") + D("954.00"))
    q = quotes.send(owner, q)
    assert q.status == Quote.Status.SENT
    result = quotes.accept(owner, q, start=dt.date(2027, 1, 1))
    sub = Subscription.objects.get(account=world["account"])
    assert (sub.seats, sub.mrr, sub.start_date, sub.end_date) == (12, D("2808.00"), dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    order = Order.objects.get(account=world["account"])
    assert order.amount == D("18000.00") and result["order"] == order
    world["deal"].refresh_from_db()
    assert world["deal"].stage == "won" and world["deal"].amount == q.total


def test_a_discount_above_15_percent_waits_for_the_teams_manager_and_cannot_be_sent_meanwhile(owner, world):
    q = quotes.submit(owner, quote(owner, world, "0.20"))
    assert q.status == Quote.Status.PENDING
    approval = q.approvals.get()
    assert approval.approver == world["manager"] and "20%" in approval.reason
    with pytest.raises(ValidationError) as refused:
        quotes.send(owner, q)
    assert "pending" in str(refused.value) or "审批" in str(refused.value)
    with pytest.raises(PermissionDenied):
        quotes.decide(owner, approval, approve=True)
    quotes.decide(world["manager"], approval, approve=True, comment="战略客户")
    q.refresh_from_db()
    assert q.status == Quote.Status.APPROVED
    assert quotes.send(owner, q).status == Quote.Status.SENT


def test_a_rejection_needs_a_reason_and_a_revised_quote_is_submitted_again(owner, world):
    q = quotes.submit(owner, quote(owner, world, "0.25"))
    approval = q.approvals.get()
    with pytest.raises(ValidationError):
        quotes.decide(world["manager"], approval, approve=False)
    quotes.decide(world["manager"], approval, approve=False, comment="折扣过高")
    q.refresh_from_db()
    assert q.status == Quote.Status.REJECTED
    with pytest.raises(ValidationError):
        quotes.send(owner, q)
    v2 = quotes.revise(owner, q, [{"product": world["plan"].pk, "quantity": 12, "discount": "0.12"}])
    q.refresh_from_db()
    assert (q.status, v2.version, v2.number, v2.status) == (Quote.Status.SUPERSEDED, 2, q.number, Quote.Status.DRAFT)
    assert quotes.submit(owner, v2).status == Quote.Status.APPROVED  # 12% needs no approval


def test_a_deep_discount_needs_both_levels(owner, world):
    q = quotes.submit(owner, quote(owner, world, "0.40"))
    assert sorted(a.approver.username for a in q.approvals.all()) == ["director", "lead"]
    first, second = q.approvals.order_by("pk")
    quotes.decide(world["manager"], first, approve=True)
    q.refresh_from_db()
    assert q.status == Quote.Status.PENDING
    quotes.decide(world["director"], second, approve=True)
    q.refresh_from_db()
    assert q.status == Quote.Status.APPROVED


def test_a_discount_no_rule_covers_and_an_absent_approver_are_refused(owner, world):
    with pytest.raises(ValidationError) as refused:
        quotes.submit(owner, quote(owner, world, "0.60"))
    assert "50" in str(refused.value)
    world["director"].is_active = False
    world["director"].save()
    q = quote(owner, world, "0.35")
    with pytest.raises(ValidationError) as refused:
        quotes.submit(owner, q)
    assert "director" in str(refused.value)
    q.refresh_from_db()
    assert q.status == Quote.Status.DRAFT and not Approval.objects.filter(quote=q).exists()


def test_bad_lines_are_refused_naming_the_line(owner, world):
    with pytest.raises(ValidationError) as refused:
        quotes.create_quote(owner, world["deal"], [
            {"product": world["plan"].pk, "quantity": 0}, {"product": world["retired"].pk}, {"product": 999999},
        ])  # fmt: skip
    assert set(refused.value.message_dict) == {"lines[1]", "lines[2]", "lines[3]"}
    assert "旧版" in refused.value.message_dict["lines[2]"][0]
    with pytest.raises(ValidationError):
        quotes.create_quote(owner, world["deal"], [])
    assert not Quote.objects.exists()


def test_another_teams_rep_cannot_quote_or_see_the_deal(outsider, owner, world, team_visibility):
    with pytest.raises(PermissionDenied):
        quotes.create_quote(outsider, world["deal"], [{"product": world["plan"].pk}])
    q = quote(owner, world)
    with pytest.raises(PermissionDenied):
        quotes.submit(outsider, q)


def test_an_expired_quote_cannot_be_accepted(owner, world):
    q = quotes.send(owner, quote(owner, world))
    Quote.objects.filter(pk=q.pk).update(valid_until=dt.date.today() - dt.timedelta(days=1))
    with pytest.raises(ValidationError) as refused:
        quotes.accept(owner, q)
    assert "valid_until" in refused.value.message_dict
    assert not Subscription.objects.exists()


def test_the_api_walks_a_quote_through_approval_to_acceptance(owner, world, api_as):
    api = api_as(owner, language="en")
    made = api.post("/quotes", {
        "opportunity": world["deal"].pk, "lines": [{"product": world["plan"].pk, "quantity": 10, "discount": "0.2"}],
    })  # fmt: skip
    assert made.status_code == 201, made.json_body
    quote_id = made.json_body["id"]
    assert made.json_body["monthly"] == "2080.00" and made.json_body["status"] == "draft"
    assert api.post(f"/quotes/{quote_id}/send").status_code == 422
    submitted = api.post(f"/quotes/{quote_id}/submit").json_body
    assert submitted["status"] == "pending" and len(submitted["approvals"]) == 1
    approval_id = submitted["approvals"][0]["id"]
    assert api.post(f"/approvals/{approval_id}/decide", {"approve": True}).status_code == 403
    manager = api_as(world["manager"], language="en")
    refused = manager.post(f"/approvals/{approval_id}/decide", {"approve": False})
    assert refused.status_code == 422 and refused.json_body["error"]["details"][0]["loc"] == ["comment"]
    assert manager.post(f"/approvals/{approval_id}/decide", {"approve": True}).json_body["status"] == "approved"
    assert api.post(f"/quotes/{quote_id}/send").json_body["status"] == "sent"
    accepted = api.post(f"/quotes/{quote_id}/accept", {"start": "2027-02-01"})
    assert accepted.json_body["status"] == "accepted"
    assert Subscription.objects.get().start_date == dt.date(2027, 2, 1)
    assert "closed" in api.post("/quotes", {
        "opportunity": world["deal"].pk, "lines": [{"product": world["plan"].pk}],
    }).json_body["error"]["details"][0]["message"]  # fmt: skip
    other = services.create(Opportunity, {"account": world["account"], "name": "增购", "owner": owner})
    bad = api.post("/quotes", {"opportunity": other.pk, "lines": [{"product": world["retired"].pk}]})
    assert bad.status_code == 422 and "no longer sold" in bad.json_body["error"]["details"][0]["message"]
    assert api.post("/quotes", {"opportunity": world["deal"].pk, "lines": []}).status_code == 422
