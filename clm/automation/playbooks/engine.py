"""The playbook engine: enrolls subjects, then carries out each step exactly once.

A step execution is a StepRun with a unique idempotency key (enrollment:step:iteration). It is
claimed by a conditional UPDATE (pending → running), so of two workers holding the same job only
one proceeds. Steps that only write to this database run inside the transaction that claims them
and marks them done: a crash rolls all of it back and the step stays pending. Steps that reach
the outside (email, webhooks, robots) run after the claim commits and hand their key to the
channel, which sends nothing for a key it has seen. The next step is written in the transaction
that finishes the current one and queued only after it commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from clm.analytics import conditions
from clm.automation.models import Enrollment, Playbook, PlaybookVersion, StepRun
from clm.automation.playbooks import rows
from clm.automation.playbooks import steps as step_types
from clm.automation.playbooks import subjects as subject_fields
from clm.automation.playbooks.triggers import Subject
from clm.core import bulk

log = logging.getLogger("clm.automation")

MAX_ATTEMPTS = 5
RETRY_BACKOFF = dt.timedelta(seconds=30)  # doubled at each attempt
STUCK_AFTER = dt.timedelta(minutes=10)
BATCH = 2000
QUEUE_CHUNK = 50
RELEASE_CHUNK = 5000


# -- enrolling ----------------------------------------------------------------------------------


def held_out(playbook_key: str, subject: str, share: float) -> bool:
    """Whether a subject falls in the playbook's holdout: a hash of playbook and subject, so every
    rerun, replay and dry run agrees on who is held out."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{playbook_key}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _subject_name(account_id, lead_id) -> str:
    return f"account:{account_id}" if account_id is not None else f"lead:{lead_id}"


def eligible(playbook: Playbook, subjects: list[Subject], now: dt.datetime) -> list[Subject]:
    """The subjects the re-entry policy lets in: not already active in the playbook, not enrolled
    before (once) or not within the last N days (once per N days), and not enrolled by this very
    trigger already (its dedupe key). One query over the playbook's enrollments that can still
    block anyone, whatever the number of subjects."""
    if not subjects:
        return []
    recent = now - dt.timedelta(days=2)  # dedupe keys name their day or event: older ones do not recur
    rows = Enrollment.objects.filter(playbook=playbook)
    if playbook.reentry == Playbook.Reentry.PERIODIC:
        recent = min(recent, now - dt.timedelta(days=playbook.reentry_days or 1))
    if playbook.reentry != Playbook.Reentry.ONCE:
        rows = rows.filter(Q(status=Enrollment.Status.ACTIVE, held_out=False) | Q(started_at__gte=recent))
    cutoff = now - dt.timedelta(days=playbook.reentry_days or 1)
    taken, keys = set(), set()
    for account, lead, status, out, started, key in rows.values_list(
        "account_id", "lead_id", "status", "held_out", "started_at", "dedupe_key"
    ).iterator(chunk_size=BATCH):
        keys.add(key)
        if (
            playbook.reentry == Playbook.Reentry.ONCE
            or (status == Enrollment.Status.ACTIVE and not out)
            or (playbook.reentry == Playbook.Reentry.PERIODIC and started >= cutoff)
        ):
            taken.add(_subject_name(account, lead))
    chosen, seen = [], set()
    for s in subjects:
        name = _subject_name(s.account_id, s.lead_id)
        if name in taken or name in seen or s.dedupe_key in keys:
            continue
        seen.add(name)
        chosen.append(s)
    return chosen


class Due(NamedTuple):
    """A step run as the queue and the daily run need it."""

    pk: int
    step_type: str
    due_at: dt.datetime


@dataclass
class Started:
    """What enrolling wrote: the new enrollments' ids (held-out ones too) and the first steps of
    the treated ones."""

    enrollment_ids: list[int]
    first_steps: list[Due]


def start(
    playbook: Playbook, subjects: list[Subject], *, version: PlaybookVersion, now: dt.datetime
) -> Started:
    """Enroll the eligible subjects and write the first step of each treated one, set-based (see
    clm.automation.playbooks.rows), in the caller's transaction; queues nothing. A subject another worker
    enrolled a moment ago by the same trigger (its dedupe key) is left out, not an error."""
    chosen = eligible(playbook, subjects, now)
    if not chosen:
        return Started([], [])
    out = [held_out(playbook.key, _subject_name(s.account_id, s.lead_id), playbook.holdout) for s in chosen]
    first = version.definition["steps"][0]
    ids = rows.insert_enrollments(playbook, version, chosen, out, first["id"], now)
    treated = [(pk, s) for pk, s, o in zip(ids, chosen, out, strict=True) if pk is not None and not o]
    due, waiting = step_timing(first, now)
    steps = rows.insert_first_steps(
        [pk for pk, _ in treated],
        first,
        due,
        waiting,
        accounts={pk: s.account_id for pk, s in treated},
        whys={pk: f"enrolled by {s.trigger.get('type', 'trigger')}" for pk, s in treated},
    )
    return Started([pk for pk in ids if pk is not None], steps)


def enroll_many(
    playbook: Playbook,
    subjects: list[Subject],
    *,
    version: PlaybookVersion | None = None,
    now: dt.datetime | None = None,
) -> list[Enrollment]:
    """Enroll the eligible subjects; held-out ones are recorded and end at once. Returns the new
    enrollments; their first steps are queued after the transaction commits."""
    now = now or timezone.now()
    version = version or playbook.current
    with transaction.atomic():
        started = start(playbook, subjects, version=version, now=now)
        transaction.on_commit(lambda: enqueue(started.first_steps))
    ids = started.enrollment_ids
    return [e for part in bulk.in_batches(ids) for e in Enrollment.objects.filter(pk__in=part).order_by("pk")]


def enroll(
    playbook: Playbook,
    *,
    account_id=None,
    lead_id=None,
    contact_id=None,
    dedupe_key: str,
    trigger: dict,
    now: dt.datetime | None = None,
) -> Enrollment | None:
    subject = Subject(account_id, dedupe_key, trigger, lead_id=lead_id, contact_id=contact_id)
    created = enroll_many(playbook, [subject], now=now)
    return created[0] if created else None


def step_timing(step: dict, start: dt.datetime) -> tuple[dt.datetime, dict | None]:
    """When a step written at ``start`` is due, and the event it waits for (without the account)."""
    if step["type"] != "wait":
        return start, None
    return step_types.wait_until(step, start), ({"event": step["event"]} if "event" in step else None)


def _step_run(
    enrollment: Enrollment, step: dict, start: dt.datetime, *, why: str, iteration: int = 0
) -> StepRun:
    due, waiting = step_timing(step, start)
    return StepRun(
        enrollment=enrollment,
        step_id=step["id"],
        step_type=step["type"],
        iteration=iteration,
        key=f"{enrollment.pk}:{step['id']}:{iteration}",
        due_at=due,
        waiting_for=waiting and {**waiting, "account_id": enrollment.account_id},
        why=why[:300],
    )


def enqueue(runs: Iterable[StepRun | Due]) -> None:
    """Put the steps on the task queue: due ones now, up to QUEUE_CHUNK a message; waits as one
    message per second they end at (up to RELEASE_CHUNK steps), which at that time puts its steps
    on the queue the same way. The daily run's tens of thousands of waits cost a few writes to the
    queue, and the workers still share their steps when they come due."""
    from clm.automation import tasks

    now = timezone.now()
    groups: dict[dt.datetime | None, list[int]] = {}
    for run in runs:
        due = run.due_at.replace(microsecond=0) + dt.timedelta(seconds=1) if run.due_at > now else None
        groups.setdefault(due, []).append(run.pk)
    for due, ids in groups.items():
        if due is None:
            queue_now(ids)
        else:
            for chunk in bulk.in_batches(ids, RELEASE_CHUNK):
                tasks.release_steps.schedule(args=(chunk,), eta=due)


def queue_now(step_run_ids: list[int]) -> None:
    from clm.automation import tasks

    for chunk in bulk.in_batches(step_run_ids, QUEUE_CHUNK):
        tasks.run_steps(chunk)


# -- running a step -----------------------------------------------------------------------------


def run_step(step_run_id: int, *, now: dt.datetime | None = None, follow: bool = False) -> str:
    """Carry out one StepRun if it is pending and due; returns what happened to it. The next step is
    queued once this one's transaction commits; ``follow`` runs it here instead while it is due and
    writes only to this database (the daily run opens its cases and tasks without a worker)."""
    now = now or timezone.now()
    outcome, nxt = _run(step_run_id, now)
    while follow and nxt:
        inline = [r for r in nxt if r.due_at <= now and step_types.REGISTRY[r.step_type].transactional]
        transaction.on_commit(lambda rest=[r for r in nxt if r not in inline]: enqueue(rest))
        nxt = []
        for run in inline:
            nxt += _run(run.pk, now)[1]
    transaction.on_commit(lambda: enqueue(nxt))
    return outcome


def _run(step_run_id: int, now: dt.datetime) -> tuple[str, list[StepRun]]:
    run = (
        StepRun.objects.select_related("enrollment__playbook", "enrollment__version")
        .filter(pk=step_run_id)
        .first()
    )
    if run is None or run.status != StepRun.Status.PENDING:
        return "taken", []
    if run.due_at > now:
        return "not due", []
    kind = step_types.REGISTRY[run.step_type]
    nxt: list[StepRun] = []
    try:
        if kind.transactional:
            with transaction.atomic():
                if not _claim(run, now):
                    return "taken", []
                return _carry_out(run, kind, now, nxt), nxt
        with transaction.atomic():
            if not _claim(run, now):
                return "taken", []
        enrollment = run.enrollment
        stop = _stop_reason(enrollment, now)
        result = None if stop else kind.run(enrollment, enrollment.version.step(run.step_id), run.key)
        with transaction.atomic():
            return _finish(run, result, now, nxt, stop), nxt
    except Exception as error:  # a transactional step's work rolled back with it: still pending
        return _failed(run, error, now), []


def _claim(run: StepRun, now: dt.datetime) -> bool:
    return bool(
        StepRun.objects.filter(pk=run.pk, status=StepRun.Status.PENDING, due_at__lte=now).update(
            status=StepRun.Status.RUNNING, started_at=now, attempts=F("attempts") + 1
        )
    )


def _carry_out(run: StepRun, kind, now, nxt) -> str:
    enrollment = run.enrollment
    stop = _stop_reason(enrollment, now)
    if stop:
        return _finish(run, None, now, nxt, stop)
    step = enrollment.version.step(run.step_id)
    if kind.name == "wait":
        result = {
            "waited_until": now.isoformat(),
            **({"event": run.result.get("event")} if run.result.get("event") else {}),
        }
        if run.waiting_for and not run.result.get("event"):
            result["timed_out"] = True
    elif kind.name == "branch":
        took = _branch(enrollment, step, now)
        result = {
            "took": "then" if took else "else",
            "to": step.get("then") if took else step.get("else", "end"),
        }
    else:
        result = kind.run(enrollment, step, run.key)
    return _finish(run, result, now, nxt, None)


def _stop_reason(enrollment: Enrollment, now) -> str:
    """Why the enrollment should not go on: it ended already, or its exit condition holds."""
    enrollment.refresh_from_db(fields=["status"])
    if enrollment.status != Enrollment.Status.ACTIVE:
        return f"enrollment {enrollment.status}"
    rule = enrollment.version.definition.get("exit")
    if rule and enrollment.account_id and _holds(rule, enrollment.account_id, now):
        return "exit condition: " + conditions.describe(rule)
    return ""


def _holds(rule, account_id: int, now) -> bool:
    frame = subject_fields.frame(timezone.localdate(now), [account_id], conditions.metrics_of(rule))
    return bool(conditions.compile_rule(rule).matches(frame).any())


def _branch(enrollment: Enrollment, step: dict, now) -> bool:
    test = step["if"]
    if "condition" in test:
        return enrollment.account_id is not None and _holds(test["condition"], enrollment.account_id, now)
    earlier = (
        StepRun.objects.filter(enrollment=enrollment, step_id=test["step"]).order_by("-iteration").first()
    )
    result = earlier.result if earlier else {}
    happened = test["happened"]
    if happened in ("email_opened", "email_clicked"):
        # Filled by the listener on email.opened / email.clicked (dispatch.record_engagement).
        return bool(result.get("engagement", {}).get(happened.split("_")[1]))
    if happened == "task_done":
        from clm.automation.models import Task

        return Task.objects.filter(pk=result.get("task_id"), status="done").exists()
    from clm.automation.models import Case

    return Case.objects.filter(pk=result.get("case_id"), outcome="closed_success").exists()


def _finish(run: StepRun, result, now, nxt: list[StepRun], stop: str | None) -> str:
    """Mark the step done (or skipped) and write the next one, in the caller's transaction."""
    enrollment = run.enrollment
    run.finished_at = timezone.now()
    if stop:
        run.status, run.result = StepRun.Status.SKIPPED, {"skipped": stop}
        run.save(update_fields=["status", "result", "finished_at"])
        if enrollment.status == Enrollment.Status.ACTIVE:
            _end(enrollment, Enrollment.Status.EXITED, stop)
        return "skipped"
    run.status, run.result, run.error = StepRun.Status.DONE, {**run.result, **(result or {})}, ""
    run.save(update_fields=["status", "result", "error", "finished_at"])
    steps = enrollment.version.definition["steps"]
    index = next(i for i, s in enumerate(steps) if s["id"] == run.step_id)
    if run.step_type == "branch":
        target = run.result["to"]
        following = None if target == "end" else next(s for s in steps if s["id"] == target)
        why = f"branch {run.step_id} took {run.result['took']}"
    else:
        following = steps[index + 1] if index + 1 < len(steps) else None
        why = f"after {run.step_id}"
    if following is None:
        _end(enrollment, Enrollment.Status.COMPLETED, "")
        return "done"
    new = _step_run(enrollment, following, now, why=why, iteration=run.iteration)
    new.save()
    enrollment.current_step = following["id"]
    enrollment.save(update_fields=["current_step"])
    nxt.append(new)
    return "done"


def _end(enrollment: Enrollment, status: str, reason: str) -> None:
    enrollment.status, enrollment.reason, enrollment.ended_at = status, reason[:300], timezone.now()
    enrollment.save(update_fields=["status", "reason", "ended_at"])


def _failed(run: StepRun, error: Exception, now) -> str:
    """Record the failure; retry with backoff unless the step cannot succeed or tried enough."""
    text = "".join(traceback.format_exception_only(error)).strip()[:2000]
    log.warning("playbook step %s failed: %s", run.key, text)
    final = isinstance(error, step_types.StepFailed)
    with transaction.atomic():
        row = StepRun.objects.select_for_update().get(pk=run.pk)
        attempts = row.attempts if row.status == StepRun.Status.RUNNING else row.attempts + 1
        if final or attempts >= MAX_ATTEMPTS:
            StepRun.objects.filter(pk=run.pk).update(
                status=StepRun.Status.FAILED, error=text, attempts=attempts, finished_at=timezone.now()
            )
            enrollment = Enrollment.objects.get(pk=run.enrollment_id)
            _end(enrollment, Enrollment.Status.FAILED, f"step {run.step_id}: {text}")
            return "failed"
        due = now + RETRY_BACKOFF * 2 ** (attempts - 1)
        StepRun.objects.filter(pk=run.pk).update(
            status=StepRun.Status.PENDING, error=text, attempts=attempts, due_at=due
        )
        row.due_at = due
    transaction.on_commit(lambda: enqueue([row]))
    return "retry"


# -- waits for events, and the sweep ------------------------------------------------------------


def resolve_waits(event_name: str, account_ids: Iterable[int], payload: dict) -> int:
    """Wake the steps waiting for ``event_name`` on these accounts: due now, with the event noted."""
    ids = list(
        StepRun.objects.filter(
            status=StepRun.Status.PENDING,
            step_type="wait",
            waiting_for__event=event_name,
            enrollment__account_id__in=list(account_ids),
        ).values_list("pk", flat=True)
    )
    if not ids:
        return 0
    now = timezone.now()
    woken = []
    with transaction.atomic():
        for run in StepRun.objects.filter(pk__in=ids, status=StepRun.Status.PENDING):
            run.result = {
                **run.result,
                "event": {"name": event_name, **{k: v for k, v in payload.items() if k != "events"}},
            }
            run.due_at = now
            run.save(update_fields=["result", "due_at"])
            woken.append(run)
    transaction.on_commit(lambda: enqueue(woken))
    return len(woken)


def sweep(
    now: dt.datetime | None = None,
    *,
    stuck_after: dt.timedelta = STUCK_AFTER,
    grace: dt.timedelta = dt.timedelta(minutes=2),
) -> dict:
    """Queue again the steps due for longer than ``grace`` (their message was lost: a worker
    killed, an immediate-mode schedule), and give back the steps a dead worker left running
    (claimed more than ``stuck_after`` ago), with the deliveries such a worker left 'sending': the
    step runs again and sends again, at least once (see clm.automation.channels.deliveries).
    Queuing a step twice is harmless: one claim wins."""
    from clm.automation.channels.deliveries import release_abandoned

    now = now or timezone.now()
    stuck = StepRun.objects.filter(status=StepRun.Status.RUNNING, started_at__lt=now - stuck_after).update(
        status=StepRun.Status.PENDING
    )
    release_abandoned(now - stuck_after)
    due = list(
        StepRun.objects.filter(status=StepRun.Status.PENDING, due_at__lte=now - grace).only("pk", "due_at")
    )
    enqueue(due)
    return {"requeued": len(due), "unstuck": stuck}


def run_due(now: dt.datetime | None = None) -> int:
    """Carry out every due step in this process, until none is left (tests, dry runs of time)."""
    now = now or timezone.now()
    count = 0
    while True:
        ids = list(
            StepRun.objects.filter(status=StepRun.Status.PENDING, due_at__lte=now).values_list(
                "pk", flat=True
            )[:BATCH]
        )
        progressed = [run_step(i, now=now) for i in ids]
        count += sum(1 for p in progressed if p in ("done", "skipped", "failed"))
        if not any(p in ("done", "skipped") for p in progressed):
            return count
