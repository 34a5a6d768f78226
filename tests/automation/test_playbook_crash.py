"""The crash test: the real worker process (clm worker, the Huey consumer) is killed with SIGKILL
in the middle of hundreds of journeys, started again, and every due step has run exactly once.

It runs in its own data directory (SQLite database and SQLite task queue), in subprocesses, so
the worker and the test see the same database. Loyalty-point entries stand for the side effects:
each step writes one, so a step run twice or lost shows in their count. (With the channels merged,
the same test belongs with emails counted at an SMTP server on 127.0.0.1.)"""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

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
    return subprocess.run(
        [sys.executable, "-m", "clm.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        **kwargs,
    )


def counts(database) -> tuple[int, int, int]:
    with sqlite3.connect(database, timeout=30) as db:
        done = db.execute("select count(*) from automation_steprun where status = 'done'").fetchone()[0]
        entries = db.execute("select count(*) from value_loyaltyentry").fetchone()[0]
        doubled = db.execute(
            "select count(*) from (select account_id, note from value_loyaltyentry group by 1, 2 having count(*) > 1)"
        ).fetchone()[0]
    return done, entries, doubled


def worker(env):
    return subprocess.Popen(
        [sys.executable, "-m", "clm.cli", "worker", "--workers", "2", "--quiet"],
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
