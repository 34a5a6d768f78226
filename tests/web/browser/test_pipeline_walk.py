"""A sales rep opens the pipeline board, drags a deal from Qualify to Discovery, moves another
from the keyboard with its "Move to" list, is told that Negotiation needs a close date, writes a
quote for it and marks it sent, then reads the deal page, the board and the sales analytics in
English. Screenshots go to tests/artifacts/."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from clm.commerce.models import Product
from clm.core import services
from clm.sales.models import Opportunity, PipelineStage, TalkTrack
from clm.sales.pipelines import install_built_in
from tests.factories import make_account
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rep(transactional_db):
    from clm.core.roles import sync_role_groups
    from tests.conftest import make_user

    sync_role_groups()
    install_built_in()
    PipelineStage.objects.filter(pipeline__key="new-business", key="negotiation").update(
        required_fields=["expected_close"]
    )
    rep = make_user("rep", "Sales", first_name="芳", last_name="李")
    Product.objects.create(name="专业版（席位/月）", list_price=Decimal(260), is_recurring=True)
    TalkTrack.objects.create(title="ROI 测算", body="用客户的数据算回本周期", stages=["qualify"])
    account = make_account("华星精密", sales_owner=rep)
    for name, amount in (("试点项目", 1000), ("年度订阅", 5000)):
        services.create(Opportunity, {"account": account, "name": name, "amount": Decimal(amount), "owner": rep})
    return rep


def test_a_rep_drags_and_moves_deals_on_the_board(page, live_server, rep, artifacts):
    sign_in(page, live_server.url, "rep")
    page.get_by_role("link", name="销售管道").click()
    pilot = Opportunity.objects.get(name="试点项目")
    yearly = Opportunity.objects.get(name="年度订阅")
    expect(page.get_by_test_id("count-qualify")).to_contain_text("2")
    page.screenshot(path=str(artifacts / "pipeline-board-zh.png"), full_page=True)

    page.get_by_test_id(f"deal-{pilot.pk}").drag_to(page.locator('.column[data-stage="discovery"]'))
    expect(page.get_by_test_id("count-discovery")).to_contain_text("1")
    expect(page.locator(".messages")).to_contain_text("试点项目")
    pilot.refresh_from_db()
    assert pilot.stage == "discovery"

    card = page.get_by_test_id(f"deal-{yearly.pk}")
    card.get_by_label("移至").select_option("negotiation")
    card.get_by_role("button", name="移动").click()
    expect(page.locator(".messages")).to_contain_text("预计成交")
    yearly.refresh_from_db()
    assert yearly.stage == "qualify"
    page.screenshot(path=str(artifacts / "pipeline-refused-zh.png"), full_page=True)

    # a quote for the yearly deal: 20 seats at 10% off, saved and marked sent (no approval needed)
    page.get_by_test_id(f"quote-{yearly.pk}").click()
    page.get_by_label("产品 1").select_option(label="专业版（席位/月）")
    page.get_by_label("数量 1").fill("20")
    page.get_by_label("折扣（%） 1").fill("10")
    page.get_by_test_id("save-quote").click()
    expect(page.get_by_test_id("quote-totals")).to_contain_text("4,680")  # 20 × 260 × 0.9 per month
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("quote-status")).to_contain_text("已发送")
    page.screenshot(path=str(artifacts / "quote-sent-zh.png"), full_page=True)

    page.goto(f"{live_server.url}/deals/{yearly.pk}/")
    expect(page.get_by_test_id("talk-tracks")).to_be_visible()
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("talk-tracks")).to_contain_text("What to say")
    page.screenshot(path=str(artifacts / "deal-en.png"), full_page=True)
    page.goto(f"{live_server.url}/pipeline/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pipeline")
    expect(page.get_by_test_id("forecast")).to_contain_text("Weighted pipeline")
    page.screenshot(path=str(artifacts / "pipeline-board-en.png"), full_page=True)
    page.get_by_test_id("analytics").click()
    expect(page.get_by_test_id("process-table")).to_contain_text("All deals")
    page.screenshot(path=str(artifacts / "pipeline-analytics-en.png"), full_page=True)
