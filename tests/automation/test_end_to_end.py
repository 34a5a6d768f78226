"""The action layer end to end: the daily run, the playbook engine, work (cases, tasks) and the
channels (a real SMTP server and HTTP receiver on 127.0.0.1) run together, as merged."""

import json

import pytest
from django.core.management import call_command
from huey.contrib.djhuey import HUEY
from huey.storage import MemoryStorage

from clm.automation.models import Case, Enrollment, StepRun, Task
from clm.customers.models import Account
from clm.lifecycle import services as lifecycle
from tests.api.conftest import ApiClient
from tests.lifecycle.conftest import AS_OF, world  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_worker():
    """A task queue nobody consumes: what is put on it stays there, and is counted."""
    HUEY.immediate = False
    real = HUEY.storage
    HUEY.storage = MemoryStorage("clm-e2e")
    yield HUEY
    HUEY.storage = real


def test_the_daily_run_opens_the_win_back_case_and_its_call_without_a_worker(world, admin_user, no_worker):  # noqa: F811
    call_command("playbook", "enable", "health-red-winback", stdout=open("/dev/null", "w"))
    lifecycle.run(AS_OF, value=False)
    red = set(Account.objects.filter(health_band="red").values_list("pk", flat=True))
    assert world["acme"].pk in red and world["lead"].pk not in red  # the lead is not scored

    api = ApiClient(admin_user)
    cases = api.get("/cases", type="win_back").json_body["items"]
    assert sorted(c["account"] for c in cases) == sorted(red)
    for case in cases:
        assert (case["status"], case["rule"], case["open_tasks"]) == (
            "open",
            "playbook:health-red-winback",
            1,
        )
        (task,) = api.get("/tasks", case=str(case["id"])).json_body["items"]
        assert (task["account"], task["source"], task["priority"]) == (case["account"], "playbook", "high")
        assert task["title"].startswith("挽回电话")
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}
    assert set(StepRun.objects.values_list("step_id", "status")) == {("case", "done"), ("call", "done")}
    assert no_worker.pending_count() == 0  # nothing was left for a worker

    lifecycle.run(AS_OF, value=False)  # the next run (same day) finds the account still red
    assert (Case.objects.count(), Task.objects.count(), Enrollment.objects.count()) == (len(red),) * 3
