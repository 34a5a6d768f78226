"""Dry run and backtest: had this playbook been on from A to B, whom would it have enrolled, when,
and what would it have done. Computed from history as of each day; writes and sends nothing.

Daily triggers are evaluated on each day's metrics (the lifecycle assessment as of that day).
Event triggers are replayed from the records that carry their dates: stage transitions, signals,
survey answers, leads, departures of contacts and raw usage events. The account's owners, value
tier and custom fields are today's (they keep no history)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.utils import timezone

from clm.analytics import conditions
from clm.automation.models import Playbook
from clm.automation.playbooks import engine, subjects, triggers
from clm.automation.playbooks.dispatch import matches
from clm.automation.playbooks.steps import wait_until
from clm.core.events import Event
from clm.lifecycle import services as lifecycle
from clm.lifecycle.metrics import day_end

MAX_DAYS = 366


class DryRunError(ValueError):
    pass


def _frame(day: dt.date, needs: list[str]) -> pd.DataFrame:
    own = subjects.account_fields(day)
    if not set(needs) - set(subjects.ACCOUNT_FIELDS):
        return own
    assessed = lifecycle.assess(day, with_risk=False)
    metrics = assessed.metrics
    if assessed.stages is not None:
        own["lifecycle_stage"] = assessed.stages["stage"].reindex(own.index).fillna(own["lifecycle_stage"])
    return pd.concat(
        [metrics.reindex(own.index), own.drop(columns=[c for c in own.columns if c in metrics.columns])],
        axis=1,
    )


def _replayed_events(kind: str, start: dt.date, end: dt.date) -> list[Event]:
    """The domain events of ``kind``'s trigger that happened between start and end, rebuilt."""
    from clm.customers.models import Contact
    from clm.lifecycle.models import Signal, StageTransition
    from clm.sales.models import Lead
    from clm.service.models import SurveyResponse
    from clm.usage.models import UsageEvent

    begin, finish = day_end(start - dt.timedelta(days=1)), day_end(end)
    if kind == "stage_changed":
        rows = StageTransition.objects.filter(date__range=(start, end)).values_list(
            "account_id", "from_stage", "to_stage", "date"
        )
        return [
            Event(
                "account.stage_changed",
                {"account_id": a, "before": f or None, "after": t, "on": d.isoformat()},
            )
            for a, f, t, d in rows
        ]
    if kind == "signal_opened":
        rows = Signal.objects.filter(opened_on__range=(start, end)).values_list(
            "account_id", "pk", "kind", "opened_on"
        )
        return [
            Event("signal.opened", {"account_id": a, "signal_id": s, "kind": k, "on": d.isoformat()})
            for a, s, k, d in rows
        ]
    if kind == "survey_answered":
        rows = SurveyResponse.objects.filter(responded_at__gte=begin, responded_at__lt=finish).values_list(
            "pk", "account_id", "contact_id", "kind", "score", "responded_at"
        )
        return [
            Event(
                "survey.answered",
                {"response_id": r, "account_id": a, "contact_id": c, "kind": k, "score": s},
                at=t,
            )
            for r, a, c, k, s, t in rows
        ]
    if kind == "lead_created":
        rows = Lead.objects.filter(created_at__gte=begin, created_at__lt=finish).values_list(
            "pk", "created_at"
        )
        return [Event("lead.created", {"lead_id": pk}, at=t) for pk, t in rows]
    if kind == "contact_left":
        rows = Contact.objects.filter(left_on__range=(start, end)).values_list("pk", "account_id", "left_on")
        return [
            Event("contact.left", {"contact_id": c, "account_id": a, "on": d.isoformat()}) for c, a, d in rows
        ]
    if kind == "usage_event":
        rows = UsageEvent.objects.filter(occurred_at__gte=begin, occurred_at__lt=finish).values_list(
            "account_id", "contact_id", "event", "properties", "idempotency_key", "occurred_at"
        )
        return [
            Event("usage.events_ingested", {"events": [[a, c, n, p, k]]}, at=t) for a, c, n, p, k, t in rows
        ]
    raise DryRunError(
        f"a {kind} trigger cannot be replayed from history (only daily triggers and "
        "stage_changed, signal_opened, survey_answered, lead_created, contact_left, usage_event)"
    )


def _event_day(event: Event) -> dt.date:
    on = event.payload.get("on")
    return dt.date.fromisoformat(on) if on else timezone.localdate(event.at)


def actions(definition: dict, start: dt.date) -> list[dict]:
    """The steps an enrollment starting on ``start`` would carry out, in order, with the day each
    falls due; a branch lists both ways and the path stops there (what happens is unknown)."""
    out, day = [], timezone.make_aware(dt.datetime.combine(start, dt.time(9)))
    for step in definition["steps"]:
        if step["type"] == "wait":
            day = wait_until(step, day)  # a wait for an event: its timeout, the latest it ends
            out.append({"step": step["id"], "type": "wait", "until": day.date().isoformat()})
            continue
        entry = {"step": step["id"], "type": step["type"], "on": day.date().isoformat()}
        if step["type"] == "branch":
            entry["then"], entry["else"] = step.get("then"), step.get("else", "end")
            out.append(entry)
            break
        out.append(entry)
    return out


def dry_run(playbook: Playbook, start: dt.date, end: dt.date) -> dict:
    if end < start:
        raise DryRunError(f"--to {end} is before --from {start}")
    if (end - start).days >= MAX_DAYS:
        raise DryRunError(f"a dry run covers at most {MAX_DAYS} days")
    definition = playbook.current.definition
    trigger = definition["trigger"]
    kind = triggers.TRIGGERS[trigger["type"]]
    rule = definition.get("conditions")
    found: list[tuple[dt.date, triggers.Subject]] = []
    if kind.daily:
        needs = sorted(set(triggers.needs(trigger)) | set(conditions.metrics_of(rule) if rule else []))
        for offset in range((end - start).days + 1):
            day = start + dt.timedelta(days=offset)
            found += [(day, s) for s in matches(definition, _frame(day, needs), day)]
    else:
        frames: dict[dt.date, pd.DataFrame] = {}
        for event in _replayed_events(kind.name, start, end):
            day = _event_day(event)
            for s in kind.subjects(trigger, event):
                if rule:
                    if s.account_id is None:
                        continue
                    if day not in frames:
                        frames[day] = _frame(day, conditions.metrics_of(rule))
                    if not conditions.compile_rule(rule).matches(frames[day].loc[[s.account_id]]).any():
                        continue
                found.append((day, s))
    enrolled, last, keys = [], {}, set()
    for day, s in sorted(found, key=lambda item: item[0]):
        who = f"account:{s.account_id}" if s.account_id is not None else f"lead:{s.lead_id}"
        previous = last.get(who)
        if s.dedupe_key in keys or (previous is not None and _blocked(playbook, previous, day)):
            continue
        keys.add(s.dedupe_key)
        last[who] = day
        out = engine.held_out(playbook.key, who, playbook.holdout)
        enrolled.append(
            {
                "date": day.isoformat(),
                "account_id": s.account_id,
                "lead_id": s.lead_id,
                "held_out": out,
                "trigger": s.trigger,
                "actions": [] if out else actions(definition, day),
            }
        )
    by_date: dict[str, int] = {}
    for e in enrolled:
        by_date[e["date"]] = by_date.get(e["date"], 0) + 1
    return {
        "playbook": playbook.key,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "enrollments": enrolled,
        "by_date": by_date,
        "total": len(enrolled),
        "held_out": sum(e["held_out"] for e in enrolled),
    }


def _blocked(playbook: Playbook, previous: dt.date, day: dt.date) -> bool:
    if playbook.reentry == Playbook.Reentry.ONCE:
        return True
    if playbook.reentry == Playbook.Reentry.PERIODIC:
        return (day - previous).days < (playbook.reentry_days or 1)
    return False
