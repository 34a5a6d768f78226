"""The control steps the engine carries out itself: wait (a duration, a date or an event with a
timeout) and branch (on a condition or on what happened to an earlier step)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from clm.analytics import conditions
from clm.automation.playbooks.steps import (
    HAPPENED,
    WAIT_UNITS,
    at,
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
                reason = _("expected a date YYYY-MM-DD, got %(value)s")
                problems.append(at("until", reason % {"value": repr(config["until"])}))
        if "event" in config:
            if config["event"] not in CATALOGUE:
                reason = _("no domain event is called %(name)s")
                problems.append(at("event", reason % {"name": repr(config["event"])}))
            if "timeout_days" not in config:
                problems.append(
                    at("timeout_days", _("a wait for an event needs a timeout, or it may never end"))
                )
            problems += check_whole(config, "timeout_days", minimum=1)
        ends = len(units) + ("until" in config) + ("event" in config)
        if ends == 0:
            reason = _(
                "a wait needs an end: a duration (days, hours, minutes), a date (until) or an event with timeout_days"
            )
            problems.append(at("days", reason))
        elif ends > 1:
            problems.append(at("days", _("a wait has one end: a duration, a date or an event, not several")))
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
            problems.append(at("if", _('required ({"condition": ...} or {"happened": ..., "step": ...})')))
        elif "condition" in test:
            try:
                conditions.validate(test["condition"], context.fields)
            except conditions.RuleError as error:
                problems.append(f"if.condition.{error}")
        elif "happened" in test:
            if test["happened"] not in HAPPENED:
                reason = _("%(value)s is not one of %(choices)s")
                values = {"value": repr(test["happened"]), "choices": ", ".join(HAPPENED)}
                problems.append(at("if.happened", reason % values))
            if test.get("step") not in context.step_ids:
                reason = _("no step %(step)s before this branch")
                problems.append(at("if.step", reason % {"step": repr(test.get("step"))}))
        else:
            problems.append(at("if", _('expected "condition" or "happened"')))
        for name in ("then", "else"):
            target = config.get(name, "end" if name == "else" else None)
            if target != "end" and target not in context.later:
                reason = _('no step %(step)s after this branch (a branch jumps forward, or to "end")')
                problems.append(at(name, reason % {"step": repr(target)}))
        return problems
