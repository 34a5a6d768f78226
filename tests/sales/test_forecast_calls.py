"""Forecast calls: set on the deal page, through the API and by import, each change recorded
(who, when, from, to); the forecast of a period per owner and team with the deals behind each
figure and, for a manager, the gap to the new ARR target. The roll-up's worked example is in
tests/analytics/test_forecast.py; here the same arithmetic is read back through the database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clm.core import services
from clm.reports.periods import Period
from clm.reports.services import set_target
from clm.sales import forecast
from clm.sales.models import ForecastCallChange, Opportunity
from tests.factories import make_account, make_user

pytestmark = pytest.mark.django_db
Q1 = (dt.date(2027, 1, 1), dt.date(2027, 3, 31))


def deal(account, name, stage="qualify", amount=0, **fields):
    opp = services.create(Opportunity, {"account": account, "name": name, "amount": Decimal(amount), **fields})
    if stage != "qualify":
        opp = services.update(opp, {"stage": stage})
    return opp


@pytest.fixture
def world(owner, teammate, outsider):
    """Q1 2027 (stage probabilities of the built-in pipeline: proposal 50%, negotiation 75%).
    owner (East): won 2,500; commit 4,000 in negotiation; best case 10,000 in proposal; a commit
    closing in Q2. teammate (East): pipeline 20,000 in qualify (10%); omitted 8,000 in discovery.
    outsider (West): commit 6,000 in negotiation."""
    east = make_account("East Co", sales_owner=owner)
    west = make_account("West Co", sales_owner=outsider)
    close = {"expected_close": dt.date(2027, 2, 1)}
    deal(east, "won", "won", 2500, owner=owner, closed_on=dt.date(2027, 1, 15))
    deal(east, "commit", "negotiation", 4000, owner=owner, forecast_category="commit", **close)
    deal(east, "best", "proposal", 10000, owner=owner, forecast_category="best_case", **close)
    deal(east, "later", "proposal", 7000, owner=owner, forecast_category="commit", expected_close=dt.date(2027, 4, 2))
    deal(east, "maybe", "qualify", 20000, owner=teammate, **close)
    deal(east, "omit", "discovery", 8000, owner=teammate, forecast_category="omitted", **close)
    deal(west, "west", "negotiation", 6000, owner=outsider, forecast_category="commit", **close)
    return {o.name: o for o in Opportunity.objects.all()}


def test_a_call_changed_is_recorded_with_who_when_from_and_to(owner, account):
    opp = deal(account, "A", owner=owner)
    forecast.set_call(owner, opp, "best_case")
    opp.refresh_from_db()
    forecast.set_call(owner, opp, "commit")
    changes = list(ForecastCallChange.objects.filter(opportunity=opp).values_list("from_category", "to_category", "changed_by", "via"))
    assert changes == [("", "pipeline", None, "system"), ("pipeline", "best_case", owner.pk, "ui"),
                       ("best_case", "commit", owner.pk, "ui")]  # fmt: skip
    with pytest.raises(ValidationError) as unknown:
        forecast.set_call(owner, opp, "sure_thing")
    assert "sure_thing" in unknown.value.message_dict["forecast_category"][0]
    won = deal(account, "B", "won", 10)
    with pytest.raises(ValidationError, match="closed"):
        forecast.set_call(owner, won, "commit")
    assert Opportunity.objects.get(pk=opp.pk).forecast_category == "commit"


def test_the_forecast_per_owner_and_team_with_the_gap_for_a_manager(world, owner, teammate, outsider, admin_user):
    report = forecast.forecast(admin_user, *Q1, target=30000)
    t = report.total
    # won 2,500; commit 4,000 + 6,000; best case 10,000; pipeline 20,000; omitted 8,000
    # weighted 4,000×75% + 10,000×50% + 20,000×10% + 6,000×75% = 14,500 (omitted weighs nothing)
    assert (t["won"], t["commit"], t["best_case"], t["pipeline"], t["omitted"], t["weighted"], t["deals"]) == (
        2500, 10000, 10000, 20000, 8000, 14500, 6)
    owners = {r["group"]: r for r in report.owners}
    assert (owners[owner.pk]["expected"], owners[owner.pk]["upside"]) == (6500, 16500)
    assert owners[teammate.pk]["weighted"] == 2000 and owners[outsider.pk]["commit"] == 6000
    teams = {r["group"]: r for r in report.teams}
    assert teams[owner.team_id]["deals"] == 5 and teams[outsider.team_id]["weighted"] == 4500
    # 30,000 − (2,500 + 10,000) after commit; 30,000 − 22,500 after best case
    assert (report.gap["to_expected"], report.gap["to_upside"]) == (17500, 7500)
    behind = forecast.forecast_deals(admin_user, *Q1, measure="commit", team=owner.team_id)
    assert [d.name for d in behind] == ["commit"]
    assert sorted(d.name for d in forecast.forecast_deals(admin_user, *Q1, measure="weighted")) == ["best", "commit", "maybe", "west"]


def test_a_rep_sees_the_forecast_of_the_deals_they_may_see_and_no_gap(world, outsider, team_visibility):
    report = forecast.forecast(outsider, *Q1, target=30000)
    assert (report.total["commit"], report.total["deals"]) == (6000, 1)
    assert [r["group"] for r in report.owners] == [outsider.pk]
    assert report.gap is None
    assert [d.name for d in forecast.forecast_deals(outsider, *Q1, measure="commit")] == ["west"]


def test_the_api_sets_a_call_keeps_its_history_and_answers_the_forecast(world, owner, outsider, admin_user, api_as,
                                                                         team_visibility):  # fmt: skip
    api = api_as(owner, language="en")
    maybe = world["maybe"]
    answer = api.post(f"/opportunities/{maybe.pk}/forecast", {"forecast_category": "best_case"})
    assert answer.status_code == 200 and answer.json_body["forecast_category"] == "best_case"
    refused = api.post(f"/opportunities/{maybe.pk}/forecast", {"forecast_category": "maybe"})
    assert refused.status_code == 422 and "maybe" in str(refused.json_body)
    assert api.post(f"/opportunities/{world['won'].pk}/forecast", {"forecast_category": "commit"}).status_code == 422
    assert api_as(outsider).post(f"/opportunities/{maybe.pk}/forecast", {"forecast_category": "commit"}).status_code == 404
    patched = api.patch(f"/opportunities/{maybe.pk}", {"forecast_category": "commit"})
    assert patched.status_code == 200
    history = api.get(f"/opportunities/{maybe.pk}/forecast-history").json_body["items"]
    assert [(h["from_category"], h["to_category"]) for h in history] == [
        ("", "pipeline"), ("pipeline", "best_case"), ("best_case", "commit")]
    body = api_as(admin_user).get("/pipelines/forecast", start="2027-01-01", end="2027-03-31", target=30000).json_body
    assert body["total"]["commit"] == 30000 and body["total"]["best_case"] == 10000
    assert body["gap"] == {"target": 30000, "to_expected": 0, "to_upside": 0, "attainment": pytest.approx(2500 / 30000)}
    assert api.get("/pipelines/forecast", start="2027-01-01", end="2027-03-31", target=1).json_body["gap"] is None
    assert api.get("/pipelines/forecast", start="2027-01-01", end="bad").status_code == 422


def test_the_forecast_page_drills_down_and_the_deal_page_sets_the_call(owner, teammate, admin_user, client, team_visibility):
    quarter = Period.of("quarter", dt.date.today())
    account = make_account("Acme", sales_owner=owner)
    opp = deal(account, "Big one", "negotiation", 40000, owner=owner, expected_close=quarter.end)
    deal(account, "Small one", "proposal", 1000, owner=teammate, expected_close=quarter.end)
    set_target(admin_user, "new_arr", quarter.label, 100000)
    client.force_login(owner)
    posted = client.post(f"/deals/{opp.pk}/forecast/", {"forecast_category": "commit"}, HTTP_ACCEPT_LANGUAGE="en")
    assert posted.status_code == 302
    page = client.get(f"/deals/{opp.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Forecast call" in page and "Pipeline → <strong>Commit</strong>" in page
    bad = client.post(f"/deals/{opp.pk}/forecast/", {"forecast_category": "nope"}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "“nope” is not a forecast category" in bad.content.decode()
    client.force_login(admin_user)
    page = client.get("/pipeline/forecast/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Sales forecast for {quarter.label}" in page and "Gap to the new ARR target" in page
    assert "¥60,000" in page  # 100,000 − commit 40,000
    drill = client.get(f"/pipeline/forecast/deals/?period={quarter.label}&measure=commit&owner={owner.pk}",
                       HTTP_ACCEPT_LANGUAGE="en").content.decode()  # fmt: skip
    assert "Big one" in drill and "Small one" not in drill
    chinese = client.get("/pipeline/forecast/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "销售预测" in chinese and "最佳情况" in chinese
    assert client.get("/pipeline/forecast/deals/?measure=planet").status_code == 404
    rep = make_user("rep", "Sales")
    client.force_login(rep)
    assert "Gap to the new ARR target" not in client.get("/pipeline/forecast/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
