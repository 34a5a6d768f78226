"""/api/v1/value: what each named user sees, the figures' shapes, and bad input answered in the
one error format."""

import datetime as dt
from decimal import Decimal

import pytest

from clm.core.models import AuditLog
from clm.customers.models import Account
from clm.sales.models import ChannelSpend
from clm.value import services
from clm.value.models import CLVEstimate, LoyaltyEntry, Recommendation
from tests.api.conftest import assert_error

from .conftest import REGULAR, order, subscription_cohort

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2024, 8, 15)


@pytest.fixture
def book(owner, outsider):
    """The owner's account and the outsider's, each a buyer with a contract, valued on AS_OF."""
    mine = Account.objects.create(name="mine", sales_owner=owner, customer_since=dt.date(2024, 1, 1))
    theirs = Account.objects.create(name="theirs", sales_owner=outsider, customer_since=dt.date(2024, 1, 1))
    cohort = subscription_cohort(REGULAR, acquisition_channel="events")
    for account in (mine, theirs):
        sub = account.subscriptions.create(start_date=dt.date(2024, 1, 1), mrr=Decimal("200"))
        sub.changes.create(
            account=account, effective_date=dt.date(2024, 1, 1), kind="new", mrr_before=0, mrr_after=200,
            seats_before=0, seats_after=1, status_after="active",
        )  # fmt: skip
        order(account, dt.date(2024, 1, 1), "2500.00", cost=Decimal("500.00"))
    ChannelSpend.objects.create(channel="events", month=dt.date(2024, 1, 1), amount=Decimal("30000"))
    services.recompute(AS_OF)
    return {"mine": mine, "theirs": theirs, "cohort": cohort}


def test_account_clv_shows_the_value_and_what_it_came_from(api_as, owner, book):
    response = api_as(owner).get(f"/value/accounts/{book['mine'].pk}/clv")
    assert response.status_code == 200, response.content
    body = response.json_body
    current = body["current"]
    assert current["method"] == "sbg"
    assert current["as_of"] == AS_OF.isoformat()
    assert current["historical_value"] == 2000.0  # 2500 revenue − 500 cost
    assert current["value"] == pytest.approx(current["historical_value"] + current["future_value"])
    assert current["inputs"]["mrr"] == 200.0 and current["inputs"]["margin_rate"] == 0.8
    assert body["history"] == [{"as_of": AS_OF.isoformat(), "method": "sbg", "value": current["value"]}]


def test_restricted_users_see_only_their_book(api_as, owner, outsider, team_visibility, book):
    as_owner = api_as(owner)
    assert_error(as_owner.get(f"/value/accounts/{book['theirs'].pk}/clv"), 404, "not_found")
    assert_error(as_owner.get(f"/value/accounts/{book['theirs'].pk}/loyalty"), 404, "not_found")
    listed = as_owner.get("/value/clv").json_body
    assert [item["account_id"] for item in listed["items"]] == [book["mine"].pk]
    tiers = as_owner.get("/value/tiers").json_body
    assert [item["account_id"] for item in tiers["items"]] == [book["mine"].pk]
    # aggregates are computed over the visible accounts only
    movements = as_owner.get("/value/mrr-movements", as_of=AS_OF.isoformat()).json_body
    assert movements["months"][0]["new"] == 200.0
    # CAC needs the whole base
    assert_error(as_owner.get("/value/cac"), 403, "forbidden")


def test_everyone_with_a_role_sees_the_company_by_default(api_as, viewer, book):
    listed = api_as(viewer).get("/value/clv", limit=5, order="-value").json_body
    assert listed["count"] == 1002
    values = [item["value"] for item in listed["items"]]
    assert values == sorted(values, reverse=True)


def test_mrr_movements_and_retention(api_as, admin_user, book):
    body = api_as(admin_user).get("/value/mrr-movements", as_of=AS_OF.isoformat()).json_body
    months = {m["month"]: m for m in body["months"]}
    assert months["2024-01"]["new"] == 1000 * 100 + 2 * 200
    assert months["2024-02"]["churn"] == (1000 - 631) * 100
    feb = months["2024-02"]
    assert feb["grr"] == pytest.approx((100_400 - 36_900) / 100_400)
    assert feb["nrr"] == feb["grr"]  # no expansion
    for m in body["months"]:
        assert m["closing_mrr"] == pytest.approx(m["opening_mrr"] + m["net_new_mrr"])


def test_cohort_matrix_for_a_heat_map(api_as, admin_user, book):
    body = api_as(admin_user).get("/value/cohorts", as_of=AS_OF.isoformat()).json_body
    assert body["cohorts"] == ["2024-01"]
    assert body["accounts"] == [1002]
    logo = body["logo_retention"][0]
    assert logo[:3] == pytest.approx([1.0, 633 / 1002, 470 / 1002])
    assert len(logo) == 8  # months 0 … 7 observed by mid-August
    orders = api_as(admin_user).get("/value/cohorts", basis="orders", as_of=AS_OF.isoformat()).json_body
    assert orders["accounts"] == [2] and orders["repurchase"][0][0] == 0.0


def test_cac_with_ltv_ratio_and_health_levels(api_as, admin_user, book):
    body = api_as(admin_user).get("/value/cac", period="all", as_of=AS_OF.isoformat()).json_body
    assert (body["warning_share"], body["alarm_share"]) == (0.3, 0.5)
    events = next(r for r in body["rows"] if r["channel"] == "events")
    assert events["new_customers"] == 1000 and events["cac"] == 30.0  # seed: CAC = spend / new customers
    assert events["ltv_to_cac"] == pytest.approx(events["ltv"] / 30.0)
    assert events["health"] in ("healthy", "warning", "alarm")
    unattributed = next(r for r in body["rows"] if r["channel"] == "unattributed")
    assert unattributed["status"] == "no_spend"


@pytest.mark.parametrize("period", ["quarter", "month"])
def test_cac_of_a_period_without_ltv_has_no_health_rather_than_a_500(api_as, admin_user, book, period):
    # Spend in a month that won no customer: no CAC, so no health. pandas 3 stored the missing
    # health as NaN in a string column, and the API answered 500 (issue 14, finding 5).
    ChannelSpend.objects.create(channel="ads", month=dt.date(2024, 3, 1), amount=Decimal("5000"))
    response = api_as(admin_user).get("/value/cac", period=period, as_of=AS_OF.isoformat())
    assert response.status_code == 200, response.content
    ads = next(r for r in response.json_body["rows"] if r["channel"] == "ads")
    assert (ads["status"], ads["cac"], ads["health"]) == ("no_new_customers", None, None)


def test_recommendations_can_be_accepted_by_sales_not_by_viewers(api_as, owner, viewer, products):
    account = Account.objects.create(name="mine", sales_owner=owner)
    rec = Recommendation.objects.create(
        account=account, product=products["IoT module"], score=1, confidence=0.5, lift=2,
        due_from=dt.date(2024, 8, 1), due_to=dt.date(2024, 9, 1), reason="because", computed_on=AS_OF,
    )  # fmt: skip
    listed = api_as(owner).get("/value/recommendations").json_body
    assert [(i["id"], i["product"], i["due_status"]) for i in listed["items"]] == [
        (rec.pk, "IoT module", "overdue")
    ]
    assert_error(
        api_as(viewer).patch(f"/value/recommendations/{rec.pk}", {"status": "accepted"}), 403, "forbidden"
    )
    response = api_as(owner).patch(f"/value/recommendations/{rec.pk}", {"status": "accepted"})
    assert response.status_code == 200 and response.json_body["status"] == "accepted"
    assert AuditLog.objects.filter(model="value.recommendation", object_id=str(rec.pk), via="api").exists()
    assert_error(api_as(owner).patch(f"/value/recommendations/{rec.pk}", {"status": "converted"}), 422)


def test_loyalty_balance_ledger_and_redemption(api_as, owner, viewer):
    account = Account.objects.create(name="mine", sales_owner=owner)
    services.add_entry(account, "referral", 500, on=dt.date(2024, 1, 1))
    as_owner = api_as(owner)
    response = as_owner.post(
        f"/value/accounts/{account.pk}/loyalty/redemptions", {"points": 200, "note": "Q3 credit"}
    )
    assert response.status_code == 201, response.content
    assert response.json_body["points"] == -200 and response.json_body["credit"] == 200.0
    body = as_owner.get(f"/value/accounts/{account.pk}/loyalty").json_body
    assert body["balance"] == 300 == sum(e["points"] for e in body["entries"])

    refused = assert_error(
        as_owner.post(f"/value/accounts/{account.pk}/loyalty/redemptions", {"points": 301}), 422
    )
    assert "300 available" in refused["details"][0]["message"]
    assert LoyaltyEntry.objects.filter(account=account).count() == 2
    assert_error(as_owner.post(f"/value/accounts/{account.pk}/loyalty/redemptions", {"points": 0}), 422)
    assert_error(api_as(viewer).post(f"/value/accounts/{account.pk}/loyalty/redemptions", {"points": 1}), 403)


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/value/mrr-movements", {"start": "2024-13"}, 422),
        ("/value/mrr-movements", {"start": "March"}, 422),
        ("/value/mrr-movements", {"start": "2024-05", "end": "2024-02"}, 400),
        ("/value/mrr-movements", {"window": "0"}, 422),
        ("/value/cohorts", {"basis": "weekly"}, 422),
        ("/value/cohorts", {"as_of": "2999-01-01"}, 400),
        ("/value/cac", {"period": "decade"}, 422),
        ("/value/clv", {"min_value": "nan"}, 422),
        ("/value/clv", {"limit": "100000"}, 422),
        ("/value/accounts/999999/clv", {}, 404),
        ("/value/accounts/99999999999999999999/clv", {}, 404),
        ("/value/accounts/1/tier", {}, 404),
    ],
)
def test_bad_input_is_a_clear_4xx(api_as, admin_user, path, query, status):
    error = assert_error(api_as(admin_user).get(path, **query), status)
    assert error["message"]


def test_empty_database_answers_with_empty_figures(api_as, admin_user):
    client = api_as(admin_user)
    assert client.get("/value/mrr-movements").json_body["months"] == []
    assert client.get("/value/cohorts").json_body["cohorts"] == []
    assert client.get("/value/cac").json_body["rows"] == []
    assert client.get("/value/clv").json_body == {
        "as_of": None,
        "count": 0,
        "limit": 50,
        "offset": 0,
        "items": [],
    }


def test_anonymous_requests_are_refused(client):
    response = client.get("/api/v1/value/clv")
    assert response.status_code == 401


def test_contract_cohort_value_sums_the_accounts_residual_values(api_as, admin_user, book):
    body = api_as(admin_user).get("/value/contract-cohorts").json_body
    assert body["as_of"] == AS_OF.isoformat()
    (cohort,) = body["cohorts"]
    assert cohort["cohort"] == "2024-01"
    assert (cohort["accounts"], cohort["active"]) == (1002, 243)
    future = sum(float(e.future_value) for e in CLVEstimate.objects.filter(as_of=AS_OF))
    assert cohort["future_value"] == pytest.approx(future, abs=0.05)


def test_lists_name_the_accounts_without_a_query_per_row(api_as, viewer, book, django_assert_max_num_queries):
    client = api_as(viewer)
    with django_assert_max_num_queries(12):
        listed = client.get("/value/clv", limit=200).json_body
    assert len(listed["items"]) == 200 and all(item["account"] for item in listed["items"])
    with django_assert_max_num_queries(12):
        tiers = client.get("/value/tiers", limit=200).json_body
    # by total revenue: the two accounts with orders first
    assert {item["account"] for item in tiers["items"][:2]} == {"mine", "theirs"}
    assert tiers["counts_by_tier"] == {"standard": 1002}
