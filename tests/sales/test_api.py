"""The lead centre's API: every action through the same services, record visibility, and bad
input refused with a message that names what is wrong."""

import pytest

from clm.sales.models import ICP, Lead
from tests.api.conftest import assert_error
from tests.factories import make_account
from tests.sales.conftest import MAKERS_RULES, make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep_api(api_as, owner):
    return api_as(owner, language="en")


def test_engagement_through_the_api_counts_once_per_key(rep_api, owner, makers):
    lead = make_lead(owner=owner)
    body = {"kind": "product", "name": "trial.project_created", "key": "evt-42"}
    first = rep_api.post(f"/leads/{lead.pk}/activities", body)
    assert first.status_code == 201, first.content
    again = rep_api.post(f"/leads/{lead.pk}/activities", body)
    assert again.status_code == 200 and again.json_body["id"] == first.json_body["id"]
    history = rep_api.get(f"/leads/{lead.pk}/activities")
    assert history.json_body["count"] == 1
    score = rep_api.get(f"/leads/{lead.pk}/score").json_body
    assert score["engagement_score"] == 8.0 and score["engagement_reasons"][0] == "Product event: 8.0 points"
    assert score["icp"] == makers.name and score["icp_reasons"][0].startswith("✓ Industry is one of 制造业")


def test_an_unknown_activity_kind_is_refused(rep_api, owner):
    lead = make_lead(owner=owner)
    response = rep_api.post(f"/leads/{lead.pk}/activities", {"kind": "tweet"})
    assert_error(response, 422)
    assert "kind" in str(response.json_body["error"]["details"])


def test_a_move_past_its_criteria_needs_a_reason(rep_api, owner, makers):
    lead = make_lead(owner=owner)
    refused = rep_api.post(f"/leads/{lead.pk}/move", {"to": "sql"})
    assert_error(refused, 422)
    assert "Give a reason" in refused.json_body["error"]["details"][0]["message"]
    moved = rep_api.post(f"/leads/{lead.pk}/move", {"to": "sql", "reason": "asked for a quote on the phone"})
    assert moved.status_code == 200 and moved.json_body["to_status"] == "sql"
    history = rep_api.get(f"/leads/{lead.pk}/stage-history").json_body["items"]
    assert [h["to_status"] for h in history] == ["sql"] and history[0]["reason"] == "asked for a quote on the phone"


def test_another_reps_lead_is_not_found(api_as, owner, outsider, team_visibility):
    lead = make_lead(owner=owner)
    response = api_as(outsider, language="en").post(f"/leads/{lead.pk}/move", {"to": "mql", "reason": "x"})
    assert response.status_code in (404, 422)
    assert Lead.objects.get(pk=lead.pk).status == "mal"


def test_convert_preview_and_a_refused_merge(rep_api, owner, outsider, team_visibility):
    from clm.customers.services import fill_search_keys

    mine = make_account("华为", sales_owner=owner)
    hidden = make_account("阿里巴巴", sales_owner=outsider)
    fill_search_keys()
    lead = make_lead(company="华为技术有限公司", owner=owner)
    preview = rep_api.get(f"/leads/{lead.pk}/conversion").json_body
    assert preview["matches"][0]["account"] == mine.pk and preview["matches"][0]["by"] == "name"
    refused = rep_api.post(f"/leads/{lead.pk}/convert", {"account": hidden.pk})
    assert_error(refused, 422)
    assert "may see" in refused.json_body["error"]["details"][0]["message"]
    duplicate = rep_api.post(f"/leads/{lead.pk}/convert", {"new_account": True})
    assert_error(duplicate, 422)
    done = rep_api.post(f"/leads/{lead.pk}/convert", {"account": mine.pk, "amount": 50000})
    assert done.status_code == 200 and done.json_body["account"] == mine.pk and done.json_body["status"] == "opportunity"


def test_icps_through_the_api_have_their_rules_checked(api_as, db):
    from tests.factories import make_user

    manager = api_as(make_user("mgr", "Manager"), language="en")
    bad = manager.post("/icps", {"key": "x", "name": "X", "rules": [{"field": "industry", "op": "near", "value": ["a"]}]})
    assert_error(bad, 422)
    assert "Rule 1: unknown op" in str(bad.json_body["error"]["details"])
    good = manager.post("/icps", {"key": "makers", "name": "Makers", "rules": MAKERS_RULES})
    assert good.status_code == 201, good.content
    assert ICP.objects.get(key="makers").rules == MAKERS_RULES


def test_bulk_assign_and_the_funnel(api_as, owner, teammate, makers):
    from tests.factories import make_user

    manager = api_as(make_user("mgr", "Manager"), language="en")
    leads = [make_lead(email=f"{i}@x.cn") for i in range(3)]
    response = manager.post("/leads/assign", {"leads": [lead.pk for lead in leads], "owner": teammate.pk})
    assert response.json_body == {"assigned": 3}
    assert set(Lead.objects.values_list("owner", flat=True)) == {teammate.pk}
    funnel = manager.get("/leads/funnel", by="source_channel").json_body
    web = [r for r in funnel["rows"] if r["group"] == "web"]
    assert [r["reached"] for r in web] == [3, 0, 0, 0, 0]
    nobody = manager.post("/leads/assign", {"leads": [leads[0].pk], "owner": 999999})
    assert_error(nobody, 422)


def test_scoring_settings_are_read_by_all_and_changed_by_managers(api_as, viewer, db):
    from tests.factories import make_user

    body = {"half_life_days": 14, "points": {"form": 20}, "criteria": {"mql": {"min_fit": 30, "min_engagement": 10}},
            "stale_days": 5}
    assert api_as(viewer).get("/leads/scoring").json_body["half_life_days"] == 30
    assert api_as(viewer, language="en").request("put", "/leads/scoring", body).status_code == 403
    manager = api_as(make_user("mgr", "Manager"), language="en")
    bad = manager.request("put", "/leads/scoring", {**body, "points": {"tweet": 3}})
    assert_error(bad, 422)
    assert "tweet" in str(bad.json_body["error"]["details"])
    assert manager.request("put", "/leads/scoring", body).json_body["half_life_days"] == 14
