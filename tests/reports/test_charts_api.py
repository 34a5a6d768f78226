"""/api/v1/reports/figures: the same figure the pages chart, over the records the user may see,
the accounts behind a part of it, CSV/XLSX export (formula-injection safe), and bad input named
in the error format (422, as /kpis) — never a 500."""

import csv
import io

import pytest
from openpyxl import load_workbook

from clm.customers.models import Account
from clm.reports import figures
from clm.reports.charts import service
from clm.reports.kpis.base import Scope
from clm.reports.periods import Period
from tests.api.conftest import assert_error
from tests.factories import make_user

from .conftest import TODAY


@pytest.fixture
def manager(db):
    return make_user("boss", "Manager")


def test_the_list_names_every_figure_with_its_page(api_as, manager):
    body = api_as(manager).get("/reports/figures", headers={"Accept-Language": "zh-hans"}).json_body
    assert sorted(f["key"] for f in body) == sorted(service.CHARTS)
    waterfall = next(f for f in body if f["key"] == "revenue.waterfall")
    assert waterfall["page"] == "revenue" and waterfall["title"] == "MRR 月度变动"


def test_a_figure_is_the_same_as_the_service_reads(world, api_as, manager, django_assert_max_num_queries):
    client = api_as(manager)
    with django_assert_max_num_queries(25):
        body = client.get("/reports/figures/revenue.waterfall", period="2026-11").json_body
    same = figures.read("revenue.waterfall", Scope(manager, None, TODAY), Period.parse("2026-11"))
    assert body["rows"] == same["rows"] and body["columns"] == same["columns"]
    assert body["parts"]["2026-11:churn"] == 1 and "groups" not in body
    assert body["column_labels"][:2] == ["Month", "Opening MRR"]  # English without Accept-Language (clm.core.http)
    value = client.get("/reports/figures/value.economics", period="2026-11").json_body
    assert value["extra"]["bands"] == {"warning": 0.3, "alarm": 0.5}


def test_drill_down_lists_the_accounts_behind_a_part_that_the_user_may_see(world, api_as, owner, manager,
                                                                         team_visibility):
    body = api_as(manager).get("/reports/figures/revenue.waterfall/accounts", period="2026-11",
                               part="2026-09:new").json_body
    assert [a["name"] for a in body["items"]] == ["A", "B", "C"] and body["count"] == 3
    mine = api_as(owner).get("/reports/figures/revenue.waterfall/accounts", period="2026-11", part="2026-09:new")
    assert [a["name"] for a in mine.json_body["items"]] == ["A"]  # the owner's portfolio: A and D
    assert api_as(owner).get("/reports/figures/team.people", period="2026-11").json_body["rows"][0][2] == "owner"


@pytest.mark.parametrize("path, query, field", [
    ("/reports/figures/revenue.nope", {"period": "2026-11"}, "key"),
    ("/reports/figures/revenue.waterfall", {"period": "2026-13"}, "period"),
    ("/reports/figures/revenue.waterfall", {"period": "2999-01"}, "period"),
    ("/reports/figures/revenue.waterfall/accounts", {"period": "2026-11", "part": "2026-11:gift"}, "part"),
    ("/reports/figures/revenue.waterfall/export", {"period": "2026-11", "format": "pdf"}, "format"),
    ("/reports/figures/revenue.waterfall", {"owner": "abc"}, "owner"),
])
def test_bad_filters_answer_422_naming_the_field(world, api_as, manager, path, query, field):
    response = api_as(manager, language="en").get(path, **query)
    assert_error(response, 422)  # the API's answer to bad input (as /kpis): the field and what is wrong
    assert [field] in [d["loc"][-1:] for d in response.json_body["error"]["details"]], response.json_body


def test_export_csv_and_xlsx_carry_the_figures_numbers_and_quote_formulas(world, api_as, manager):
    Account.objects.filter(pk=world["A"].pk).update(industry="=HYPERLINK(\"http://x\")")
    client = api_as(manager, language="en")
    response = client.get("/reports/figures/revenue.arr_segments/export", period="2026-11", format="csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Period", "Dimension", "Segment", "ARR", "Accounts"]
    by_segment = {r[2]: r for r in rows[1:]}
    assert by_segment["'=HYPERLINK(\"http://x\")"][3:] == ["14400.0", "1"]  # quoted: a spreadsheet shows text
    assert by_segment["零售"][:2] == ["2026-11", "Industry"] and by_segment["not set"][3] == "22800.0"
    xlsx = client.get("/reports/figures/revenue.waterfall/export", period="2026-11", format="xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    table = list(sheet.values)
    assert table[0][:3] == ("Period", "Month", "Opening MRR")
    assert table[-1][1] == "2026-11" and table[-1][-1] == 1900


def test_a_users_language_names_the_columns(world, api_as, manager):
    body = api_as(manager, language="zh-hans").get("/reports/figures/flows.stage_time", period="2026-11").json_body
    assert body["title"] == "各阶段停留时长" and body["column_labels"][1] == "中位天数"
