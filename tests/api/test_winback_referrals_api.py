"""/api/v1/winbacks and /api/v1/value/referrals…: the steps and the refusals through the API (by
field, in the caller's language, nothing written), visibility, and the KPIs."""

import datetime as dt

import pytest

from clm.automation.models import WinBack
from clm.customers.models import Account
from clm.service.models import SurveyResponse
from clm.value.models import CLVEstimate, Referral, ReferralReward
from tests.api.conftest import ApiClient, assert_error
from tests.factories import make_user, new_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def east(owner):
    account = Account.objects.create(name="East Co", sales_owner=owner)
    new_subscription(account, dt.date(2025, 1, 1), "500.00")
    return account


def test_the_win_back_steps_through_the_api_and_the_refusals(owner, east):
    api = ApiClient(owner, language="en")
    started = api.post("/winbacks", {"account": east.pk, "signal": "login_drop", "values": {"logins_30d": 3}})
    assert started.status_code == 201, started.content
    wid = started.json_body["id"]
    assert (started.json_body["step"], started.json_body["arr_at_risk"]) == ("signal", "6000.00")
    early = api.post(f"/winbacks/{wid}/plan", {"offer": "product-training"})
    assert_error(early, 422)
    assert "steps go in order" in early.json_body["error"]["details"][0]["message"]
    assert api.post(f"/winbacks/{wid}/cause", {"cause": "price", "note": "太贵"}).json_body["step"] == "cause"
    over = api.post(f"/winbacks/{wid}/plan", {"offer": "renewal-discount", "discount_percent": "20"})
    assert_error(over, 422)
    assert "name the manager who approved it" in over.json_body["error"]["details"][0]["message"]
    manager = make_user("boss", "Manager")
    planned = api.post(f"/winbacks/{wid}/plan", {"offer": "renewal-discount", "discount_percent": "20", "approver": manager.pk})
    assert (planned.json_body["step"], planned.json_body["approved_by"]) == ("plan", manager.pk)
    too_soon = api.post(f"/winbacks/{wid}/evaluation", {"result": "renewed"})
    assert_error(too_soon, 422)
    WinBack.objects.filter(pk=wid).update(evaluate_on=dt.date(2020, 1, 1))
    done = api.post(f"/winbacks/{wid}/evaluation", {"result": "renewed", "note": "续约"})
    assert (done.json_body["step"], done.json_body["arr_won_back"]) == ("evaluated", "6000.00")
    kpis = api.get("/winbacks/kpis").json_body
    assert (kpis["evaluated"], kpis["success_rate"], kpis["revenue_won_back"]) == (1, 1.0, 6000.0)
    assert kpis["by_offer"][0]["key"] == "renewal-discount"
    assert_error(api.post("/winbacks", {"account": east.pk, "signal": "x", "values": [1]}), 422)


def test_a_chinese_caller_reads_the_refusal_in_chinese(owner, east):
    api = ApiClient(owner, language="zh-hans")
    wid = api.post("/winbacks", {"account": east.pk, "signal": "health_red"}).json_body["id"]
    refused = api.post(f"/winbacks/{wid}/cause", {"cause": "other"})
    assert_error(refused, 422)
    assert "其他" in refused.json_body["error"]["details"][0]["message"]


def test_a_hidden_win_back_is_a_404(owner, outsider, east, team_visibility):
    wid = ApiClient(owner).post("/winbacks", {"account": east.pk, "signal": "x"}).json_body["id"]
    assert_error(ApiClient(outsider).get(f"/winbacks/{wid}"), 404)
    assert ApiClient(outsider).get("/winbacks").json_body["count"] == 0


def test_referrals_through_the_api(owner, east):
    api = ApiClient(owner, language="en")
    code = api.post("/value/referral-codes", {"account": east.pk})
    assert code.status_code == 201 and len(code.json_body["code"]) == 8
    newcomer = Account.objects.create(name="Newcomer", sales_owner=owner)
    unknown = api.post("/value/referrals", {"code": "NOPE2345", "account": newcomer.pk})
    assert_error(unknown, 422)
    assert "There is no referral code NOPE2345" in unknown.json_body["error"]["details"][0]["message"]
    made = api.post("/value/referrals", {"code": code.json_body["code"], "account": newcomer.pk})
    assert made.status_code == 201 and made.json_body["referrer"] == east.pk
    rid = made.json_body["id"]
    assert_error(api.post(f"/value/referrals/{rid}/reward"), 422)  # not signed yet
    Account.objects.filter(pk=newcomer.pk).update(customer_since=dt.date(2026, 1, 2))
    rewarded = api.post(f"/value/referrals/{rid}/reward")
    assert rewarded.json_body["reward"]["points"] == 500
    twice = api.post(f"/value/referrals/{rid}/reward")
    assert_error(twice, 422)
    assert "already rewarded" in twice.json_body["error"]["details"][0]["message"]
    assert ReferralReward.objects.count() == 1 and Referral.objects.count() == 1
    kpis = api.get("/value/referrals-kpis", start="2026-01-01", end="2026-02-01").json_body
    assert (kpis["new_customers"], kpis["referred_new_customers"], kpis["referral_share"]) == (1, 1, 1.0)
    assert kpis["reward_cost"] == "500.00"
    # east, a healthy promoter at the customers' median CLV, is an advocate with what it referred
    Account.objects.filter(pk=east.pk).update(lifecycle_stage="growth", health_band="green", health_score=80)
    SurveyResponse.objects.create(account=east, kind="nps", score=9, responded_at=dt.datetime(2026, 1, 3, tzinfo=dt.UTC))
    CLVEstimate.objects.create(account=east, as_of=dt.date(2026, 1, 3), method="sbg", value=50000,
                               historical_value=0, future_value=50000)
    assert api.get("/value/advocates").json_body[0]["reasons"] == [
        "NPS 9: a promoter", "healthy (80)", "CLV ¥50,000, at or above the customers' median of ¥50,000",
        "has referred 1, 1 signed"]
    assert_error(api.get("/value/referrals-kpis", start="2026-02-01", end="2026-01-01"), 422)
