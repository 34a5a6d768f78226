"""A rep's walk in a real browser: on the lead list, ticks SQL (the table swaps by htmx), saves the
view, clears the filters and reopens the view; on a lead's page reads the talk tracks that fit and
marks one used. In Chinese, then in English; screenshots in tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_user
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    from clm.core.models import Team
    from clm.core.roles import sync_role_groups
    from clm.sales.models import Lead, TalkTrack, TalkTrackUse

    sync_role_groups()  # a live-server test's flush emptied the groups
    rep = make_user("owner", "Sales", Team.objects.create(name="East"), first_name="芳", last_name="李")
    hot = Lead.objects.create(name="王磊", company="苏州精工制造有限公司", industry="制造业", status="sql", owner=rep)
    Lead.objects.create(name="赵敏", company="杭州小铺零售有限公司", industry="零售", status="mql", owner=rep)
    made = TalkTrack.objects.create(title="制造业：设备与订单数据打通", body="讲清设备数据和订单数据放在一起的好处。",
                                    stages=["mql", "sql"], industries=["制造业"])
    TalkTrack.objects.create(title="确认预算与时间表", body="确认预算归属、决策人和上线时间。", stages=["sql"])
    TalkTrack.objects.create(title="报价谈判", body="只在商机阶段。", stages=["proposal"])
    for i, status in enumerate(["converted", "converted", "disqualified"]):
        TalkTrackUse.objects.create(track=made, lead=Lead.objects.create(name=f"n{i}", company=f"c{i}", status=status))
    return rep, hot


def test_a_rep_saves_a_lead_view_and_uses_a_talk_track(page, live_server, world, artifacts):
    rep, hot = world
    sign_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/leads/")
    expect(page.get_by_test_id("lead-count")).to_have_text("2 条线索")
    page.get_by_test_id("status-sql").check()
    expect(page.get_by_test_id("lead-count")).to_have_text("1 条线索")
    page.get_by_test_id("save-view-name").fill("我的 SQL")
    page.get_by_test_id("save-view").click()
    expect(page.locator(".messages")).to_contain_text("我的 SQL")
    page.goto(f"{live_server.url}/leads/")
    expect(page.get_by_test_id("lead-count")).to_have_text("2 条线索")
    page.get_by_test_id("saved-views").get_by_role("link", name="我的 SQL").click()
    expect(page.get_by_test_id("lead-count")).to_have_text("1 条线索")
    page.screenshot(path=str(artifacts / "lead-views-zh.png"), full_page=True)

    page.get_by_role("link", name="苏州精工制造有限公司").click()
    tracks = page.get_by_test_id("talk-tracks")
    expect(tracks).to_contain_text("制造业：设备与订单数据打通")
    expect(tracks).to_contain_text("使用过它的 3 个已关闭商机和线索中赢单 2 个")
    expect(tracks).not_to_contain_text("报价谈判")
    expect(tracks.locator("article").first).to_contain_text("制造业：设备与订单数据打通")  # (2+1)/(3+2) = 0.6 > 0.5
    tracks.locator("article").first.get_by_role("button", name="我用过").click()
    expect(page.locator(".messages")).to_contain_text("已记录在此线索中使用了")
    expect(page.get_by_test_id("talk-tracks")).to_contain_text("已在此线索中使用")
    page.screenshot(path=str(artifacts / "lead-tracks-zh.png"), full_page=True)

    page.get_by_test_id("language").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the switch is saved before we move on
    page.goto(f"{live_server.url}/leads/{hot.pk}/")
    expect(page.get_by_test_id("talk-tracks")).to_contain_text("won 2 of 3 closed deals and leads that used it")
    expect(page.get_by_test_id("talk-tracks")).to_contain_text("Used on this lead")
    page.screenshot(path=str(artifacts / "lead-tracks-en.png"), full_page=True)
    page.goto(f"{live_server.url}/leads/")
    expect(page.get_by_test_id("saved-views")).to_contain_text("我的 SQL")
    page.screenshot(path=str(artifacts / "lead-views-en.png"), full_page=True)
