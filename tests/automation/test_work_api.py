"""/api/v1/tasks and /api/v1/cases: what each named user sees and may do, and how bad input is
answered (by field, never a 500, nothing written)."""

import datetime as dt

import pytest
from django.utils import timezone

from clm.automation import work
from clm.automation.models import Case, Task
from clm.core.models import AuditLog
from clm.customers.models import Account
from tests.api.conftest import ApiClient, assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def east(owner):
    """An account of team East only (no CSM from West), so team visibility hides it from outsiders."""
    return Account.objects.create(name="East Co", sales_owner=owner)


def test_a_rep_creates_lists_and_completes_a_task(owner, east):
    api = ApiClient(owner)
    due = (timezone.now() - dt.timedelta(hours=1)).replace(microsecond=0)
    created = api.post("/tasks", {"title": "Call the CFO", "account": east.pk, "due_at": due.isoformat(), "priority": "high"})
    assert created.status_code == 201, created.content
    body = created.json_body
    assert (body["assignee"], body["account_name"], body["overdue"], body["source"]) == (owner.pk, "East Co", True, "manual")
    listed = api.get("/tasks", mine="true", overdue="true")
    assert [t["id"] for t in listed.json_body["items"]] == [body["id"]]
    done = api.post(f"/tasks/{body['id']}/complete", {"outcome": "Budget approved"})
    assert (done.json_body["status"], done.json_body["outcome"]) == ("done", "Budget approved")
    assert api.get("/tasks", overdue="true").json_body["count"] == 0
    assert AuditLog.objects.filter(model="automation.task", via="api").count() == 2


def test_visibility_owner_teammate_outsider(owner, teammate, outsider, east, team_visibility):
    task = work.create_task(owner, title="x", account=east)
    assert ApiClient(teammate).get(f"/tasks/{task.pk}").status_code == 200
    assert_error(ApiClient(outsider).get(f"/tasks/{task.pk}"), 404, "not_found")
    assert ApiClient(outsider).get("/tasks").json_body["count"] == 0
    assert_error(ApiClient(outsider).post(f"/tasks/{task.pk}/complete", {}), 404)
    error = assert_error(ApiClient(outsider).post("/tasks", {"title": "x", "account": east.pk}), 422, "invalid_data")
    assert error["details"] == [{"loc": ["account"], "message": f"unknown account {east.pk}"}]


def test_a_viewer_reads_but_cannot_create_or_complete(owner, viewer, east):
    task = work.create_task(owner, title="x", account=east)
    api = ApiClient(viewer)
    assert api.get(f"/tasks/{task.pk}").status_code == 200
    english = {"Accept-Language": "en"}
    assert "may not create tasks" in assert_error(api.post("/tasks", {"title": "y", "account": east.pk}, headers=english), 403, "forbidden")["message"]
    assert_error(api.post(f"/tasks/{task.pk}/complete", {}), 403, "forbidden")
    assert Task.objects.count() == 1


def test_bad_task_input_is_named(owner, east):
    api = ApiClient(owner)
    error = assert_error(api.post("/tasks", {"title": "", "priority": "someday", "color": "red"}), 422, "invalid_request")
    locs = {tuple(d["loc"]) for d in error["details"]}
    assert {("body", "payload", "title"), ("body", "payload", "priority"), ("body", "payload", "color")} <= locs
    error = assert_error(api.post("/tasks", {"title": "x\x00"}), 422)
    assert error["details"][0]["loc"][-1] == "title"
    error = assert_error(api.post("/tasks", {"title": "x", "assignee": 999999}), 422, "invalid_data")
    assert error["details"] == [{"loc": ["assignee"], "message": "unknown user 999999"}]
    task = work.create_task(owner, title="x", account=east)
    error = assert_error(api.post(f"/tasks/{task.pk}/snooze", {"until": "2001-01-01T00:00"}), 422, "invalid_data")
    assert error["details"][0]["loc"] == ["until"]
    assert not Task.objects.exclude(pk=task.pk).exists()


def test_reassign_snooze_and_patch(owner, csm, east):
    api = ApiClient(owner)
    task = work.create_task(owner, title="x", account=east)
    assert api.post(f"/tasks/{task.pk}/reassign", {"assignee": csm.pk}).json_body["assignee"] == csm.pk
    until = (timezone.now() + dt.timedelta(days=2)).replace(microsecond=0)
    snoozed = api.post(f"/tasks/{task.pk}/snooze", {"until": until.isoformat()}).json_body
    assert dt.datetime.fromisoformat(snoozed["snoozed_until"]) == until
    patched = api.patch(f"/tasks/{task.pk}", {"title": "Renewal call", "due_at": None}).json_body
    assert (patched["title"], patched["due_at"]) == ("Renewal call", None)
    assert_error(api.patch(f"/tasks/{task.pk}", {"title": None}), 422)
    assert_error(api.patch(f"/tasks/{task.pk}", {"status": "done"}), 422, "invalid_request")


def test_a_task_without_account_is_private_to_its_people(owner, teammate, csm):
    task = ApiClient(owner).post("/tasks", {"title": "Prepare the QBR deck", "assignee": csm.pk}).json_body
    assert ApiClient(csm).get(f"/tasks/{task['id']}").status_code == 200
    assert_error(ApiClient(teammate).get(f"/tasks/{task['id']}"), 404)


def test_cases_open_list_close_with_tasks_and_history(owner, east):
    api = ApiClient(owner)
    case = api.post("/cases", {"account": east.pk, "type": "win_back", "reason": "Went quiet", "due_on": "2030-01-31"})
    assert case.status_code == 201, case.content
    case_id = case.json_body["id"]
    assert (case.json_body["owner"], case.json_body["status"]) == (owner.pk, "open")
    task = api.post("/tasks", {"title": "Call", "case": case_id}).json_body
    assert task["account"] == east.pk
    assert [t["id"] for t in api.get(f"/cases/{case_id}/tasks").json_body["items"]] == [task["id"]]
    assert api.get("/cases", open="true", type="win_back").json_body["items"][0]["open_tasks"] == 1
    error = assert_error(api.post(f"/cases/{case_id}/close", {"outcome": "closed_lost", "root_cause": "mood"}), 422)
    assert error["details"][0]["loc"] == ["root_cause"]
    closed = api.post(f"/cases/{case_id}/close", {"outcome": "closed_lost", "root_cause": "price", "note": "cheaper rival"})
    assert (closed.json_body["status"], closed.json_body["root_cause"], closed.json_body["open_tasks"]) == ("closed", "price", 0)
    history = api.get(f"/cases/{case_id}/history").json_body
    assert {(h["record"], h["action"]) for h in history["items"]} == {
        ("case", "create"), ("case", "update"), ("task", "create"), ("task", "update")}
    assert all(h["actor"] == owner.pk and h["via"] == "api" for h in history["items"])
    assert_error(api.patch(f"/cases/{case_id}", {"priority": "high"}), 422, "invalid_data")


def test_case_visibility_and_permissions(owner, outsider, viewer, east, team_visibility):
    case, _ = work.open_case(owner, account=east, type="risk", reason="r")
    assert_error(ApiClient(outsider).get(f"/cases/{case.pk}"), 404)
    assert_error(ApiClient(outsider).get(f"/cases/{case.pk}/history"), 404)
    assert ApiClient(outsider).get("/cases").json_body["count"] == 0
    assert_error(ApiClient(viewer).post("/cases", {"account": east.pk, "type": "risk", "reason": "r"}), 403)
    assert_error(ApiClient(owner).post("/cases", {"account": east.pk, "type": "drama", "reason": "r"}), 422, "invalid_request")
    assert_error(ApiClient(owner).patch(f"/cases/{case.pk}", {"status": "closed"}), 422, "invalid_data")
    assert Case.objects.count() == 1


def test_root_causes_are_listed_in_both_languages(owner):
    causes = ApiClient(owner).get("/cases/root-causes").json_body
    assert causes[0] == {"code": "product", "name_en": "Product", "name_zh": "产品", "active": True}
