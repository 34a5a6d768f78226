"""The action layer end to end: the daily run, the playbook engine, work (cases, tasks) and the
channels (a real SMTP server and HTTP receiver on 127.0.0.1) run together, as merged."""

import datetime as dt
import json
import re
from html import unescape

import pytest
from django.core.management import call_command
from huey.contrib.djhuey import HUEY
from huey.storage import MemoryStorage

from clm.automation.channels import email as email_channel
from clm.automation.models import Case, Delivery, Enrollment, Robot, StepRun, Task, WebhookEndpoint
from clm.automation.playbooks import engine, services
from clm.customers.models import Account
from clm.lifecycle import services as lifecycle
from tests.api.conftest import ApiClient
from tests.automation.conftest import playbook_doc
from tests.lifecycle.conftest import AS_OF, world  # noqa: F401 (a fixture)
from tests.receivers import Answer

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


@pytest.fixture
def outlets(receiver):
    """A webhook endpoint and a DingTalk robot, both posting to the receiver."""
    receiver.default = Answer(
        200, b'{"errcode":0,"errmsg":"ok"}'
    )  # what DingTalk answers; fine for a webhook
    endpoint = WebhookEndpoint.objects.create(name="crm", url=receiver.url("/hook"), secret="whsec")
    robot = Robot.objects.create(
        name="群", kind="dingtalk", url=receiver.url("/robot/send?access_token=t0k"), secret="SECabc"
    )
    return endpoint, robot


REPORT = {"report_url": "https://example.com/report.pdf"}

JOURNEY = [
    {
        "id": "task",
        "type": "create_task",
        "title": {"zh": "欢迎电话", "en": "Welcome call"},
        "assignee": "sales_owner",
    },
    {"id": "mail", "type": "send_email", "template": "welcome", "variables": REPORT},
    {"id": "hook", "type": "webhook", "endpoint": "crm", "event": "playbook.welcome"},
    {"id": "tell", "type": "robot", "robot": "群", "title": "欢迎 {account}", "text": "新客户 **{account}**"},
]


def test_a_manual_enrollment_reaches_each_channel_once(
    smtp, receiver, outlets, welcome, contact, save, admin_user
):
    # the steps name the endpoint and the robot (they have no key)
    playbook = save(playbook_doc("welcome", steps=JOURNEY))
    (enrollment,) = services.enroll_accounts(playbook, [contact.account_id], actor=admin_user)

    enrollment.refresh_from_db()
    assert enrollment.status == "completed", enrollment.reason
    runs = {r.step_id: r for r in StepRun.objects.filter(enrollment=enrollment)}
    assert {k: r.status for k, r in runs.items()} == dict.fromkeys(("task", "mail", "hook", "tell"), "done")
    assert Task.objects.get(pk=runs["task"].result["task_id"]).assignee == contact.account.sales_owner
    (message,) = smtp.messages
    assert message["To"] == contact.email and message["Message-ID"] == email_channel.message_id(
        runs["mail"].key
    )
    hook, tell = receiver.requests
    assert hook.path == "/hook" and json.loads(hook.body)["key"] == runs["hook"].key
    assert json.loads(hook.body)["data"]["account_id"] == contact.account_id
    assert tell.path.startswith("/robot/send?access_token=t0k&timestamp=")
    assert json.loads(tell.body)["markdown"]["title"] == f"欢迎 {contact.account.name}"
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}

    # the sweep and a worker's start-up look again: nothing is due, nothing sent twice
    assert engine.sweep(grace=dt.timedelta(0)) == {"requeued": 0, "unstuck": 0}
    for run in runs.values():
        assert engine.run_step(run.pk) == "taken"
    assert (len(smtp.messages), len(receiver.requests), Task.objects.count()) == (1, 2, 1)


def test_a_branch_on_email_opened_takes_then_once_the_pixel_is_fetched(
    smtp, welcome, contact, save, admin_user, client
):
    steps = [
        {"id": "mail", "type": "send_email", "template": "welcome", "variables": REPORT},
        {"id": "read", "type": "wait", "event": "email.opened", "timeout_days": 3},
        {
            "id": "opened",
            "type": "branch",
            "if": {"happened": "email_opened", "step": "mail"},
            "then": "call",
            "else": "end",
        },
        {"id": "call", "type": "create_task", "title": "They read it: call", "assignee": "sales_owner"},
    ]
    playbook = save(playbook_doc("opened", steps=steps))
    (enrollment,) = services.enroll_accounts(playbook, [contact.account_id], actor=admin_user)
    waiting = StepRun.objects.get(enrollment=enrollment, step_id="read")
    assert waiting.status == "pending" and not Task.objects.exists()

    (message,) = smtp.messages
    html = message.get_body(("html",)).get_content()
    pixel = re.search(r'<img src="https://clm\.example\.com([^"]+)"', html).group(1)
    assert client.get(unescape(pixel)).status_code == 200

    enrollment.refresh_from_db()
    assert enrollment.status == "completed", enrollment.reason
    branch = StepRun.objects.get(enrollment=enrollment, step_id="opened")
    assert branch.result == {"took": "then", "to": "call"}
    assert (
        StepRun.objects.get(enrollment=enrollment, step_id="read").result["event"]["name"] == "email.opened"
    )
    (task,) = Task.objects.all()
    assert (task.title, task.enrollment_id) == ("They read it: call", enrollment.pk)
