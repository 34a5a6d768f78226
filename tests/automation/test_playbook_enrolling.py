"""Enrolling set-based (clm.automation.playbooks.rows): the rows written are the ones the engine
wrote one by one before, the dedupe key stays the database's to guard, and the daily run's waits
reach the queue as one message that fans out when they end."""

import datetime as dt

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from clm.automation import tasks
from clm.automation.models import Enrollment, StepRun
from clm.automation.playbooks import dispatch, engine
from clm.automation.playbooks.triggers import Subject
from clm.customers.models import Account
from clm.value.models import LoyaltyEntry
from tests.automation.conftest import playbook_doc

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_FOR_TICKET = {"id": "w", "type": "wait", "event": "ticket.opened", "timeout_days": 3}
POINTS = {"id": "points", "type": "loyalty_points", "points": 10}


def subject(account, key, **trigger):
    return Subject(account.pk, key, {"type": "manual", **trigger})


def test_each_enrollment_and_its_first_step_are_written_as_one_by_one(accounts, save):
    playbook = save(playbook_doc(steps=[WAIT_FOR_TICKET, POINTS], holdout=0.3, reentry={"policy": "always"}))
    # forty accounts: the holdout hashes their ids, which a transactional database hands out anew
    # each run; of ten, none was held out one run in 35 (0.7^10), of forty one in 1.6 million
    accounts = accounts + [Account.objects.create(name=f"更多客户{i}") for i in range(30)]
    now = timezone.now()
    with_ids = engine.enroll_many(playbook, [subject(a, f"k{a.pk}") for a in accounts], now=now)
    assert [e.account_id for e in with_ids] == [a.pk for a in accounts]
    held = [e for e in with_ids if e.held_out]
    treated = [e for e in with_ids if not e.held_out]
    assert held and treated  # about 30% of forty accounts, by the stable hash
    for e in held:
        assert (e.status, e.current_step, e.reason, e.ended_at) == ("completed", "", "held out: no step runs", now)
        assert not StepRun.objects.filter(enrollment=e).exists()
    for e in treated:
        assert (e.status, e.current_step, e.ended_at, e.trigger) == ("active", "w", None, {"type": "manual"})
        assert e.version_id == playbook.current.pk and e.started_at == now and e.dedupe_key == f"k{e.account_id}"
        run = StepRun.objects.get(enrollment=e)
        assert (run.key, run.step_type, run.status, run.iteration, run.attempts) == (f"{e.pk}:w:0", "wait", "pending", 0, 0)
        assert run.waiting_for == {"event": "ticket.opened", "account_id": e.account_id}
        assert run.due_at == now + dt.timedelta(days=3) and run.why == "enrolled by manual"
        assert run.result == {} and run.error == ""


def test_a_dedupe_key_another_worker_took_a_moment_ago_is_left_out_not_an_error(accounts, save):
    playbook = save(playbook_doc(steps=[POINTS], reentry={"policy": "always"}))
    now = timezone.now()
    # Enrolled by another worker under the same key, unseen by this one's eligibility check
    # (it reads only recent or active enrollments): the unique constraint decides.
    Enrollment.objects.create(
        playbook=playbook, version=playbook.current, account=accounts[0], dedupe_key="event:42",
        status="completed", started_at=now - dt.timedelta(days=30),
    )
    with_ids = engine.enroll_many(
        playbook, [subject(accounts[0], "event:42"), subject(accounts[1], "event:43")], now=now
    )
    assert [e.account_id for e in with_ids] == [accounts[1].pk]
    assert Enrollment.objects.filter(playbook=playbook, dedupe_key="event:42").count() == 1
    assert StepRun.objects.filter(enrollment__account=accounts[0]).count() == 0
    assert LoyaltyEntry.objects.filter(account=accounts[1]).count() == 1  # its step ran, after commit


def test_the_daily_runs_waits_go_on_the_queue_as_one_message_that_fans_out_when_they_end(accounts, save):
    save(
        playbook_doc(
            trigger={"type": "segment", "condition": {"metric": "employee_count", "op": ">=", "value": 0}},
            steps=[{"id": "w", "type": "wait", "days": 1}, POINTS],
        )
    )
    HUEY.storage.flush_schedule()
    now = timezone.now()
    summary = dispatch.daily(timezone.localdate(), now=now)
    assert summary == {"test-play": len(accounts)}
    [message] = HUEY.scheduled()
    waits = set(StepRun.objects.filter(step_id="w").values_list("pk", flat=True))
    assert message.name.endswith("release_steps") and set(message.args[0]) == waits
    assert message.eta >= (now + dt.timedelta(days=1)).astimezone(dt.UTC).replace(tzinfo=None)  # Huey: naive UTC
    StepRun.objects.update(due_at=now)  # the day has passed
    tasks.release_steps.call_local(message.args[0])
    assert StepRun.objects.filter(step_id="w", status="done").count() == len(accounts)
    assert LoyaltyEntry.objects.count() == len(accounts)
