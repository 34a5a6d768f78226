"""The crash test: the real worker process (clm worker, the Huey consumer) is killed with SIGKILL
in the middle of hundreds of journeys, started again, and every due step has run exactly once.

It runs in its own data directory (SQLite database and SQLite task queue), in subprocesses, so
the worker and the test see the same database. Loyalty-point entries stand for the side effects:
each step writes one, so a step run twice or lost shows in their count. The second test sends
through the channels: emails counted at a real SMTP server and calls at a real HTTP receiver on
127.0.0.1, both in this process."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.receivers import HttpReceiver, SmtpServer

pytestmark = pytest.mark.slow

ACCOUNTS = 200
STEPS = 4

SETUP = f"""
from clm.automation.playbooks import services
from clm.customers.models import Account
accounts = Account.objects.bulk_create([Account(name=f"A{{i}}") for i in range({ACCOUNTS})])
doc = {{"key": "crash", "name": {{"zh": "崩溃", "en": "Crash"}}, "active": True,
       "definition": {{"trigger": {{"type": "manual"}},
                       "steps": [{{"id": f"s{{i}}", "type": "loyalty_points", "points": 1, "note": f"s{{i}}"}} for i in range({STEPS})]}}}}
playbook, _ = services.save_document(doc)
services.enroll_accounts(playbook, [a.pk for a in accounts])
"""


def clm(env, *args, **kwargs):
    done = subprocess.run(
        [sys.executable, "-m", "clm.cli", *args], env=env, capture_output=True, text=True, **kwargs
    )
    assert done.returncode == 0, done.stderr
    return done


def counts(database) -> tuple[int, int, int]:
    with sqlite3.connect(database, timeout=30) as db:
        done = db.execute("select count(*) from automation_steprun where status = 'done'").fetchone()[0]
        entries = db.execute("select count(*) from value_loyaltyentry").fetchone()[0]
        doubled = db.execute(
            "select count(*) from (select account_id, note from value_loyaltyentry group by 1, 2 having count(*) > 1)"
        ).fetchone()[0]
    return done, entries, doubled


def worker(env, *options):
    return subprocess.Popen(
        [sys.executable, "-m", "clm.cli", "worker", "--workers", "2", "--quiet", *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_worker_killed_mid_journey_loses_no_step_and_runs_none_twice(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CLM_TASKS_IMMEDIATE")
    }
    env["CLM_DATA_DIR"] = str(tmp_path)
    database = tmp_path / "clm.sqlite3"
    clm(env, "migrate", "-v", "0")
    clm(env, "shell", "-c", SETUP)
    total = ACCOUNTS * STEPS
    assert counts(database)[0] == 0  # nothing ran: the steps wait on the queue

    first = worker(env)
    deadline = time.monotonic() + 120
    while counts(database)[0] < total // 5:
        assert time.monotonic() < deadline and first.poll() is None, "the worker made no progress"
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at, _, _ = counts(database)
    assert killed_at < total, "the journeys ended before the kill: make them longer"

    second = worker(env)
    try:
        deadline = time.monotonic() + 300
        while counts(database)[0] < total:
            assert time.monotonic() < deadline, f"steps lost: {counts(database)[0]} of {total} done"
            assert second.poll() is None, second.stdout.read()
            time.sleep(0.2)
        time.sleep(1)  # anything still running twice would show now
        done, entries, doubled = counts(database)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
    assert (done, entries, doubled) == (total, total, 0)
    with sqlite3.connect(database) as db:
        statuses = dict(
            db.execute("select status, count(*) from automation_enrollment group by 1").fetchall()
        )
    assert statuses == {"completed": ACCOUNTS}


CHANNEL_SETUP = """
from clm.automation.models import EmailTemplate, EmailTemplateVariant, WebhookEndpoint
from clm.automation.playbooks import services
from clm.customers.models import Account, Contact
accounts = Account.objects.bulk_create([Account(name=f"A{i}") for i in range(%(n)d)])
Contact.objects.bulk_create([Contact(account=a, name=f"C{a.pk}", email=f"c{a.pk}@example.com", email_consent=True) for a in accounts])
template = EmailTemplate.objects.create(key="hello", name="Hello", kind="transactional")
EmailTemplateVariant.objects.create(template=template, language="zh-hans", subject="你好 {{ account.name }}", html="<p>你好</p>")
WebhookEndpoint.objects.create(name="crm", url="%(hook)s", secret="s3cret")
doc = {"key": "crash", "name": {"zh": "崩溃", "en": "Crash"}, "active": True,
       "definition": {"trigger": {"type": "manual"}, "steps": [
           {"id": "s0", "type": "loyalty_points", "points": 1, "note": "s0"},
           {"id": "mail", "type": "send_email", "template": "hello"},
           {"id": "hook", "type": "webhook", "endpoint": "crm", "event": "playbook.crash"},
           {"id": "s3", "type": "loyalty_points", "points": 1, "note": "s3"}]}}
playbook, _ = services.save_document(doc)
services.enroll_accounts(playbook, [a.pk for a in accounts])
"""


def test_a_worker_killed_mid_journey_sends_every_email_and_call_and_each_under_one_identity(tmp_path):
    """Delivery is at least once (clm.automation.channels.deliveries): a message the killed worker
    handed over but did not record is sent again, under the same Message-ID or webhook key. So
    every message arrives; a second copy is possible only for those in flight at the kill (at most
    one per worker thread), and it carries the identity of the first."""
    accounts = 100
    with SmtpServer() as smtp, HttpReceiver() as receiver:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "CLM_TASKS_IMMEDIATE", "EMAIL_URL", "SMTP_HOST")
        }
        env.update(
            CLM_DATA_DIR=str(tmp_path),
            EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
            CLM_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
            DEFAULT_FROM_EMAIL="CLM <clm@example.com>",
        )
        database = tmp_path / "clm.sqlite3"
        clm(env, "migrate", "-v", "0")
        clm(env, "shell", "-c", CHANNEL_SETUP % {"n": accounts, "hook": receiver.url("/hook")})
        total = accounts * 4

        first = worker(env)
        deadline = time.monotonic() + 120
        while len(smtp.messages) < accounts // 4:
            assert time.monotonic() < deadline and first.poll() is None, "the worker made no progress"
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert counts(database)[0] < total, "the journeys ended before the kill: make them longer"

        second = worker(env, "--stuck-after", "1")  # the first worker is dead: its claims are abandoned
        try:
            deadline = time.monotonic() + 300
            while counts(database)[0] < total:
                assert time.monotonic() < deadline, f"steps lost: {counts(database)[0]} of {total} done"
                assert second.poll() is None, second.stdout.read()
                time.sleep(0.2)
            time.sleep(1)  # anything sent twice would show now
        finally:
            second.send_signal(signal.SIGINT)
            second.wait(timeout=30)

        done, entries, doubled = counts(database)
        assert (done, entries, doubled) == (total, 2 * accounts, 0)
        mail_ids = [m["Message-ID"] for m in smtp.messages]
        hook_keys = [json.loads(r.body)["key"] for r in receiver.requests]
        assert len(set(mail_ids)) == accounts and len(set(hook_keys)) == accounts
        assert len(mail_ids) - accounts <= 2 and len(hook_keys) - accounts <= 2
        with sqlite3.connect(database) as db:
            statuses = dict(
                db.execute("select status, count(*) from automation_delivery group by 1").fetchall()
            )
            recipients = {
                r for (r,) in db.execute("select \"to\" from automation_delivery where channel = 'email'")
            }
        assert statuses == {"sent": 2 * accounts}
        assert {m["To"] for m in smtp.messages} == recipients
