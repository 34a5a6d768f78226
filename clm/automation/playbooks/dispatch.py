"""The dispatcher: turns domain events and the daily run into enrollments and due steps.

Event triggers: a listener on the events some active playbook listens to matches the event
against the playbooks cached for its name and queues an enrollment job. Waits for an event: the
same listeners wake the steps waiting for it. Daily triggers (segments, dates, inactivity): when
the daily lifecycle run finishes, every active daily playbook is evaluated over all accounts at
once, and the steps that need no delay run inline, so the cases and tasks exist without a worker."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.db import transaction
from django.utils import timezone

from clm.analytics import conditions
from clm.automation.models import Enrollment, Playbook, StepRun
from clm.automation.playbooks import engine, subjects, triggers
from clm.automation.playbooks.triggers import Subject
from clm.core.events import CATALOGUE, Event, listen

log = logging.getLogger("clm.automation")

CACHE_SECONDS = 10.0  # how long another process's change to playbooks may go unseen here


class _Cache:
    """Active playbooks by the event they listen to, and the events some wait step waits for;
    reloaded after CACHE_SECONDS or when this process changes a playbook."""

    def __init__(self):
        self.loaded_at = -1e9
        self.by_event: dict[str, list[tuple[int, dict, dict | None]]] = {}
        self.waited: set[str] = set()

    def clear(self) -> None:
        self.loaded_at = -1e9

    def fresh(self) -> _Cache:
        if time.monotonic() - self.loaded_at > CACHE_SECONDS:
            self.by_event, self.waited = {}, set()
            active = Playbook.objects.filter(active=True).prefetch_related("versions")
            for playbook in active:
                versions = sorted(playbook.versions.all(), key=lambda v: v.number)
                if not versions:
                    continue
                definition = versions[-1].definition
                trigger = triggers.TRIGGERS[definition["trigger"]["type"]]
                if trigger.event:
                    self.by_event.setdefault(trigger.event, []).append(
                        (playbook.pk, definition["trigger"], definition.get("conditions"))
                    )
                for version in versions:  # a running enrollment may wait in an older version
                    self.waited |= {
                        s["event"]
                        for s in version.definition["steps"]
                        if s["type"] == "wait" and "event" in s
                    }
            self.loaded_at = time.monotonic()
        return self


cache = _Cache()


def _accounts_of(payload: dict) -> list[int]:
    if payload.get("account_id") is not None:
        return [payload["account_id"]]
    return list(payload.get("account_ids") or [])


def on_event(event: Event) -> None:
    current = cache.fresh()
    for playbook_id, trigger, _ in current.by_event.get(event.name, ()):
        payload = event.payload
        if event.name == "usage.events_ingested":
            wanted = trigger["event"]
            events = [e for e in payload.get("events", ()) if e[2] == wanted]
            if not events:
                continue
            payload = {**payload, "events": events}
        from clm.automation import tasks

        tasks.enroll_from_event(playbook_id, event.name, payload)
    if event.name in current.waited:
        engine.resolve_waits(event.name, _accounts_of(event.payload), event.payload)


listen(*sorted(n for n in CATALOGUE if n not in ("lifecycle.run_finished", "email.opened", "email.clicked")))(
    on_event
)


def enroll_from_event(playbook_id: int, event_name: str, payload: dict) -> list[Enrollment]:
    """The enrollment job: the subjects the event concerns, through the entry conditions."""
    playbook = Playbook.objects.filter(pk=playbook_id, active=True).first()
    if playbook is None:
        return []
    version = playbook.current
    definition = version.definition
    trigger = definition["trigger"]
    kind = triggers.TRIGGERS[trigger["type"]]
    if kind.event != event_name:
        return []
    found = kind.subjects(trigger, Event(event_name, payload))
    found = admitted(definition.get("conditions"), found, timezone.localdate())
    return engine.enroll_many(playbook, found, version=version)


def admitted(rule, found: list[Subject], as_of: dt.date) -> list[Subject]:
    """The subjects that meet the entry conditions (a lead without an account meets none that
    read account fields)."""
    if not rule or not found:
        return found
    ids = {s.account_id for s in found if s.account_id is not None}
    frame = subjects.frame(as_of, ids, conditions.metrics_of(rule))
    matched = conditions.compile_rule(rule).matches(frame)
    keep = set(matched.index[matched.to_numpy()])
    return [s for s in found if s.account_id in keep]


@listen("email.opened", "email.clicked")
def record_engagement(event: Event) -> None:
    """Note on the send step's run that its email was opened or clicked (for branches)."""
    what = event.name.split(".")[1]
    run = StepRun.objects.filter(key=event.payload.get("key")).first()
    if run is None:
        return
    engagement = {**run.result.get("engagement", {}), what: True}
    StepRun.objects.filter(pk=run.pk).update(result={**run.result, "engagement": engagement})
    if "email." + what in cache.fresh().waited:
        engine.resolve_waits(event.name, _accounts_of(event.payload), event.payload)


# -- the daily run ------------------------------------------------------------------------------


@listen("lifecycle.run_finished")
def on_daily_run(event: Event) -> None:
    daily(dt.date.fromisoformat(event.payload["as_of"]))


DAILY_RUN_TIME = dt.time(7, 0)  # local time a replayed past day's run is taken to enroll at


def run_moment(as_of: dt.date) -> dt.datetime | None:
    """When the daily run for ``as_of`` enrolls: now for today's run; for a run replayed as of a
    past date, that date's morning, so that enrollments, re-entry windows and the uplift report's
    outcome windows follow the dates the run replays (as `clm demo` replays the past year)."""
    if as_of >= timezone.localdate():
        return None
    return timezone.make_aware(dt.datetime.combine(as_of, DAILY_RUN_TIME))


def daily_playbooks() -> list[Playbook]:
    names = [name for name, t in triggers.TRIGGERS.items() if t.daily]
    return list(Playbook.objects.filter(active=True, trigger_type__in=names).prefetch_related("versions"))


def matches(playbook_definition: dict, frame, as_of: dt.date) -> list[Subject]:
    """The accounts a daily playbook's trigger and entry conditions select on ``as_of``."""
    trigger = playbook_definition["trigger"]
    hits = triggers.TRIGGERS[trigger["type"]].daily(trigger, frame, as_of)
    rule = playbook_definition.get("conditions")
    if rule and len(hits):
        matched = conditions.compile_rule(rule).matches(frame)
        hits = hits[matched.reindex(hits["account"].to_numpy(), fill_value=False).to_numpy()]
    return [
        Subject(int(a), key, {"type": trigger["type"], "seen": seen, "on": as_of.isoformat()})
        for a, key, seen in zip(hits["account"], hits["dedupe_key"], hits["seen"], strict=True)
    ]


def needed_fields(definitions: list[dict]) -> list[str]:
    needs: set[str] = set()
    for d in definitions:
        needs |= set(triggers.needs(d["trigger"]))
        if d.get("conditions"):
            needs |= set(conditions.metrics_of(d["conditions"]))
    return sorted(needs)


def daily(as_of: dt.date, *, now: dt.datetime | None = None) -> dict:
    """Enroll the accounts the daily playbooks select on ``as_of``, and run their first steps that
    need no delay inline. Returns {playbook key: enrolled}."""
    playbooks = daily_playbooks()
    if not playbooks:
        return {}
    now = now or run_moment(as_of) or timezone.now()
    definitions = {p.pk: max(p.versions.all(), key=lambda v: v.number) for p in playbooks}
    frame = subjects.frame(as_of, None, needed_fields([v.definition for v in definitions.values()]))
    summary, later = {}, []
    for playbook in playbooks:
        version = definitions[playbook.pk]
        try:
            found = matches(version.definition, frame, as_of)
            with transaction.atomic():
                started = engine.start(playbook, found, version=version, now=now)
        except Exception:  # one broken playbook must not stop the others
            log.exception("daily playbook %s failed", playbook.key)
            continue
        summary[playbook.key] = len(started.enrollment_ids)
        for run in started.first_steps:
            if run.due_at <= now and engine.step_types.REGISTRY[run.step_type].transactional:
                engine.run_step(run.pk, now=now, follow=True)
            else:
                later.append(run)
    engine.enqueue(later)  # one write to the queue for all the waits (a lost one: the sweep queues them)
    return summary
