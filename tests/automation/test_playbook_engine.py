"""The engine: each step runs once, after the transaction that decided it; waits, branches, exits,
holdouts and re-entry; triggers from domain events and from the daily run."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.automation.models import Enrollment, StepRun
from clm.automation.playbooks import dispatch, engine, services
from clm.core import events
from clm.core import services as core_services
from clm.customers.models import Account, Contact
from clm.lifecycle import services as lifecycle
from clm.value.models import LoyaltyEntry
from tests.automation.conftest import playbook_doc

pytestmark = pytest.mark.django_db(transaction=True)

POINTS = {"id": "points", "type": "loyalty_points", "points": 10}


def points_of(account) -> int:
    return sum(LoyaltyEntry.objects.filter(account=account).values_list("points", flat=True))


def test_manual_enrollment_runs_each_step_once_and_logs_why_and_what(accounts, save, admin_user):
    playbook = save(playbook_doc(steps=[POINTS, {"id": "more", "type": "loyalty_points", "points": 5}]))
    created = services.enroll_accounts(playbook, [accounts[0].pk, accounts[1].pk], actor=admin_user)
    assert len(created) == 2
    assert points_of(accounts[0]) == 15 and points_of(accounts[1]) == 15
    runs = list(StepRun.objects.filter(enrollment=created[0]).order_by("id"))
    assert [(r.step_id, r.status, r.key) for r in runs] == [
        ("points", "done", f"{created[0].pk}:points:0"),
        ("more", "done", f"{created[0].pk}:more:0"),
    ]
    assert runs[0].why == "enrolled by manual" and runs[1].why == "after points"
    assert runs[0].result["points"] == 10 and runs[0].attempts == 1
    created[0].refresh_from_db()
    assert created[0].status == "completed" and created[0].ended_at is not None


def test_a_step_job_delivered_twice_runs_the_step_once(accounts, save, admin_user):
    playbook = save(playbook_doc(steps=[{"id": "w", "type": "wait", "days": 1}, POINTS]))
    (enrollment,) = services.enroll_accounts(playbook, [accounts[0].pk], actor=admin_user)
    later = timezone.now() + dt.timedelta(days=1, minutes=1)
    wait = StepRun.objects.get(enrollment=enrollment, step_id="w")
    assert engine.run_step(wait.pk) == "not due"
    assert engine.run_step(wait.pk, now=later) == "done"
    assert engine.run_step(wait.pk, now=later) == "taken"
    points = StepRun.objects.get(enrollment=enrollment, step_id="points")
    outcomes = [engine.run_step(points.pk, now=later) for _ in range(3)]
    assert outcomes == ["done", "taken", "taken"]
    assert points_of(accounts[0]) == 10


def test_a_failing_step_leaves_nothing_behind_retries_and_then_fails_the_enrollment(
    accounts, save, admin_user
):
    playbook = save(playbook_doc(steps=[{"id": "spend", "type": "loyalty_points", "points": -50}]))
    (enrollment,) = services.enroll_accounts(playbook, [accounts[0].pk], actor=admin_user)
    run = StepRun.objects.get(enrollment=enrollment)
    assert run.status == "pending" and run.attempts == 1 and "available" in run.error
    assert LoyaltyEntry.objects.count() == 0
    now = timezone.now()
    for _ in range(engine.MAX_ATTEMPTS):
        now += dt.timedelta(hours=1)
        engine.run_due(now)
    run.refresh_from_db()
    enrollment.refresh_from_db()
    assert run.status == "failed" and run.attempts == engine.MAX_ATTEMPTS
    assert enrollment.status == "failed" and enrollment.reason.startswith("step spend:")


def test_a_wait_holds_the_next_step_until_it_is_due(accounts, save, admin_user):
    playbook = save(
        playbook_doc(
            steps=[
                POINTS,
                {"id": "w", "type": "wait", "days": 3},
                {"id": "again", "type": "loyalty_points", "points": 1},
            ]
        )
    )
    (enrollment,) = services.enroll_accounts(playbook, [accounts[0].pk], actor=admin_user)
    assert points_of(accounts[0]) == 10
    wait = StepRun.objects.get(enrollment=enrollment, step_id="w")
    assert abs(wait.due_at - wait.enrollment.started_at - dt.timedelta(days=3)) < dt.timedelta(seconds=10)
    engine.run_due(timezone.now() + dt.timedelta(days=2))
    assert points_of(accounts[0]) == 10
    engine.run_due(timezone.now() + dt.timedelta(days=3, minutes=1))
    assert points_of(accounts[0]) == 11
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"


def test_a_wait_for_an_event_resumes_on_it_and_a_branch_reads_what_happened(accounts, save, admin_user):
    playbook = save(
        playbook_doc(
            steps=[
                POINTS,
                {"id": "w", "type": "wait", "event": "email.opened", "timeout_days": 7},
                {
                    "id": "b",
                    "type": "branch",
                    "if": {"happened": "email_opened", "step": "points"},
                    "then": "opened",
                    "else": "end",
                },
                {"id": "opened", "type": "loyalty_points", "points": 100},
            ]
        )
    )
    first, second = services.enroll_accounts(playbook, [accounts[0].pk, accounts[1].pk], actor=admin_user)
    sent = StepRun.objects.get(enrollment=first, step_id="points")
    events.emit("email.opened", delivery_id=1, key=sent.key, account_id=accounts[0].pk, contact_id=None)
    assert points_of(accounts[0]) == 110
    wait = StepRun.objects.get(enrollment=first, step_id="w")
    assert wait.result["event"]["name"] == "email.opened" and "timed_out" not in wait.result
    assert StepRun.objects.get(enrollment=first, step_id="b").result == {"took": "then", "to": "opened"}
    # the other one hears nothing: its wait times out and the branch takes "else"
    engine.run_due(timezone.now() + dt.timedelta(days=7, minutes=1))
    assert points_of(accounts[1]) == 10
    assert StepRun.objects.get(enrollment=second, step_id="w").result["timed_out"] is True
    second.refresh_from_db()
    assert second.status == "completed"


def test_a_branch_on_a_condition_takes_the_way_the_account_meets(accounts, save, admin_user):
    playbook = save(
        playbook_doc(
            steps=[
                {
                    "id": "b",
                    "type": "branch",
                    "if": {"condition": {"metric": "has_csm", "op": "==", "value": True}},
                    "then": "csm",
                    "else": "none",
                },
                {"id": "none", "type": "loyalty_points", "points": 1},
                {"id": "csm", "type": "loyalty_points", "points": 2},
            ]
        )
    )
    Account.objects.filter(pk=accounts[1].pk).update(csm=None)
    services.enroll_accounts(playbook, [accounts[0].pk, accounts[1].pk], actor=admin_user)
    assert points_of(accounts[0]) == 2  # then: straight to "csm"
    assert points_of(accounts[1]) == 3  # else: "none", then on to "csm"


def test_an_exit_condition_ends_the_enrollment_before_its_next_step(accounts, save, admin_user):
    playbook = save(
        playbook_doc(
            steps=[
                POINTS,
                {"id": "w", "type": "wait", "days": 1},
                {"id": "again", "type": "loyalty_points", "points": 1},
            ],
            exit={"metric": "lifecycle_stage", "op": "==", "value": "churned"},
        )
    )
    (enrollment,) = services.enroll_accounts(playbook, [accounts[0].pk], actor=admin_user)
    Account.objects.filter(pk=accounts[0].pk).update(lifecycle_stage="churned")
    engine.run_due(timezone.now() + dt.timedelta(days=1, minutes=1))
    enrollment.refresh_from_db()
    assert enrollment.status == "exited" and enrollment.reason == "exit condition: lifecycle_stage = churned"
    assert StepRun.objects.get(enrollment=enrollment, step_id="w").status == "skipped"
    assert points_of(accounts[0]) == 10


def test_the_holdout_is_a_stable_random_share():
    picks = [engine.held_out("health-red-winback", f"account:{i}", 0.3) for i in range(4000)]
    assert picks == [engine.held_out("health-red-winback", f"account:{i}", 0.3) for i in range(4000)]
    assert 0.28 < sum(picks) / len(picks) < 0.32
    other = [engine.held_out("onboarding-30d", f"account:{i}", 0.3) for i in range(4000)]
    assert picks != other
    assert not any(engine.held_out("x", f"account:{i}", 0.0) for i in range(100))


def test_held_out_accounts_are_enrolled_but_nothing_runs_for_them(accounts, save, admin_user):
    playbook = save(playbook_doc(holdout=0.5))
    created = services.enroll_accounts(playbook, [a.pk for a in accounts], actor=admin_user)
    held = [e for e in created if e.held_out]
    assert 0 < len(held) < len(accounts)
    for e in held:
        assert e.status == "completed" and not e.steps.exists() and points_of(e.account) == 0
    for e in created:
        if not e.held_out:
            assert points_of(e.account) == 10


def test_reentry_once_and_once_per_days(accounts, save, admin_user):
    once = save(playbook_doc("once"))
    services.enroll_accounts(once, [accounts[0].pk], actor=admin_user)
    assert services.enroll_accounts(once, [accounts[0].pk], actor=admin_user) == []
    periodic = save(playbook_doc("periodic", reentry={"policy": "once_per_days", "days": 30}))
    (first,) = services.enroll_accounts(periodic, [accounts[0].pk], actor=admin_user)
    assert services.enroll_accounts(periodic, [accounts[0].pk], actor=admin_user) == []
    Enrollment.objects.filter(pk=first.pk).update(started_at=timezone.now() - dt.timedelta(days=31))
    assert len(services.enroll_accounts(periodic, [accounts[0].pk], actor=admin_user)) == 1


def test_a_running_enrollment_keeps_its_version(accounts, save, admin_user):
    playbook = save(playbook_doc(steps=[{"id": "w", "type": "wait", "days": 1}, POINTS]))
    (old,) = services.enroll_accounts(playbook, [accounts[0].pk], actor=admin_user)
    save(
        playbook_doc(
            steps=[
                {"id": "w", "type": "wait", "days": 1},
                {"id": "points", "type": "loyalty_points", "points": 99},
            ]
        )
    )
    (new,) = services.enroll_accounts(playbook, [accounts[1].pk], actor=admin_user)
    engine.run_due(timezone.now() + dt.timedelta(days=1, minutes=1))
    assert (old.version.number, new.version.number) == (1, 2)
    assert points_of(accounts[0]) == 10 and points_of(accounts[1]) == 99


# -- triggers -----------------------------------------------------------------------------------


def test_a_survey_answer_in_range_enrolls_its_account(accounts, save):
    save(
        playbook_doc(
            trigger={"type": "survey_answered", "kind": "nps", "min": 0, "max": 6},
            reentry={"policy": "always"},
        )
    )
    core_services.create(
        __import__("clm.service.models", fromlist=["x"]).SurveyResponse,
        {"account": accounts[0], "kind": "nps", "score": 3, "responded_at": timezone.now()},
    )
    core_services.create(
        __import__("clm.service.models", fromlist=["x"]).SurveyResponse,
        {"account": accounts[1], "kind": "nps", "score": 9, "responded_at": timezone.now()},
    )
    assert points_of(accounts[0]) == 10 and points_of(accounts[1]) == 0
    enrollment = Enrollment.objects.get()
    assert enrollment.trigger["score"] == 3 and enrollment.dedupe_key.startswith("survey:")


def test_a_stage_change_heard_twice_enrolls_once_and_entry_conditions_filter(accounts, save):
    save(
        playbook_doc(
            trigger={"type": "stage_changed", "to": ["at_risk"]},
            conditions={"metric": "industry", "op": "==", "value": "制造业"},
            reentry={"policy": "always"},
        )
    )
    for account in accounts[:2]:
        for _ in range(2):  # a duplicated event
            events.emit(
                "account.stage_changed",
                account_id=account.pk,
                before="growth",
                after="at_risk",
                on="2025-01-02",
                rule="r",
            )
    events.emit(
        "account.stage_changed",
        account_id=accounts[3].pk,
        before="growth",
        after="mature",
        on="2025-01-02",
        rule="r",
    )
    manufacturing = [a for a in accounts[:2] if a.industry == "制造业"]
    assert Enrollment.objects.count() == len(manufacturing) == 1
    assert points_of(manufacturing[0]) == 10


def test_a_key_person_leaving_enrolls_the_account(accounts, save, admin_user):
    save(playbook_doc(trigger={"type": "contact_left", "key_person": True}, reentry={"policy": "always"}))
    champion = Contact.objects.create(account=accounts[0], name="冯雪", role="champion")
    user = Contact.objects.create(account=accounts[1], name="User", role="user")
    for contact in (champion, user):
        core_services.update(contact, {"status": "left"}, actor=admin_user)
    assert list(Enrollment.objects.values_list("account_id", flat=True)) == [accounts[0].pk]


def test_a_new_lead_is_enrolled_even_without_an_account(save, admin_user):
    from clm.sales.models import Lead

    save(playbook_doc(trigger={"type": "lead_created"}, steps=[{"id": "w", "type": "wait", "days": 7}]))
    lead = core_services.create(Lead, {"name": "王", "company": "新公司"}, actor=admin_user)
    enrollment = Enrollment.objects.get()
    assert enrollment.lead_id == lead.pk and enrollment.account_id is None


def test_a_usage_event_ingested_through_the_api_enrolls_on_its_name_and_properties(
    accounts, save, admin_user, client
):
    save(
        playbook_doc(
            trigger={"type": "usage_event", "event": "export", "properties": {"format": "pdf"}},
            reentry={"policy": "always"},
        )
    )
    client.force_login(admin_user)
    now = timezone.now().isoformat()
    batch = [
        {
            "account": accounts[0].pk,
            "event": "export",
            "timestamp": now,
            "properties": {"format": "pdf"},
            "idempotency_key": "e1",
        },
        {
            "account": accounts[1].pk,
            "event": "export",
            "timestamp": now,
            "properties": {"format": "csv"},
            "idempotency_key": "e2",
        },
        {"account": accounts[2].pk, "event": "login", "timestamp": now, "idempotency_key": "e3"},
    ]
    response = client.post("/api/v1/events", batch, content_type="application/json")
    assert response.status_code == 200 and response.json()["stored"] == 3, response.content
    assert list(Enrollment.objects.values_list("account_id", "dedupe_key")) == [
        (accounts[0].pk, f"usage:{accounts[0].pk}:e1")
    ]
    client.post(
        "/api/v1/events", batch, content_type="application/json"
    )  # sent again: duplicates, stored once
    assert Enrollment.objects.count() == 1


# -- the daily run ------------------------------------------------------------------------------


def test_the_daily_run_enrolls_every_account_in_a_segment_once_and_runs_its_steps_inline(accounts, save):
    save(
        playbook_doc(
            trigger={"type": "segment", "condition": {"metric": "employee_count", "op": ">=", "value": 55}},
            reentry={"policy": "once_per_days", "days": 90},
        )
    )
    lifecycle.run(timezone.localdate(), value=False)
    enrolled = set(Enrollment.objects.values_list("account_id", flat=True))
    assert enrolled == {a.pk for a in accounts if a.employee_count >= 55}
    assert all(points_of(a) == 10 for a in accounts if a.pk in enrolled)
    lifecycle.run(timezone.localdate(), value=False)  # run again the same day
    assert Enrollment.objects.count() == len(enrolled)


def test_the_daily_run_enrolls_renewals_coming_up_and_accounts_gone_quiet(accounts, save):
    from clm.commerce.models import Subscription
    from clm.customers.models import Interaction

    today = timezone.localdate()
    Subscription.objects.create(
        account=accounts[0],
        start_date=today - dt.timedelta(days=300),
        end_date=today + dt.timedelta(days=60),
        mrr=Decimal(100),
    )
    Subscription.objects.create(
        account=accounts[1],
        start_date=today - dt.timedelta(days=300),
        end_date=today + dt.timedelta(days=200),
        mrr=Decimal(100),
    )
    save(playbook_doc("renewals", trigger={"type": "date_relative", "date": "renewal", "days_before": 90}))
    Account.objects.filter(pk__in=[a.pk for a in accounts]).update(
        created_at=timezone.now() - dt.timedelta(days=30)
    )
    Interaction.objects.create(
        account=accounts[2],
        type="call",
        direction="outbound",
        summary="hi",
        occurred_at=timezone.now() - dt.timedelta(days=2),
    )
    save(playbook_doc("quiet", trigger={"type": "inactivity", "of": "interaction", "days": 7}))
    summary = dispatch.daily(today)
    assert summary["renewals"] == 1
    renewal = Enrollment.objects.get(playbook__key="renewals")
    assert renewal.account_id == accounts[0].pk
    assert renewal.dedupe_key == f"date:renewal:{accounts[0].pk}:{today + dt.timedelta(days=60)}"
    quiet = set(Enrollment.objects.filter(playbook__key="quiet").values_list("account_id", flat=True))
    assert quiet == {a.pk for a in accounts} - {accounts[2].pk}


def test_the_start_up_sweep_queues_due_steps_and_gives_back_abandoned_ones(accounts, save, admin_user):
    from huey.contrib.djhuey import HUEY

    playbook = save(playbook_doc(steps=[{"id": "w", "type": "wait", "minutes": 1}, POINTS]))
    (enrollment,) = services.enroll_accounts(playbook, [accounts[0].pk], actor=admin_user)
    wait = StepRun.objects.get(enrollment=enrollment)
    # a worker claimed it and died
    StepRun.objects.filter(pk=wait.pk).update(
        status="running",
        started_at=timezone.now() - dt.timedelta(hours=1),
        due_at=timezone.now() - dt.timedelta(hours=1),
    )
    HUEY.immediate = True
    result = engine.sweep(grace=dt.timedelta(0))
    assert result == {"requeued": 1, "unstuck": 1}
    assert points_of(accounts[0]) == 10
