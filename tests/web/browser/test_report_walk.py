"""A manager walks the dashboard pages beside the overview in a real browser: the tab bar from
the overview, every chart drawn (ECharts canvases) with its table, a click on a table number and
on a chart that both land on the accounts behind it — in Chinese, then in English. Screenshots go
to tests/artifacts/report-*.png."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from clm.lifecycle.models import BacktestResult

from .conftest import sign_in
from .test_dashboard_walk import build_company

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ("flows", "revenue", "cohorts", "value", "quality", "team")


@pytest.fixture
def company(transactional_db):
    """The overview walk's company (the small world, a manager, two reps in two teams) and a stored
    backtest for the early-warning page."""
    world, _rep = build_company()
    early = {"min_lead_days": 90, "horizon_days": 180, "churners": 12, "churners_flagged_before": 10,
             "churners_flagged_in_time": 8, "recall_in_time": 8 / 12, "flagged": 30, "flags_judged": 26,
             "flags_followed_by_churn": 11, "precision": 11 / 26,
             "lead_days": {"mean": 131, "p10": 41, "p25": 88, "p50": 126, "p75": 170, "p90": 214}}
    BacktestResult.objects.create(
        start=dt.date(2026, 1, 4), end=dt.date(2026, 6, 28), step_days=28, min_lead_days=90, horizon_days=180,
        report={"start": "2026-01-04", "end": "2026-06-28", "step_days": 28, "observed_until": "2026-12-07",
                "early_warning": early, "point_in_time": {"judged": 900, "followed_by_churn": 180, "precision": 0.2},
                "by_signal": {"login_drop": {**early, "churners_flagged_in_time": 5, "recall_in_time": 5 / 12},
                              "health_red": {**early, "churners_flagged_in_time": 6, "recall_in_time": 0.5,
                                             "precision": 0.3}},
                "model": {"roc_auc": 0.81, "brier": 0.08, "base_rate": 0.1, "calibration": [
                    {"bin": b, "count": 80, "low": 0, "high": 1, "mean_predicted": b / 11, "observed_rate": b / 12}
                    for b in range(1, 11)]}})
    return world


def drawn(page, key: str) -> None:
    expect(page.locator(f'[data-chart="{key}"] canvas').first).to_be_visible()


def test_a_manager_walks_the_dashboard_pages_and_drills_down(page, live_server, company, artifacts):
    sign_in(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/dashboard/?period=2026-11")
    page.get_by_test_id("tab-revenue").click()
    expect(page.get_by_role("heading", name="收入 · 2026-11")).to_be_visible()
    drawn(page, "revenue.waterfall")
    assert page.locator('[data-chart="revenue.waterfall"]').get_attribute("data-points") == "3"
    page.screenshot(path=str(artifacts / "report-revenue-zh.png"), full_page=True)

    # the table view's number: the accounts behind November's movements (A, B, C, D)
    table = page.get_by_test_id("table-revenue.waterfall")
    table.locator("summary").click()
    table.locator("tbody tr").last.get_by_role("link").click()
    expect(page.get_by_test_id("kpi-filter")).to_contain_text("MRR 月度变动")
    expect(page.locator("#account-table tbody tr")).to_have_count(4)

    for name in PAGES:
        page.goto(f"{live_server.url}/dashboard/{name}/?period=2026-11")
        for chart in page.locator("[data-chart]").all():
            expect(chart.locator("canvas").first).to_be_visible()
        page.screenshot(path=str(artifacts / f"report-{name}-zh.png"), full_page=True)

    # a click on the chart itself: the September cohort's cell of the logo heat map (A, B, C)
    page.goto(f"{live_server.url}/dashboard/cohorts/?period=2026-11")
    drawn(page, "cohorts.logo")
    box = page.locator('[data-chart="cohorts.logo"]').bounding_box()
    page.wait_for_timeout(300)
    clicked = page.evaluate("""() => {
        const chart = echarts.getInstanceByDom(document.querySelector('[data-chart="cohorts.logo"]'));
        const [x, y] = chart.convertToPixel({seriesIndex: 0}, [0, 0]);
        return [x, y];
    }""")
    with page.expect_navigation():
        page.mouse.click(box["x"] + clicked[0], box["y"] + clicked[1])
    expect(page.locator("#account-table tbody tr")).to_have_count(3)

    page.goto(f"{live_server.url}/dashboard/flows/?period=2026-11")
    with page.expect_navigation():
        page.get_by_test_id("language").select_option("en")
    expect(page.get_by_role("heading", name="Lifecycle flows · 2026-11")).to_be_visible()
    for name in PAGES:
        page.goto(f"{live_server.url}/dashboard/{name}/?period=2026-11")
        for chart in page.locator("[data-chart]").all():
            expect(chart.locator("canvas").first).to_be_visible()
        page.screenshot(path=str(artifacts / f"report-{name}-en.png"), full_page=True)
    expect(page.get_by_test_id("figure-team.people")).to_contain_text("Sales owners and CSMs")
