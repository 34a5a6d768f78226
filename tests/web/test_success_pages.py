"""The success pages: lists and the account panel with record visibility, the plan page's forms
(bad input comes back beside its field, nothing written), the value board's links (live, revoked,
expired, unknown) with nothing internal on the board, and managers' activation definitions."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from clm.customers.models import Contact
from clm.success import board, onboarding, plans
from clm.success.models import QBR, ActivationDefinition, PlanMilestone, ValueBoardLink
from tests.factories import make_user, new_subscription
from tests.success.conftest import make_definition

pytestmark = pytest.mark.django_db


def ago(days):
    return timezone.localdate() - dt.timedelta(days=days)


@pytest.fixture
def plan(huawei, csm):
    made = plans.create_plan(None, huawei, title="2026 客户成长计划", starts_on=ago(40), ends_on=ago(-325))
    plans.add_objective(None, made, goal="每天都在用", target=9, unit="人/天", metric="active_users")
    plans.add_milestone(None, made, title="质检模块上线", due_on=ago(5), owner_user=csm)
    return made


@pytest.fixture
def onboarded(huawei):
    make_definition("Standard", [("首次使用核心功能", "core_feature", "", 1, 7, True), ("启动会", "manual", "", 1, 7)])
    return onboarding.start_onboarding(None, huawei, started_on=ago(10))


def test_the_lists_show_what_the_user_may_see(login, owner, huawei, theirs, plan, onboarded, team_visibility):
    other = plans.create_plan(None, theirs, title="别人的计划", starts_on=ago(1))
    page = login(owner).get("/success/?tab=plans").content.decode()
    assert "2026 客户成长计划" in page and "别人的计划" not in page and "落后" in page
    page = login(owner).get("/success/").content.decode()
    assert "华为技术有限公司" in page and 'data-testid="activation-tiles"' in page
    assert login(owner).get(f"/plans/{other.pk}/").status_code == 404
    assert login(owner).get(f"/accounts/{theirs.pk}/success/").status_code == 404
    assert login(owner).get(f"/plans/{other.pk}/board/").status_code == 404


def test_the_account_panel_shows_the_checklist_and_the_plan(login, csm, huawei, plan, onboarded):
    onboarding.evaluate()
    page = login(csm).get(f"/accounts/{huawei.pk}/success/").content.decode()
    assert "首次使用核心功能" in page and "来自产品使用数据" in page  # the history has core-feature use
    assert "启动会" in page and "逾期：已创建事项" in page
    assert "2026 客户成长计划" in page and "1 个里程碑已逾期" in page
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", re.sub(r"<[^>]+>", " ", page))  # no raw keys


def test_a_milestone_due_before_the_plan_starts_comes_back_beside_its_field(login, csm, plan):
    response = login(csm).post(f"/plans/{plan.pk}/milestone/", {"title": "启动", "due_on": str(ago(41))})
    assert response.status_code == 422
    page = response.content.decode()
    assert "早于计划开始日期" in page and 'value="启动"' in page
    assert PlanMilestone.objects.filter(plan=plan).count() == 1


def test_a_contact_of_another_account_cannot_own_a_milestone(login, csm, plan, theirs):
    stranger = Contact.objects.create(account=theirs, name="李雷")
    response = login(csm).post(f"/plans/{plan.pk}/milestone/", {
        "title": "启动", "due_on": str(ago(1)), "owner_contact": stranger.pk})
    assert response.status_code == 422
    assert "李雷 是其他客户的联系人，不属于 华为技术有限公司。" in response.content.decode()
    assert PlanMilestone.objects.filter(plan=plan).count() == 1


def test_a_qbr_with_a_bad_next_step_line_writes_nothing(login, csm, plan):
    response = login(csm).post(f"/plans/{plan.pk}/qbr/", {
        "held_on": str(ago(1)), "agenda": "复盘", "next_steps": "安排试点 | 下周五"})
    assert response.status_code == 422
    assert "第 1 行：“下周五”不是日期" in response.content.decode()
    assert not QBR.objects.exists()
    ok = login(csm).post(f"/plans/{plan.pk}/qbr/", {"held_on": str(ago(1)), "agenda": "复盘",
                                                    "next_steps": "安排试点 | 2099-01-01\n发纪要"})
    assert ok.status_code == 302 and QBR.objects.get().next_steps.count() == 2


def test_the_value_board_shows_the_plan_and_nothing_internal(client, plan, huawei):
    link, token = board.create_link(None, plan, language="en", days=30)
    response = client.get(f"/board/{token}/")
    assert response.status_code == 200 and response["X-Robots-Tag"] == "noindex"
    page = response.content.decode()
    assert "华为技术有限公司 · value board" in page and "每天都在用" in page and "质检模块上线" in page
    for internal in ("48", "health", "Health", "risk", "red"):
        assert f">{internal}<" not in page and f" {internal} " not in page
    assert ValueBoardLink.objects.get(pk=link.pk).views == 1


def test_revoked_expired_and_unknown_links_get_a_clear_page(client, plan):
    revoked, token = board.create_link(None, plan, language="en")
    board.revoke_link(None, revoked)
    response = client.get(f"/board/{token}/")
    assert response.status_code == 410 and "The link was withdrawn" in response.content.decode()
    expired, token = board.create_link(None, plan, language="zh-hans", days=1)
    ValueBoardLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = client.get(f"/board/{token}/")
    assert response.status_code == 410 and "链接已过期" in response.content.decode()
    response = client.get("/board/" + "x" * 300 + "/")
    assert response.status_code == 404 and "无法识别此链接" in response.content.decode()


def test_a_manager_writes_an_activation_definition_and_a_bad_milestone_is_refused(login, team_a):
    manager = make_user("boss", "Manager", team_a)
    form = {"name": "Retail", "name_zh": "零售激活", "industry": "零售", "position": "1", "active": "on",
            "m-TOTAL_FORMS": "2", "m-INITIAL_FORMS": "0", "m-MIN_NUM_FORMS": "0", "m-MAX_NUM_FORMS": "1000",
            "m-0-position": "0", "m-0-name": "Integration", "m-0-name_zh": "系统对接", "m-0-kind": "integration",
            "m-0-target": "", "m-0-count": "1", "m-0-days_allowed": "30",
            "m-1-position": "0", "m-1-count": "1", "m-1-kind": ""}  # the empty row as the page posts it
    bad = login(manager).post("/success/definitions/", form)
    assert bad.status_code == 422 and "请写明该里程碑统计的事件" in bad.content.decode()
    assert not ActivationDefinition.objects.exists()
    form["m-0-target"] = "integration.connected"
    assert login(manager).post("/success/definitions/", form).status_code == 302
    definition = ActivationDefinition.objects.get()
    assert definition.label("zh-hans") == "零售激活" and definition.milestones.get().target == "integration.connected"


def test_a_csm_reads_the_definitions_but_cannot_change_them(login, csm):
    make_definition("Standard", [("启动会", "manual", "", 1, 7)])
    page = login(csm).get("/success/definitions/").content.decode()
    assert "启动会" in page and 'data-testid="definition-form"' not in page


def test_the_daily_run_gives_a_new_customer_its_checklist(huawei, csm):
    make_definition("Standard", [("启动会", "manual", "", 1, 7)])
    huawei.lifecycle_stage = "onboarding"
    huawei.save()
    new_subscription(huawei, ago(2), 500)
    assert onboarding.daily(timezone.localdate())["started"] == 1
