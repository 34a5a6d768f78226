"""/api/v1/kpis: the catalogue, values with inputs, drill-down through clm.core.access, exports,
targets; bad input answers in the error format naming what is wrong."""

import csv
import io

import pytest
from openpyxl import load_workbook

from clm.reports.models import KpiTarget
from tests.api.conftest import assert_error
from tests.factories import make_user


@pytest.fixture
def manager(db):
    return make_user("boss", "Manager")


def test_the_catalogue_in_the_users_language(api_as, manager):
    body = api_as(manager).get("/kpis", headers={"Accept-Language": "zh-hans"}).json_body
    nrr = next(k for k in body if k["key"] == "nrr")
    assert nrr["stage"] == "churn" and nrr["unit"] == "percent" and nrr["up_is_good"] is True
    assert len(body) == 34


def test_values_give_the_same_figures_as_the_service_with_inputs_and_targets(world, api_as, manager):
    client = api_as(manager)
    assert client.request("put", "/kpis/targets", {"kpi": "nrr", "period": "2026-11", "value": 1.0}).status_code == 200
    body = client.get("/kpis/values", period="2026-11").json_body
    assert body["period"] == "2026-11" and body["previous_period"] == "2026-10"
    items = {i["key"]: i for i in body["items"]}
    nrr = items["nrr"]
    assert nrr["value"] == pytest.approx(1600 / 1700)
    assert (nrr["numerator"], nrr["denominator"], nrr["accounts"]) == (1600, 1700, 3)
    assert (nrr["target"], nrr["status"]) == (1.0, "missed")
    assert items["icp_match_share"]["value"] is None and items["icp_match_share"]["no_data"]
    assert items["arr"]["previous_value"] == 20400


def test_drill_down_lists_only_visible_accounts(world, api_as, owner, team_visibility):
    body = api_as(owner).get("/kpis/customers/accounts", period="2026-11").json_body
    assert [a["name"] for a in body["items"]] == ["A", "D"] and body["count"] == 2


def test_a_segment_filters_the_values(world, api_as, manager):
    items = {i["key"]: i for i in api_as(manager).get("/kpis/values", period="2026-11", industry="零售").json_body["items"]}
    assert items["customers"]["accounts"] == 3  # D, E, G
    assert items["cac"]["value"] is None


def test_export_csv_and_xlsx_carry_the_same_numbers(world, api_as, manager):
    client = api_as(manager)
    response = client.get("/kpis/export", period="2026-11", format="csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_key = {r[2]: r for r in rows[1:]}
    assert float(by_key["arr"][4]) == 22800 and by_key["icp_match_share"][4] == ""
    xlsx = client.get("/kpis/export", period="2026-11", format="xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = {row[2]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells["arr"][4] == 22800 and cells["nrr"][4] == pytest.approx(1600 / 1700)


def test_bad_input_is_named(world, api_as, manager):
    client = api_as(manager)
    assert_error(client.get("/kpis/values", period="2026-13"), 422, "invalid_data")
    assert_error(client.get("/kpis/values", period="2999"), 422, "invalid_data")
    response = client.get("/kpis/nope/accounts", period="2026-11")
    assert_error(response, 422, "invalid_data")
    assert response.json_body["error"]["details"][0]["loc"] == ["kpi"]
    bad = client.request("put", "/kpis/targets", {"kpi": "logo_churn", "period": "2026-11", "value": 3})
    assert_error(bad, 422, "invalid_data")
    assert bad.json_body["error"]["details"][0]["loc"] == ["value"]
    assert_error(client.request("put", "/kpis/targets", {"kpi": "nrr", "period": "2026-11"}), 422, "invalid_request")
    assert not KpiTarget.objects.exists()


def test_a_sales_rep_may_read_but_not_set_targets(world, api_as, owner):
    client = api_as(owner)
    assert_error(client.request("put", "/kpis/targets", {"kpi": "nrr", "period": "2026-11", "value": 1}), 403)
    assert client.get("/kpis/targets").status_code == 200


def test_removing_a_target_through_the_api(world, api_as, manager):
    client = api_as(manager)
    client.request("put", "/kpis/targets", {"kpi": "nps", "period": "2026", "value": 30})
    assert [t["kpi"] for t in client.get("/kpis/targets", period="2026").json_body] == ["nps"]
    assert client.delete("/kpis/targets/nps/2026").status_code == 204
    assert_error(client.delete("/kpis/targets/nps/2026"), 404)
