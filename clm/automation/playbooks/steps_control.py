"""The control steps the engine carries out itself: wait (a duration, a date or an event with a
timeout) and branch (on a condition or on what happened to an earlier step)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from clm.analytics import conditions
from clm.automation.playbooks.steps import (
    HAPPENED,
    WAIT_UNITS,
    check_whole,
    register,
    unknown_keys,
)

# -- control: wait and branch (carried out by the engine) ---------------------------------------


@register("wait", control=True)
class Wait:
    """A duration ({"days": 3}, hours, minutes), a date ({"until": "2025-06-01"}), or an event
    with a timeout ({"event": "task.completed", "timeout_days": 7})."""

    @staticmethod
    def validate(config, context):
        from clm.core.events import CATALOGUE

        problems = unknown_keys(config, {*WAIT_UNITS, "until", "event", "timeout_days"})
        units = [u for u in WAIT_UNITS if u in config]
        for unit in units:
            problems += check_whole(config, unit, minimum=1)
        if "until" in config:
            try:
                dt.date.fromisoformat(str(config["until"]))
            except ValueError:
                problems.append(f"until: expected a date YYYY-MM-DD, got {config['until']!r}")
        if "event" in config:
            if config["event"] not in CATALOGUE:
                problems.append(f"event: no domain event is called {config['event']!r}")
            if "timeout_days" not in config:
                problems.append("timeout_days: a wait for an event needs a timeout, or it may never end")
            problems += check_whole(config, "timeout_days", minimum=1)
        ends = len(units) + ("until" in config) + ("event" in config)
        if ends == 0:
            problems.append(
                "days: a wait needs an end: a duration (days, hours, minutes), a date (until) or an event with timeout_days"
            )
        elif ends > 1:
            problems.append("days: a wait has one end: a duration, a date or an event, not several")
        return problems


def wait_until(config: dict, start: dt.datetime) -> dt.datetime:
    for unit, seconds in WAIT_UNITS.items():
        if unit in config:
            return start + dt.timedelta(seconds=config[unit] * seconds)
    if "until" in config:
        day = dt.date.fromisoformat(str(config["until"]))
        return max(start, timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0))))
    return start + dt.timedelta(days=config["timeout_days"])


@register("branch", control=True)
class Branch:
    """{"if": {"condition": rule} | {"happened": "email_opened", "step": "s1"}, "then": id, "else": id};
    a target is a later step's id or "end"."""

    @staticmethod
    def validate(config, context):
        problems = unknown_keys(config, {"if", "then", "else"})
        test = config.get("if")
        if not isinstance(test, dict) or len(test) == 0:
            problems.append('if: required ({"condition": ...} or {"happened": ..., "step": ...})')
        elif "condition" in test:
            try:
                conditions.validate(test["condition"], context.fields)
            except conditions.RuleError as error:
                problems.append(f"if.condition.{error}")
        elif "happened" in test:
            if test["happened"] not in HAPPENED:
                problems.append(f"if.happened: {test['happened']!r} is not one of {', '.join(HAPPENED)}")
            if test.get("step") not in context.step_ids:
                problems.append(f"if.step: no step {test.get('step')!r} before this branch")
        else:
            problems.append('if: expected "condition" or "happened"')
        for name in ("then", "else"):
            target = config.get(name, "end" if name == "else" else None)
            if target != "end" and target not in context.later:
                problems.append(
                    f'{name}: no step {target!r} after this branch (a branch jumps forward, or to "end")'
                )
        return problems
