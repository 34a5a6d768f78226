"""The dashboard pages beside the overview: each chart with its numbers (the figure the API gives),
a table view, a drill-down to the accounts behind each part, CSV/XLSX export, filters by period,
segment, owner and team, record visibility, and bad filters named beside the field — in Chinese
and English, with a bounded number of queries."""

import csv
import io
import json
import re

import pytest
from django.urls import reverse

from clm.reports.charts import service
from tests.reports.conftest import world  # noqa: F401  (the small company of the KPI tests)
from tests.web.test_dashboard import manager, signed_in  # noqa: F401  (the overview's manager, signed in)

NOV = {"period": "2026-11"}


def figure_json(html: str, key: str) -> dict:
    found = re.search(rf'<script id="{re.escape(key)}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


@pytest.mark.parametrize("page", list(service.PAGES))
def test_every_page_renders_its_figures_in_both_languages(world, signed_in, page, django_assert_max_num_queries):  # noqa: F811
    for language, title in (("en", "Dashboards"), ("zh-hans", "管理看板")):
        with django_assert_max_num_queries(30):  # a bounded number, however many rows a figure has
            response = signed_in.get(reverse("web:report", args=[page]), NOV, HTTP_ACCEPT_LANGUAGE=language)
        html = response.content.decode()
        assert response.status_code == 200 and f'aria-label="{title}"' in html
        for key in service.PAGES[page]:
            assert f'data-testid="figure-{key}"' in html
            assert f'id="{key}"' in html or f'data-testid="nodata-{key}"' in html, key


def test_the_page_shows_the_same_numbers_as_the_api(world, signed_in, api_as, manager):  # noqa: F811
    html = signed_in.get(reverse("web:report", args=["revenue"]), NOV, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chart = figure_json(html, "revenue.waterfall")
    api = api_as(manager).get("/reports/figures/revenue.waterfall", period="2026-11").json_body
    assert chart["rows"] == api["rows"] and chart["labels"][:2] == ["Month", "Opening MRR"]
    assert "<td>¥1,900</td>" in html  # November's closing MRR in the table view


def test_each_part_drills_down_to_the_accounts_behind_it(world, signed_in):  # noqa: F811
    html = signed_in.get(reverse("web:report", args=["revenue"]), NOV).content.decode()
    links = figure_json(html, "revenue.waterfall")["links"]
    assert figure_json(html, "revenue.waterfall")["links"]["2026-11"]  # the table row: every account that moved
    churn = links["2026-11:churn"]
    assert "figure=revenue.waterfall" in churn and "period=2026-11" in churn
    # the table's link is the month's; the chart's are per movement, built the same way
    listing = signed_in.get(reverse("web:accounts") + "?period=2026-11&figure=revenue.waterfall&part=2026-11%3Achurn")
    body = listing.content.decode()
    assert listing.status_code == 200 and ">C<" in body and ">A<" not in body and ">B<" not in body
    assert "MRR 月度变动" in body and "2026-11 · 流失" in body  # the filter names the figure and the part
    team = signed_in.get(reverse("web:accounts"), {"period": "2026-11", "figure": "team.people",
                                                   "part": f"sales_owner:{world['A'].sales_owner_id}"})
    assert "销售负责人 · owner" in team.content.decode() and ">D<" in team.content.decode()
    sankey = signed_in.get(reverse("web:report", args=["flows"]), NOV).content.decode()
    href = figure_json(sankey, "flows.sankey")["links"]["dormant>reactivated"]
    page = signed_in.get(href.replace("&amp;", "&")).content.decode()
    assert ">G<" in page and ">H<" not in page
    nowhere = signed_in.get(reverse("web:accounts") + "?period=2026-11&figure=revenue.waterfall&part=nope")
    assert nowhere.status_code == 200 and ">A<" not in nowhere.content.decode()


def test_a_rep_sees_their_portfolio_only(world, client, owner, team_visibility):  # noqa: F811
    client.force_login(owner)
    html = client.get(reverse("web:report", args=["team"]), NOV).content.decode()
    people = figure_json(html, "team.people")
    assert [row[2] for row in people["rows"]] == ["owner"]
    revenue = figure_json(client.get(reverse("web:report", args=["revenue"]), NOV).content.decode(), "revenue.waterfall")
    assert revenue["rows"][-1][-1] == 1500  # A 1200 + D 300


def test_filters_by_owner_and_team(world, signed_in, owner, outsider):  # noqa: F811
    mine = figure_json(signed_in.get(reverse("web:report", args=["revenue"]), {**NOV, "owner": owner.pk}).content.decode(),
                       "revenue.waterfall")
    assert mine["rows"][-1][-1] == 1500
    team = figure_json(signed_in.get(reverse("web:report", args=["revenue"]), {**NOV, "team": outsider.team_id})
                       .content.decode(), "revenue.waterfall")
    assert team["rows"][-1][-1] == 400  # the outsider's team: B 400, C gone
    # the drill-down keeps the team: September's new MRR in that team is B and C, not A
    html = signed_in.get(reverse("web:report", args=["revenue"]), {**NOV, "team": outsider.team_id}).content.decode()
    href = figure_json(html, "revenue.waterfall")["links"]["2026-09:new"]
    listing = signed_in.get(href).content.decode()
    assert ">B<" in listing and ">C<" in listing and ">A<" not in listing


def test_bad_filters_are_named_beside_the_field_not_a_500(world, signed_in):  # noqa: F811
    response = signed_in.get(reverse("web:report", args=["cohorts"]), {"period": "2026-13", "team": "x", "owner": "ab"},
                             HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200 and "is not a period" in html
    assert signed_in.get(reverse("web:report", args=["nope"])).status_code == 404
    assert signed_in.get(reverse("web:report_export", args=["revenue.nope", "csv"])).status_code == 404
    assert signed_in.get(reverse("web:report_export", args=["revenue.waterfall", "pdf"])).status_code == 404


def test_export_of_a_chart_in_the_users_language(world, signed_in):  # noqa: F811
    response = signed_in.get(reverse("web:report_export", args=["flows.stage_time", "csv"]), NOV,
                             HTTP_ACCEPT_LANGUAGE="zh-hans")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["期间", "阶段", "中位天数"]
    assert ["2026-11", "衰退期", "58.0"] == rows[[r[1] for r in rows].index("衰退期")][:3]
    xlsx = signed_in.get(reverse("web:report_export", args=["team.people", "xlsx"]), NOV)
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].endswith('team.people-2026-11.xlsx"')


def test_the_overview_carries_the_tab_bar(world, signed_in):  # noqa: F811
    html = signed_in.get(reverse("web:dashboard"), NOV).content.decode()
    assert 'data-testid="tab-overview" aria-current="page"' not in html  # attribute order: href first
    assert re.search(r'data-testid="tab-revenue"', html) and 'aria-current="page" data-testid="tab-overview"' in html
