"""`clm playbook` and /api/v1/playbooks: the same documents, the same rules."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from clm.automation.models import Enrollment, Playbook, StepRun
from clm.automation.playbooks import dispatch
from tests.automation.conftest import playbook_doc


def run(*args) -> str:
    out = StringIO()
    call_command("playbook", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _fresh_cache():
    dispatch.cache.clear()


@pytest.mark.django_db
def test_templates_enable_list_export_and_load_from_the_command_line(tmp_path):
    keys = [t["key"] for t in json.loads(run("templates", "--json"))]
    assert "health-red-winback" in keys and len(keys) == 10
    playbook_id = int(run("enable", "health-red-winback", "--holdout", "0.1").strip())
    playbook = Playbook.objects.get(pk=playbook_id)
    assert playbook.active and playbook.holdout == 0.1 and playbook.trigger_type == "segment"
    (row,) = json.loads(run("list", "--json"))
    assert row["key"] == "health-red-winback" and row["version"] == 1 and row["enrollments"]["active"] == 0
    file = tmp_path / "play.json"
    run("export", str(playbook_id), str(file))
    doc = json.loads(file.read_text(encoding="utf-8"))
    doc["definition"]["steps"][1]["due_days"] = 5
    file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert run("load", str(file)).startswith(f"Updated health-red-winback (id {playbook_id}, version 2)")


@pytest.mark.django_db
def test_the_command_line_names_what_is_wrong(tmp_path):
    with pytest.raises(CommandError, match="no template is called 'nope'"):
        run("enable", "nope")
    with pytest.raises(CommandError, match="holdout: expected a share"):
        run("enable", "health-red-winback", "--holdout", "1.5")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(playbook_doc(steps=[{"id": "w", "type": "wait"}])), encoding="utf-8")
    with pytest.raises(CommandError, match=r"definition.steps\[0\] \(w\).days: a wait needs an end"):
        run("load", str(bad))
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="is not a JSON document"):
        run("load", str(bad))
    with pytest.raises(CommandError, match="No playbook 'ghost'"):
        run("uplift", "ghost")


@pytest.mark.django_db
def test_a_dry_run_lists_enrollments_by_date_and_their_actions_and_sends_nothing(accounts, save):
    from clm.lifecycle.models import StageTransition

    save(
        playbook_doc(
            trigger={"type": "stage_changed", "to": ["at_risk"]},
            steps=[
                {"id": "w", "type": "wait", "days": 2},
                {"id": "points", "type": "loyalty_points", "points": 5},
            ],
        )
    )
    day = timezone.localdate() - dt.timedelta(days=10)
    StageTransition.objects.create(account=accounts[0], date=day, from_stage="growth", to_stage="at_risk")
    StageTransition.objects.create(
        account=accounts[1], date=day + dt.timedelta(days=1), from_stage="growth", to_stage="mature"
    )
    StageTransition.objects.create(
        account=accounts[2], date=day - dt.timedelta(days=30), from_stage="growth", to_stage="at_risk"
    )
    report = json.loads(
        run(
            "dry-run",
            "test-play",
            "--from",
            day.isoformat(),
            "--to",
            timezone.localdate().isoformat(),
            "--json",
        )
    )
    assert report["total"] == 1 and report["by_date"] == {day.isoformat(): 1}
    (entry,) = report["enrollments"]
    assert entry["account_id"] == accounts[0].pk
    assert entry["actions"] == [
        {"step": "w", "type": "wait", "until": (day + dt.timedelta(days=2)).isoformat()},
        {"step": "points", "type": "loyalty_points", "on": (day + dt.timedelta(days=2)).isoformat()},
    ]
    assert not Enrollment.objects.exists() and not StepRun.objects.exists()


@pytest.mark.django_db
def test_uplift_on_the_command_line_says_when_it_cannot_tell_yet(save):
    save(playbook_doc(holdout=0.2))
    out = run("uplift", "test-play")
    assert "too small to tell: no treated accounts with a known outcome yet" in out
    assert json.loads(run("uplift", "test-play", "--json"))["too_small"] is True


# -- the API ------------------------------------------------------------------------------------


@pytest.fixture
def api(client):
    def call(user, method, path, body=None):
        client.force_login(user)
        kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body is not None else {}
        return getattr(client, method)("/api/v1" + path, **kwargs)

    return call


@pytest.mark.django_db
def test_administrators_create_change_and_read_playbooks_and_others_only_read(api, admin_user, viewer):
    response = api(admin_user, "post", "/playbooks", playbook_doc())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["key"] == "test-play"
        and body["version"] == 1
        and body["definition"]["steps"][0]["type"] == "loyalty_points"
    )
    pid = body["id"]
    assert api(viewer, "get", f"/playbooks/{pid}").json()["key"] == "test-play"
    denied = api(viewer, "put", f"/playbooks/{pid}", playbook_doc(holdout=0.5))
    assert denied.status_code == 403
    changed = api(
        admin_user,
        "put",
        f"/playbooks/{pid}",
        playbook_doc(steps=[{"id": "p", "type": "loyalty_points", "points": 3}]),
    )
    assert changed.json()["version"] == 2
    versions = api(viewer, "get", f"/playbooks/{pid}/versions").json()
    assert [v["number"] for v in versions] == [1, 2]
    assert api(admin_user, "post", "/playbooks", playbook_doc()).status_code == 409
    off = api(admin_user, "post", f"/playbooks/{pid}/active", {"active": False})
    assert off.json()["active"] is False


@pytest.mark.django_db
def test_a_bad_document_is_a_422_naming_the_step_and_the_reason(api, admin_user):
    doc = playbook_doc(
        steps=[{"id": "t", "type": "create_task", "title": "Call", "assignee": {"user": "ghost"}}]
    )
    admin_user.language = "zh-hans"  # a signed-in user's own language: the API answers in it
    admin_user.save(update_fields=["language"])
    response = api(admin_user, "post", "/playbooks", doc)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"loc": ["definition.steps[0] (t).assignee"], "message": "没有名为 'ghost' 的在职用户"}
    ]
    admin_user.language = "en"
    admin_user.save(update_fields=["language"])
    response = api(admin_user, "post", "/playbooks", doc)
    assert response.json()["error"]["details"] == [
        {"loc": ["definition.steps[0] (t).assignee"], "message": "no active user is called 'ghost'"}
    ]
    nul = api(admin_user, "post", "/playbooks", playbook_doc(key="x", description="a\u0000b"))
    assert nul.status_code == 422
    assert not Playbook.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_manual_enrollment_through_the_api_and_its_step_log(api, admin_user, viewer, accounts):
    pid = api(admin_user, "post", "/playbooks", playbook_doc()).json()["id"]
    assert api(viewer, "post", f"/playbooks/{pid}/enroll", {"accounts": [accounts[0].pk]}).status_code == 403
    missing = api(admin_user, "post", f"/playbooks/{pid}/enroll", {"accounts": [accounts[0].pk, 10**9]})
    assert missing.status_code == 422 and not Enrollment.objects.exists()
    response = api(
        admin_user,
        "post",
        f"/playbooks/{pid}/enroll",
        {"accounts": [accounts[0].pk, accounts[1].pk, accounts[0].pk]},
    )
    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("enrolled", "held_out", "skipped")} == {
        "enrolled": 2,
        "held_out": 0,
        "skipped": 0,
    }
    again = api(admin_user, "post", f"/playbooks/{pid}/enroll", {"accounts": [accounts[0].pk]}).json()
    assert again["skipped"] == 1
    page = api(viewer, "get", f"/playbooks/{pid}/enrollments?status=completed").json()
    assert page["count"] == 2
    steps = api(viewer, "get", f"/playbooks/enrollments/{page['items'][0]['id']}/steps").json()
    assert [(s["step_id"], s["status"], s["why"]) for s in steps] == [
        ("points", "done", "enrolled by manual")
    ]
    assert api(admin_user, "delete", f"/playbooks/{pid}").status_code == 422  # it has history


@pytest.mark.django_db
def test_restricted_users_see_only_the_enrollments_of_their_accounts(
    api, admin_user, outsider, accounts, save
):
    from clm.core.models import Workspace
    from clm.customers.models import Account

    Account.objects.filter(pk=accounts[0].pk).update(csm=None)  # owned by team East only
    playbook = save(playbook_doc())
    Enrollment.objects.create(
        playbook=playbook, version=playbook.current, account=accounts[0], dedupe_key="a"
    )

    Workspace.objects.create(record_visibility=Workspace.Visibility.TEAM)
    assert api(outsider, "get", f"/playbooks/{playbook.pk}/enrollments").json()["count"] == 0
    assert api(admin_user, "get", f"/playbooks/{playbook.pk}/enrollments").json()["count"] == 1
