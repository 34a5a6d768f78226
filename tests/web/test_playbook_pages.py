"""The playbook pages: the list with counts and uplift, a playbook drawn as a flow in words, the
enrollment path, and step editing through the service (a new version, or its refusal beside the
step with the form filled). Administrators and managers edit; a sales user only reads."""

import re

import pytest
from django.urls import reverse

from clm.automation.models import Enrollment, Playbook, StepRun
from clm.automation.playbooks import services
from tests.factories import make_user

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def winback(db):
    return services.enable_template("health-red-winback")


@pytest.fixture
def manager(db):
    return make_user("boss", "Manager")


def signed(client, user, language="zh-hans"):
    user.language = language
    user.save()
    client.force_login(user)
    return client


def steps_of(playbook):
    return Playbook.objects.get(pk=playbook.pk).current.definition["steps"]


def test_the_list_names_each_playbook_with_its_trigger_and_counts(client, owner, winback, account):
    version = winback.current
    Enrollment.objects.create(playbook=winback, version=version, account=account, dedupe_key="a", current_step="call")
    html = signed(client, owner, "en").get(reverse("web:playbooks")).content.decode()
    assert "Win back accounts in the red" in html
    assert "Every day, accounts where health score &lt; 60" in html
    row = re.search(r'data-testid="playbook-row">(.*?)</tr>', html, re.S).group(1)
    assert [int(n) for n in re.findall(r'class="num">(\d+)<', row)] == [1, 1, 0]
    # a sales user sees no template to turn on
    assert 'data-testid="templates"' not in html


def test_the_flow_reads_in_chinese_with_the_enrollments_at_each_step(client, owner, winback, account):
    Enrollment.objects.create(playbook=winback, version=winback.current, account=account, dedupe_key="a", current_step="call")
    html = signed(client, owner).get(reverse("web:playbook", args=[winback.pk])).content.decode()
    assert "健康度红色挽回" in html
    assert "每天检查：健康度 &lt; 60 的客户" in html
    assert "给客户成功经理新建挽回事项：健康度低于60" in html
    assert "给客户成功经理创建任务：挽回电话" in html and "3 天内到期" in html
    assert "1 个在此步骤" in html
    # no raw keys or English on the Chinese page, and no editing for a sales user
    text = re.sub(r"<[^>]+>", " ", html.split('id="main"')[1])
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    assert "Win back" not in text
    assert 'data-testid="add-step"' not in html and 'data-testid="step-edit"' not in html


def test_a_sales_user_may_not_change_a_playbook(client, owner, winback):
    signed(client, owner)
    for action in ("add", "edit", "up", "down", "remove"):
        response = client.post(reverse("web:playbook_step", args=[winback.pk, action]),
                               {"type": "wait", "f-days": "3", "index": "0", "after": "0"})
        assert response.status_code == 403
    client.post(reverse("web:playbook_active", args=[winback.pk]), {"active": "0"})
    assert Playbook.objects.get(pk=winback.pk).active
    assert winback.versions.count() == 1


def test_a_manager_adds_moves_edits_and_removes_a_step_each_a_new_version(client, manager, winback):
    signed(client, manager)
    url = lambda action: reverse("web:playbook_step", args=[winback.pk, action])  # noqa: E731
    response = client.post(url("add"), {"type": "wait", "after": "0", "f-days": "3"}, headers=HTMX)
    assert response.status_code == 200 and "等待 3 天" in response.content.decode()
    assert [s["type"] for s in steps_of(winback)] == ["open_case", "wait", "create_task"]
    assert steps_of(winback)[1] == {"id": "wait-3", "type": "wait", "days": 3}
    client.post(url("up"), {"index": "1"}, headers=HTMX)
    assert [s["type"] for s in steps_of(winback)] == ["wait", "open_case", "create_task"]
    client.post(url("edit"), {"index": "0", "f-hours": "5"}, headers=HTMX)
    assert steps_of(winback)[0] == {"id": "wait-3", "type": "wait", "hours": 5}
    client.post(url("remove"), {"index": "0"}, headers=HTMX)
    assert [s["type"] for s in steps_of(winback)] == ["open_case", "create_task"]
    assert winback.versions.count() == 5  # the definition of the last equals the first's, still a version


def test_a_wait_with_no_end_is_refused_beside_the_step_and_nothing_is_lost(client, manager, winback):
    signed(client, manager)
    url = reverse("web:playbook_step", args=[winback.pk, "edit"])
    response = client.post(url, {"index": "1", "f-title-zh": "新标题", "f-title-en": "New title",
                                 "f-assignee": "csm", "f-due_days": "abc"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "第 2 步 · 创建任务 · 到期（天）：应为不小于 0 的整数，收到 &#x27;abc&#x27;" in html
    assert 'value="新标题"' in html and 'value="abc"' in html
    response = client.post(reverse("web:playbook_step", args=[winback.pk, "add"]), {"type": "wait", "after": "1"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "等待需要一个结束" in html
    assert winback.versions.count() == 1


def test_the_english_page_explains_the_refusal_in_english(client, manager, winback):
    signed(client, manager, "en")
    response = client.post(reverse("web:playbook_step", args=[winback.pk, "add"]), {"type": "wait", "after": "1"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Step 3 · Wait · Days: a wait needs an end" in html, re.findall(r"role=\"alert\"[^>]*>([^<]*)", html)


def test_a_branch_is_drawn_as_two_arrows_to_its_targets(client, manager, winback):
    doc = services.document(winback)
    doc["definition"]["steps"].insert(1, {"id": "check", "type": "branch", "if": {"condition": {
        "metric": "health_band", "op": "==", "value": "red"}}, "then": "call", "else": "end"})
    services.save_document(doc)
    html = signed(client, manager).get(reverse("web:playbook", args=[winback.pk])).content.decode()
    assert "如果 健康状态 = 高风险" in html or "如果 健康等级 = 高风险" in html
    assert re.search(r"<strong>是</strong> → <a href=\"#step-call\">第 3 步</a>", html)
    assert re.search(r"<strong>否</strong> → <a href=\"#flow-end\">结束</a>", html)
    assert "来自第 2 步的“是”" in html


def test_an_enrollment_shows_its_path_with_results_and_errors(client, owner, winback, account):
    enrollment = Enrollment.objects.create(playbook=winback, version=winback.current, account=account,
                                           dedupe_key="a", status="failed", current_step="call")
    StepRun.objects.create(enrollment=enrollment, step_id="case", step_type="open_case", key="k1", status="done")
    StepRun.objects.create(enrollment=enrollment, step_id="call", step_type="create_task", key="k2",
                           status="failed", error="no CSM on the account")
    html = signed(client, owner).get(reverse("web:playbook_enrollment", args=[enrollment.pk])).content.decode()
    assert "第 1 步 · 新建事项" in html and "第 2 步 · 创建任务" in html
    assert "no CSM on the account" in html and "失败" in html


def test_an_enrollment_of_an_account_i_cannot_see_is_not_found(client, outsider, team_visibility, winback, account):
    enrollment = Enrollment.objects.create(playbook=winback, version=winback.current, account=account, dedupe_key="a")
    assert signed(client, outsider).get(reverse("web:playbook_enrollment", args=[enrollment.pk])).status_code == 404


def test_a_manager_turns_a_template_on_with_a_holdout_and_off_again(client, manager):
    signed(client, manager)
    response = client.post(reverse("web:playbook_enable"), {"template": "lead-no-touch-7d", "holdout": "10"})
    playbook = Playbook.objects.get(key="lead-no-touch-7d")
    assert response.url == reverse("web:playbook", args=[playbook.pk])
    assert playbook.active and playbook.holdout == pytest.approx(0.1)
    client.post(reverse("web:playbook_active", args=[playbook.pk]), {"active": "0"})
    assert not Playbook.objects.get(pk=playbook.pk).active


HOSTILE = ["\x00", "a\x00b", "²", "٣", "9" * 30, "-1", "", "x" * 3000, "' OR 1=1 --", "<script>x</script>",
           "{", "[]", '{"metric": "nope", "op": "<", "value": 1}']


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_input_in_every_field_gives_a_message_never_a_500(client, manager, winback, value):
    from clm.web.playbook_views import FORM

    signed(client, manager)
    for kind, fields in FORM.items():
        data = {"type": kind, "after": "0"}
        for setting, field_kind in fields:
            if field_kind == "i18n":
                data[f"f-{setting}-zh"] = data[f"f-{setting}-en"] = value
            else:
                data[f"f-{setting}"] = value
        response = client.post(reverse("web:playbook_step", args=[winback.pk, "add"]), data, headers=HTMX)
        assert response.status_code in (200, 422), (kind, response.status_code)
        if response.status_code == 422:
            assert 'data-testid="add-error"' in response.content.decode()
    for action in ("edit", "up", "down", "remove", "nonsense"):
        response = client.post(reverse("web:playbook_step", args=[winback.pk, action]),
                               {"index": value, "f-title-zh": value, "f-due_days": value}, headers=HTMX)
        assert response.status_code in (200, 422), (action, response.status_code)
    response = client.post(reverse("web:playbook_enable"), {"template": value, "holdout": value})
    assert response.status_code == 302
    assert client.get(reverse("web:playbook", args=[winback.pk]), {"type": value}, headers=HTMX).status_code == 200
