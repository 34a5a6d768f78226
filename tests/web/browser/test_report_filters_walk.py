"""A manager narrows the dashboard tabs to a value tier in a real browser: the cohorts tab with
the tier applied, a click on one heat-map cell that lands on exactly the accounts the cell counts,
and the early-warning tab where the period's churners follow the filters and the backtest's
figures say that they do not — in Chinese, then in English. Screenshots go to
tests/artifacts/report-filter-*.png."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from clm.lifecycle.models import AccountWarning
from clm.value.models import TierAssignment

from .conftest import sign_in
from .test_report_walk import company  # noqa: F401  (the overview walk's company and a stored backtest)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def click_cell(page, key: str, age: int, row: int) -> None:
    """Click the heat map's cell (months since the start, cohort row) where ECharts drew it."""
    chart = page.locator(f'[data-chart="{key}"]')
    expect(chart.locator("canvas").first).to_be_visible()
    page.wait_for_timeout(300)
    box = chart.bounding_box()
    x, y = page.evaluate("""([key, age, row]) => {
        const chart = echarts.getInstanceByDom(document.querySelector(`[data-chart="${key}"]`));
        return chart.convertToPixel({seriesIndex: 0}, [age, row]);
    }""", [key, age, row])
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_timeout(300)
    return box["x"] + x, box["y"] + y


def test_a_manager_filters_by_tier_and_clicks_a_cohort_cell(page, live_server, company, artifacts):  # noqa: F811
    world = company
    for name, tier in (("A", "key"), ("B", "key"), ("C", "key"), ("D", "standard")):
        TierAssignment.objects.create(account=world[name], as_of=dt.date(2026, 11, 30), tier=tier, tier_label=tier,
                                      tenure_years=0, total_revenue=0)
    AccountWarning.objects.create(account=world["C"], as_of=dt.date(2026, 8, 1), level=2)
    sign_in(page, live_server.url, "boss")
    for language, tier_name, month, tooltip, count, note, churners in (
        ("zh", "重点客户", "第 2 月", "该批次 3 个客户中有 2 个", "2 个客户", "期间和细分筛选不适用", "及时预警"),
        ("en", "Key", "Month 2", "2 of the cohort’s 3 accounts", "2 accounts", "the period and segment filters do not apply",
         "Warned in time"),
    ):
        page.goto(f"{live_server.url}/dashboard/cohorts/?period=2026-11")
        page.locator("#id_tier").select_option(label=tier_name)
        with page.expect_navigation():
            page.get_by_test_id("apply").click()
        assert "tier=key" in page.url
        x, y = click_cell(page, "cohorts.logo", 2, 0)  # the September cohort (A, B, C), two months on
        expect(page.get_by_text(tooltip)).to_be_visible()  # the tooltip says what the cell counts
        page.screenshot(path=str(artifacts / f"report-filter-cohorts-{language}.png"), full_page=True)
        with page.expect_navigation():
            page.mouse.click(x, y)
        expect(page.get_by_test_id("kpi-filter")).to_contain_text(f"2026-09 · {month}")
        expect(page.get_by_test_id("result-count")).to_contain_text(count)  # A and B: C's contract ended
        expect(page.locator("#account-table tbody tr")).to_have_count(2)
        expect(page.locator("#id_tier")).to_have_value("key")
        page.screenshot(path=str(artifacts / f"report-filter-cell-{language}.png"), full_page=True)

        # the period's churners follow the tier (C churned in November, warned 111 days ahead); the
        # backtest's figures are the whole company's: empty with a segment, and saying so without one
        page.goto(f"{live_server.url}/dashboard/quality/?period=2026-11&tier=key")
        expect(page.get_by_test_id("table-quality.churners")).to_contain_text(churners)
        expect(page.get_by_test_id("nodata-quality.recall")).to_be_visible()
        page.screenshot(path=str(artifacts / f"report-filter-quality-{language}.png"), full_page=True)
        page.goto(f"{live_server.url}/dashboard/quality/?period=2026-11")
        expect(page.get_by_test_id("note-quality.recall")).to_contain_text(note)
        page.screenshot(path=str(artifacts / f"report-quality-note-{language}.png"), full_page=True)
        if language == "zh":
            with page.expect_navigation():
                page.get_by_test_id("language").select_option("en")
            page.wait_for_selector("html[lang=en]")
