"""The success programmes through /api/v1: plans, milestones, QBRs and links with the one error
format for bad input, onboardings started and completed by hand, and record visibility."""

import pytest

from clm.customers.models import Contact
from clm.success import onboarding
from clm.success.models import SuccessPlan, ValueBoardLink
from tests.api.conftest import assert_error
from tests.factories import make_account, new_subscription
from tests.success.conftest import days_ago, make_definition

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_body(account):
    return {"account": account.pk, "title": "2026 客户成长计划", "starts_on": str(days_ago(30)),
            "ends_on": str(days_ago(-335))}


def test_a_plan_is_built_and_read_through_the_api(api_as, admin_user, account, plan_body):
    client = api_as(admin_user)
    wang = Contact.objects.create(account=account, name="王芳", role="champion")
    made = client.post("/success-plans", plan_body)
    assert made.status_code == 201, made.content
    pk = made.json_body["id"]
    assert client.post(f"/success-plans/{pk}/objectives", {
        "goal": "漏检率降至 0.5%", "target": 0.5, "baseline": 3, "current": 1.5, "unit": "%"}).status_code == 201
    milestone = client.post(f"/success-plans/{pk}/milestones", {
        "title": "质检模块上线", "due_on": str(days_ago(5)), "owner_user": admin_user.pk, "owner_contact": wang.pk})
    assert milestone.status_code == 201, milestone.content
    qbr = client.post(f"/success-plans/{pk}/qbrs", {
        "held_on": str(days_ago(1)), "agenda": "复盘", "contacts": [wang.pk], "users": [admin_user.pk],
        "next_steps": [{"title": "发送纪要", "due_on": str(days_ago(-3))}]})
    assert qbr.status_code == 201 and len(qbr.json_body["next_steps"]) == 1
    body = client.get(f"/success-plans/{pk}").json_body
    assert body["status"] == "behind" and body["status_facts"]["overdue"] == 1
    assert body["objectives"][0]["progress"] == pytest.approx(0.6)  # (1.5 − 3) / (0.5 − 3)
    assert body["milestones"][0]["owner_contact"] == wang.pk
    done = client.post(f"/success-plans/{pk}/milestones/{milestone.json_body['id']}/complete", {})
    assert done.status_code == 200 and done.json_body["done_on"] == str(days_ago(0))
    assert client.get(f"/success-plans/{pk}").json_body["status"] == "on_track"
    assert client.get("/success-plans", status="on_track").json_body["count"] == 1


def test_bad_milestones_come_back_as_invalid_data_naming_the_field(api_as, admin_user, account, plan_body):
    client = api_as(admin_user, language="zh-hans")
    pk = client.post("/success-plans", plan_body).json_body["id"]
    early = client.post(f"/success-plans/{pk}/milestones", {"title": "启动", "due_on": str(days_ago(31))})
    assert_error(early, 422, "invalid_data")
    assert early.json_body["error"]["details"][0]["loc"] == ["due_on"]
    assert "早于计划开始日期（" in early.json_body["error"]["details"][0]["message"]
    stranger = Contact.objects.create(account=make_account("别家公司"), name="李雷")
    other = client.post(f"/success-plans/{pk}/milestones", {"title": "启动", "due_on": str(days_ago(1)),
                                                            "owner_contact": stranger.pk})
    assert_error(other, 422, "invalid_data")
    assert other.json_body["error"]["details"][0]["loc"] == ["owner_contact"]
    assert_error(client.post(f"/success-plans/{pk}/milestones", {"title": "", "due_on": "2026-13-01"}), 422)
    assert_error(client.post("/success-plans", plan_body), 422, "invalid_data")  # a second open plan
    assert SuccessPlan.objects.count() == 1


def test_links_are_shown_once_and_revoked(api_as, admin_user, account, plan_body):
    client = api_as(admin_user)
    pk = client.post("/success-plans", plan_body).json_body["id"]
    link = client.post(f"/success-plans/{pk}/links", {"language": "en", "days": 30})
    assert link.status_code == 201
    token = link.json_body["url"].rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 40 and not ValueBoardLink.objects.filter(token_hash=token).exists()
    assert "url" not in client.get(f"/success-plans/{pk}/links").json_body[0]
    assert_error(client.post(f"/success-plans/{pk}/links", {"language": "fr"}), 422)
    assert_error(client.post(f"/success-plans/{pk}/links", {"days": 999}), 422)
    revoked = client.post(f"/success-plans/{pk}/links/{link.json_body['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json_body["revoked_at"]
    assert_error(client.post(f"/success-plans/{pk}/links/{link.json_body['id']}/revoke"), 422)


def test_a_rep_sees_only_their_accounts_plans_and_onboardings(api_as, owner, outsider, team_visibility, admin_user):
    mine = make_account("我的客户", sales_owner=owner)
    theirs = make_account("别人的客户", sales_owner=outsider)
    for account in (mine, theirs):
        api_as(admin_user).post("/success-plans", {"account": account.pk, "title": "计划", "starts_on": str(days_ago(1))})
    client = api_as(owner)
    listed = client.get("/success-plans").json_body
    assert [p["account"] for p in listed["items"]] == [mine.pk]
    other = SuccessPlan.objects.get(account=theirs)
    assert_error(client.get(f"/success-plans/{other.pk}"), 404)
    assert_error(client.post(f"/success-plans/{other.pk}/links", {}), 404)
    assert_error(client.post("/success-plans", {"account": theirs.pk, "title": "x", "starts_on": "2026-01-01"}), 422)


def test_an_onboarding_is_started_and_a_milestone_confirmed_by_hand(api_as, admin_user, account):
    make_definition("Everyone", [("Kick-off", "manual", "", 1, 7)])
    new_subscription(account, days_ago(3), 1000)
    client = api_as(admin_user, language="zh-hans")
    made = client.post("/onboardings", {"account": account.pk})
    assert made.status_code == 201, made.content
    step = made.json_body["steps"][0]
    assert (step["milestone"], step["due_on"]) == ("Kick-off", str(days_ago(-4)))
    late = client.post(f"/onboardings/{made.json_body['id']}/steps/{step['id']}/complete", {"on": str(days_ago(5))})
    assert_error(late, 422, "invalid_data")
    assert "不能早于激活流程开始日期" in late.json_body["error"]["details"][0]["message"]
    done = client.post(f"/onboardings/{made.json_body['id']}/steps/{step['id']}/complete", {"note": "开过了"})
    assert done.json_body["status"] == "activated" and done.json_body["steps"][0]["completed_by"] == admin_user.pk
    assert_error(client.post("/onboardings", {"account": account.pk}), 422)
    assert client.get("/activation-definitions").json_body[0]["milestones"][0]["kind"] == "manual"
    assert onboarding.evaluate()["completed"] == 0
