"""The lifecycle API: an account's health, signals, stage history and churn risk, the daily run,
and the configuration — with record visibility and bad input."""

import datetime as dt

import pytest
from django.utils import timezone

from clm.analytics.health import DEFAULT_MODEL_DATA
from clm.lifecycle import services
from clm.lifecycle.models import Run
from tests.api.conftest import ApiClient

from .conftest import AS_OF
from .test_metrics import ACME


@pytest.fixture
def ran(world):
    services.run(AS_OF)
    return world


def test_health_gives_the_current_score_with_its_components_and_the_history(ran, admin_user):
    acme = ran["acme"]
    body = ApiClient(admin_user).get(f"/accounts/{acme.pk}/health", days=3000).json_body
    assert body["current"]["as_of"] == AS_OF.isoformat()
    assert [c["key"] for c in body["current"]["components"]][:2] == [
        "usage_frequency",
        "core_feature_adoption",
    ]
    assert sum(c["contribution"] or 0 for c in body["current"]["components"]) == pytest.approx(
        body["current"]["score"], abs=0.5
    )
    assert len(body["history"]) == 1


def test_signals_stage_history_and_churn_risk(ran, admin_user):
    acme, api = ran["acme"], ApiClient(admin_user)
    signals = api.get(f"/accounts/{acme.pk}/signals").json_body
    drop = next(s for s in signals if s["kind"] == "login_drop")
    assert drop["values"]["logins_30d_vs_baseline"] == pytest.approx(ACME["logins_30d_vs_baseline"])
    assert drop["closed_on"] is None
    assert api.get(f"/accounts/{acme.pk}/signals", status="closed").json_body == []
    history = api.get(f"/accounts/{acme.pk}/stage-history").json_body
    assert history["transitions"][0]["from_stage"] is None and history["transitions"][0]["rule"]
    risk = api.get(f"/accounts/{acme.pk}/churn-risk").json_body
    assert risk["probability"] is None and "no churn model has been trained yet" in risk["note"]


def test_an_account_outside_my_visibility_is_not_found(ran, team_visibility, outsider):
    acme = ran["acme"]
    acme.sales_owner = None
    api = ApiClient(outsider)
    for path in ("health", "signals", "stage-history", "churn-risk"):
        response = api.get(f"/accounts/{acme.pk}/{path}")
        assert response.status_code == 404, path
        assert response.json_body["error"]["code"] == "not_found"


def test_an_unknown_account_is_not_found(db, admin_user):
    assert ApiClient(admin_user).get("/accounts/999999/health").status_code == 404
    assert ApiClient(admin_user).get("/accounts/99999999999999999999/health").status_code in (404, 422)


def test_an_administrator_starts_the_daily_run_and_reads_its_summary(
    world, admin_user, django_capture_on_commit_callbacks
):
    api = ApiClient(admin_user)
    with django_capture_on_commit_callbacks(execute=True):  # the job is queued once the request commits
        response = api.post("/lifecycle/runs", {"as_of": AS_OF.isoformat()})
    assert response.status_code == 202
    record = api.get(f"/lifecycle/runs/{response.json_body['id']}").json_body
    assert record["status"] == "done" and record["summary"]["scored"] == 1  # Shop has too little data


def test_a_sales_user_may_not_start_the_run(world, owner):
    response = ApiClient(owner).post("/lifecycle/runs", {"as_of": AS_OF.isoformat()})
    assert response.status_code == 403 and not Run.objects.exists()


def test_a_run_in_the_future_is_refused(world, admin_user):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = ApiClient(admin_user).post("/lifecycle/runs", {"as_of": tomorrow})
    assert response.status_code == 422
    assert f"as-of date {tomorrow} is in the future" in response.json_body["error"]["message"]
    assert not Run.objects.exists()


def test_health_models_are_edited_through_the_api_and_checked(db, admin_user, owner):
    api = ApiClient(admin_user)
    created = api.post("/lifecycle/health-models", {"name": "default", "definition": DEFAULT_MODEL_DATA})
    assert created.status_code == 201
    broken = {**DEFAULT_MODEL_DATA, "bands": {"green": 50, "yellow": 60}}
    response = api.request(
        "put",
        f"/lifecycle/health-models/{created.json_body['id']}",
        {"name": "default", "definition": broken},
    )
    assert response.status_code == 422
    assert (
        "bands: yellow (60) must be below green (50)" in response.json_body["error"]["details"][0]["message"]
    )
    assert (
        ApiClient(owner)
        .post("/lifecycle/health-models", {"name": "x", "definition": DEFAULT_MODEL_DATA})
        .status_code
        == 403
    )


def test_rules_show_the_default_until_stored_and_refuse_unknown_metrics(db, admin_user):
    api = ApiClient(admin_user)
    shown = api.get("/lifecycle/rules/signals").json_body
    assert shown["stored"] is False and shown["definition"]["confirm_days"] == 7
    definition = shown["definition"]
    definition["signals"][0]["when"] = {"metric": "logins_7d", "op": "<", "value": 1}
    response = api.request("put", "/lifecycle/rules/signals", {"definition": definition})
    assert response.status_code == 422
    assert (
        "signals[0].when.metric: unknown metric 'logins_7d'"
        in response.json_body["error"]["details"][0]["message"]
    )
    assert api.get("/lifecycle/rules/signals").json_body["stored"] is False
    assert api.get("/lifecycle/rules/nonsense").status_code == 422


def test_the_metrics_catalogue_lists_names_kinds_and_meanings(db, viewer):
    metrics = {m["name"]: m for m in ApiClient(viewer).get("/lifecycle/metrics").json_body}
    assert (
        metrics["seat_utilisation"]["kind"] == "number"
        and "seats" in metrics["seat_utilisation"]["description"]
    )


def test_a_run_asked_for_while_another_holds_the_lock_fails_with_the_reason_not_stays_running(
    world, admin_user, django_capture_on_commit_callbacks
):
    """The bug: the task failed before its body ran and the Run said "running" for ever."""
    from types import SimpleNamespace

    from huey.contrib.djhuey import HUEY

    from clm.lifecycle.tasks import daily_run

    record = services.request_run(admin_user, AS_OF)
    assert record.status == Run.Status.QUEUED
    lock = HUEY.lock_task("lifecycle-daily-run")
    with lock:  # the 05:30 run holds it
        daily_run.call_local(AS_OF.isoformat(), record.pk, task=SimpleNamespace(retries=0))
    record.refresh_from_db()
    assert record.status == Run.Status.FAILED and "another daily run held the lock" in record.error


def test_asking_for_a_run_sweeps_runs_that_never_finished(world, admin_user):
    lost = Run.objects.create(as_of=AS_OF, status=Run.Status.RUNNING)
    Run.objects.filter(pk=lost.pk).update(
        started_at=timezone.now() - services.STALE_AFTER - dt.timedelta(minutes=1)
    )
    fresh = Run.objects.create(as_of=AS_OF, status=Run.Status.RUNNING)
    services.request_run(admin_user, AS_OF)
    lost.refresh_from_db(), fresh.refresh_from_db()
    assert lost.status == Run.Status.FAILED and "no result after 6 hours" in lost.error
    assert fresh.status == Run.Status.RUNNING
