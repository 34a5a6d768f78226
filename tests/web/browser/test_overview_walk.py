"""The overview's parts in a real browser, read from the daily run's snapshots: the as-of line, the
health bands with their weekly chart, the red accounts by owner and the renewals due, each number
clicking through to the accounts behind it. In Chinese, then in English; screenshots in
tests/artifacts/."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import make_user
from tests.reports.conftest import build_world
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def company(transactional_db):
    from clm.commerce.models import Subscription
    from clm.core.models import Team
    from clm.core.roles import sync_role_groups
    from clm.reports import snapshots

    sync_role_groups()  # a live-server test's flush emptied the groups
    east, west = Team.objects.create(name="East"), Team.objects.create(name="West")
    make_user("boss", "Manager", first_name="经理", last_name="王")
    rep = make_user("owner", "Sales", east, first_name="芳", last_name="李")
    world = build_world(rep, make_user("outsider", "Sales", west, first_name="强", last_name="张"))
    today = timezone.localdate()
    for name, days, mrr in (("A", 20, 1200), ("B", 60, 400)):
        Subscription.objects.filter(account=world[name]).update(renewal_date=today + dt.timedelta(days=days), mrr=mrr)
    snapshots.take(today)
    return world, rep


def test_a_manager_reads_the_overview_from_the_snapshot_and_drills_down(page, live_server, company, artifacts):
    sign_in(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/dashboard/?period=2026-11")
    expect(page.get_by_test_id("as-of")).to_contain_text(f"数据截至 {timezone.localdate():%Y-%m-%d}")
    expect(page.get_by_test_id("band-red")).to_have_text("1")
    expect(page.locator("#health-chart canvas")).to_have_count(1)
    expect(page.get_by_test_id("red-by-owner")).to_contain_text("李芳")
    expect(page.get_by_test_id("renewal-90")).to_contain_text("¥1.9万")  # 1,200 × 12 + 400 × 12
    page.screenshot(path=str(artifacts / "overview-zh.png"), full_page=True)

    page.get_by_test_id("band-red").click()
    rows = page.locator("#account-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("D")
    expect(page.get_by_test_id("kpi-filter")).to_contain_text("高风险")

    page.goto(f"{live_server.url}/dashboard/?period=2026-11")
    page.get_by_test_id("renewal-90").get_by_role("link").click()
    expect(page.locator("#account-table tbody tr")).to_have_count(2)

    page.goto(f"{live_server.url}/dashboard/?period=2026-11")
    with page.expect_navigation():
        page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("as-of")).to_contain_text("computed")
    expect(page.get_by_role("heading", name="Renewals due")).to_be_visible()
    page.screenshot(path=str(artifacts / "overview-en.png"), full_page=True)
