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


@pytest.mark.parametrize("page", list(service.PAGES))
def test_a_filtered_page_and_a_reps_own_stay_within_the_same_bound(world, signed_in, client, owner, team_visibility,  # noqa: F811
                                                                  page, django_assert_max_num_queries):
    with django_assert_max_num_queries(30):  # computed live for the segment: still not one query per row or part
        assert signed_in.get(reverse("web:report", args=[page]), {**NOV, "industry": "制造"}).status_code == 200
    client.force_login(owner)
    with django_assert_max_num_queries(30):
        assert client.get(reverse("web:report", args=[page]), NOV).status_code == 200


def test_the_page_shows_the_same_numbers_as_the_api(world, signed_in, api_as, manager):  # noqa: F811
    html = signed_in.get(reverse("web:report", args=["revenue"]), NOV, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chart = figure_json(html, "revenue.waterfall")
    api = api_as(manager).get("/reports/figures/revenue.waterfall", period="2026-11").json_body
    assert chart["rows"] == api["rows"] and chart["labels"][:2] == ["Month", "Opening MRR"]
    assert '<td class="num">¥1,900</td>' in html  # November's closing MRR in the table view


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


def _tiered(world):  # noqa: F811
    """A and D in the "key" tier, B "standard", on the latest tier day (E and F keep "t")."""
    import datetime as dt

    from clm.value.models import TierAssignment

    for name, tier in (("A", "key"), ("D", "key"), ("B", "standard")):
        TierAssignment.objects.create(account=world[name], as_of=dt.date(2026, 11, 30), tier=tier, tier_label=tier,
                                      tenure_years=0, total_revenue=0)


def test_the_value_tier_filters_pages_drill_downs_lists_exports_and_the_api(world, signed_in, api_as, manager):  # noqa: F811
    _tiered(world)
    key_tier = {**NOV, "tier": "key"}
    html = signed_in.get(reverse("web:report", args=["revenue"]), key_tier, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    waterfall = figure_json(html, "revenue.waterfall")
    assert waterfall["rows"][-1][-1] == 1500  # closing MRR of A (1,200) and D (300); B's 400 is "standard"
    assert 'value="key" selected' in html and "tier=key" in html  # the filter shown and carried by the tabs
    # the drill-down keeps the tier: November's new MRR of the key tier is D
    listing = signed_in.get(waterfall["links"]["2026-11:new"]).content.decode()
    assert "tier=key" in waterfall["links"]["2026-11:new"] and ">D<" in listing and ">B<" not in listing
    # the accounts list filters by tier by itself, and the overview's KPI links carry it
    plain = signed_in.get(reverse("web:accounts"), {"tier": "key"}).content.decode()
    assert ">A<" in plain and ">D<" in plain and ">B<" not in plain and ">E<" not in plain
    overview = signed_in.get(reverse("web:dashboard"), key_tier).content.decode()
    assert re.search(r'href="[^"]*kpi=customers[^"]*tier=key', overview)
    # the export reads the same figure
    export = signed_in.get(reverse("web:report_export", args=["revenue.waterfall", "csv"]), key_tier,
                           HTTP_ACCEPT_LANGUAGE="en")
    last = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))[-1]
    assert last[0] == "2026-11" and float(last[-1]) == 1500
    api = api_as(manager)
    assert api.get("/reports/figures/revenue.waterfall", period="2026-11", tier="key").json_body["rows"][-1][-1] == 1500
    assert api.get("/kpis/values", period="2026-11", tier="standard").status_code == 200
    bad = api.get("/reports/figures/revenue.waterfall", period="2026-11", tier="gold")
    assert bad.status_code == 422 and bad.json_body["error"]["details"] == [
        {"loc": ["tier"], "message": "“gold” is not a value tier; the tiers are: strategic, key, growth, standard."}]


def test_a_cohort_cell_drills_down_to_exactly_the_accounts_it_counts(world, signed_in):  # noqa: F811
    for language, words in (("en", "still had MRR at this age"), ("zh-hans", "在这个月龄仍有 MRR")):
        html = signed_in.get(reverse("web:report", args=["cohorts"]), NOV, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert words in html  # the tooltip says what a cell counts
    logo = figure_json(html, "cohorts.logo")
    september = next(r for r in logo["rows"] if r[0] == "2026-09")
    for age in range(3):  # month 2: C's contract ended, A and B remain
        href, count = logo["links"][f"2026-09:m{age}"], logo["counts"][f"2026-09:m{age}"]
        assert count == round(september[2 + age] * september[1])  # the cell's share of the cohort's size
        listing = signed_in.get(href, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        shown = re.search(r'data-testid="result-count">(\d+) account', listing).group(1)
        assert int(shown) == count, (age, shown, count)
        assert f"2026-09 · Month {age}" in listing  # the filter names the cell
    assert "2026-09:m3" not in logo["links"]  # not observed yet: no cell, no link
    repurchase = figure_json(html, "cohorts.repurchase")
    listing = signed_in.get(repurchase["links"]["2026-08:m3"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r'data-testid="result-count">1 account', listing) and ">F<" in listing


def test_the_quality_tab_follows_the_filters_or_says_it_does_not(world, signed_in):  # noqa: F811
    import datetime as dt

    from clm.lifecycle.models import AccountWarning, BacktestResult

    # C (制造, the outsider's) churned on November 20; a churn warning on August 1: 111 days ahead
    # (a level-2 "watch closely" on July 1 is not a warning)
    AccountWarning.objects.create(account=world["C"], as_of=dt.date(2026, 7, 1), level=2)
    AccountWarning.objects.create(account=world["C"], as_of=dt.date(2026, 8, 1), level=3)
    BacktestResult.objects.create(start=dt.date(2026, 1, 5), end=dt.date(2026, 6, 29), step_days=7,
                                  min_lead_days=90, horizon_days=180, report=_backtest_report())
    for language, note in (("en", "the period and segment filters do not apply"), ("zh-hans", "期间和细分筛选不适用")):
        html = signed_in.get(reverse("web:report", args=["quality"]), NOV, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        churners = figure_json(html, "quality.churners")
        assert [r[:2] for r in churners["rows"]] == [["in_time", 1], ["late", 0], ["not_warned", 0]]
        assert note in html and 'data-testid="note-quality.recall"' in html
        assert 'data-testid="note-quality.churners"' not in html  # it follows the filters: no note
    listing = signed_in.get(churners["links"]["in_time"]).content.decode()
    assert ">C<" in listing and ">A<" not in listing
    # the period and the segment narrow it: nobody churned in October, nor in 零售 in November
    october = signed_in.get(reverse("web:report", args=["quality"]), {"period": "2026-10"}).content.decode()
    assert 'data-testid="nodata-quality.churners"' in october
    retail = signed_in.get(reverse("web:report", args=["quality"]), {**NOV, "industry": "零售"},
                           HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No account churned in 2026-11" in retail
    assert "shown without a segment" in retail  # the backtest's figures say why they are empty


def _backtest_report() -> dict:
    lead = {"churners": 4, "churners_flagged_before": 3, "churners_flagged_in_time": 2, "recall_in_time": 0.5,
            "flagged": 5, "flags_judged": 5, "flags_followed_by_churn": 3, "precision": 0.6,
            "lead_days": {"mean": 120.0, "p50": 110.0}, "min_lead_days": 90, "horizon_days": 180}
    return {"start": "2026-01-05", "end": "2026-06-29", "step_days": 7, "observed_until": "2026-12-07",
            "early_warning": lead, "by_signal": {}, "point_in_time": {"precision": None, "judged": 0,
                                                                     "followed_by_churn": 0}}


def test_the_backtest_sentence_divides_by_the_flags_it_could_judge():
    """The demo's quality tab read "34 of the 41 accounts flagged churned" beside a precision of 100%: seven
    flags were too recent to judge, and the precision (34 of 34) leaves them out. The sentence now says so."""
    from django.utils import translation

    from clm.web.report_views import summary

    run = {"start": "2026-01-05", "end": "2026-11-09", "step_days": 28, "observed_until": "2026-12-07",
           "min_lead_days": 90, "horizon_days": 180}
    figure = {"rows": [["any", 34, 25, 25 / 34, 41, 34, 1.0]], "backtest": run, "flags_judged": 34,
              "point_in_time": {"precision": 1.0, "judged": 120, "followed_by_churn": 120}}
    with translation.override("en"):
        lines = summary("quality.recall", figure)
    assert ("25 of 34 churners were flagged at least 90 days ahead; 34 of the 34 accounts flagged whose 180 days "
            "have passed churned within them (7 more were flagged too recently to tell).") in lines
    with translation.override("zh-hans"):
        assert any("另有 7 位预警时间太近" in line for line in summary("quality.recall", figure))
    figure["flags_judged"] = 41  # every flag judged: the shorter sentence
    with translation.override("en"):
        assert "34 of the 41 accounts flagged churned within 180 days" in " ".join(summary("quality.recall", figure))
