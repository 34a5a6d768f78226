"""A playbook document, checked before it is saved: every problem named with where it is.

The document is what the API takes, `clm playbook export` writes and `load` reads::

    {"key": "health-red-winback", "name": {"zh": "…", "en": "…"}, "description": "…",
     "active": true, "holdout": 0.1, "reentry": {"policy": "once_per_days", "days": 90},
     "outcome": {"kind": "retained", "days": 90},
     "definition": {"trigger": {"type": "segment", "condition": {…}},
                    "conditions": {…} | null, "exit": {…} | null,
                    "steps": [{"id": "case", "type": "open_case", …}, {"id": "w", "type": "wait", "days": 3}, …]}}
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clm.analytics import conditions
from clm.automation.playbooks import steps as step_types
from clm.automation.playbooks import triggers

KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
REENTRY = ("once", "once_per_days", "always")
OUTCOMES = ("retained", "renewed", "expanded", "reactivated", "converted")
TOP_KEYS = {
    "key",
    "name",
    "description",
    "active",
    "holdout",
    "reentry",
    "outcome",
    "definition",
    "template",
    "id",
    "version",
}
MAX_STEPS = 100


def one_of(choices) -> str:
    return _("expected one of %(choices)s") % {"choices": ", ".join(choices)}


def invalid(problems: list[tuple[str, str]]) -> ValidationError:
    errors: dict[str, list[str]] = {}
    for path, message in problems:
        errors.setdefault(path or "document", []).append(message)
    return ValidationError(errors)


def check_document(doc, *, fields: dict[str, str], enrolls: dict[str, set[str]]) -> dict:
    """The document with defaults filled in, or ValidationError naming every problem.
    ``fields``: what conditions may read (subjects.fields()); ``enrolls``: the other playbooks'
    enroll steps (key -> keys), to refuse loops."""
    problems: list[tuple[str, str]] = []
    if not isinstance(doc, dict):
        raise invalid([("", _("expected a JSON object (a playbook document)"))])
    problems += [(k, _("unknown key")) for k in sorted(doc) if k not in TOP_KEYS]
    key = doc.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        problems.append(("key", _("required: lower-case letters, digits and hyphens, at most 80")))
        key = ""
    name = doc.get("name")
    if not isinstance(name, dict) or not all(
        isinstance(name.get(lang), str) and name.get(lang).strip() for lang in ("zh", "en")
    ):
        problems.append(("name", _('required: {"zh": …, "en": …}, both non-empty')))
    elif any(len(name[lang]) > 200 for lang in ("zh", "en")):
        problems.append(("name", _("at most 200 characters in each language")))
    if not isinstance(doc.get("description", ""), str):
        problems.append(("description", _("expected a text")))
    if not isinstance(doc.get("active", False), bool):
        problems.append(("active", _("expected true or false")))
    holdout = doc.get("holdout", 0)
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 <= holdout < 1:
        reason = _("expected a share from 0 up to (not including) 1, got %(value)s")
        problems.append(("holdout", reason % {"value": repr(holdout)}))
    reentry = doc.get("reentry") or {"policy": "once"}
    if not isinstance(reentry, dict) or reentry.get("policy") not in REENTRY:
        problems.append(("reentry.policy", one_of(REENTRY)))
    elif reentry["policy"] == "once_per_days":
        days = reentry.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            problems.append(("reentry.days", _("once_per_days needs days, a whole number ≥ 1")))
    outcome = doc.get("outcome") or {"kind": "retained", "days": 90}
    if not isinstance(outcome, dict) or outcome.get("kind") not in OUTCOMES:
        problems.append(("outcome.kind", one_of(OUTCOMES)))
    elif (
        isinstance(outcome.get("days", 90), bool)
        or not isinstance(outcome.get("days", 90), int)
        or not 1 <= outcome.get("days", 90) <= 3650
    ):
        problems.append(("outcome.days", _("expected a whole number of days from 1 to 3650")))
    definition = doc.get("definition")
    if not isinstance(definition, dict):
        problems.append(("definition", _("required: {trigger, conditions, exit, steps}")))
    else:
        problems += check_definition(definition, key=key, fields=fields, enrolls=enrolls)
    if problems:
        raise invalid(problems)
    return {
        "key": key,
        "name": {"zh": name["zh"].strip(), "en": name["en"].strip()},
        "description": doc.get("description", ""),
        "active": doc.get("active", False),
        "holdout": float(holdout),
        "reentry": {
            "policy": reentry["policy"],
            "days": reentry.get("days") if reentry["policy"] == "once_per_days" else None,
        },
        "outcome": {"kind": outcome["kind"], "days": outcome.get("days", 90)},
        "definition": definition,
    }


def check_definition(
    definition: dict, *, key: str, fields: dict[str, str], enrolls: dict[str, set[str]]
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    problems += [
        (f"definition.{k}", _("unknown key"))
        for k in sorted(definition)
        if k not in ("trigger", "conditions", "exit", "steps")
    ]
    trigger = definition.get("trigger")
    if not isinstance(trigger, dict) or trigger.get("type") not in triggers.TRIGGERS:
        problems.append(("definition.trigger.type", one_of(triggers.TRIGGERS)))
    else:
        problems += [
            (f"definition.trigger.{p.split(':')[0]}", p.split(": ", 1)[-1])
            for p in triggers.TRIGGERS[trigger["type"]].validate(trigger, fields)
        ]
    for name in ("conditions", "exit"):
        rule = definition.get(name)
        if rule is None:
            continue
        try:
            conditions.validate(rule, fields)
        except conditions.RuleError as error:
            problems.append((conditions.join_path(f"definition.{name}", error.path), error.reason))
    steps = definition.get("steps")
    if not isinstance(steps, list) or not steps:
        problems.append(("definition.steps", _("required: a non-empty list of steps")))
        return problems
    if len(steps) > MAX_STEPS:
        problems.append(("definition.steps", _("at most %(count)s steps") % {"count": MAX_STEPS}))
        return problems
    ids = [s.get("id") if isinstance(s, dict) else None for s in steps]
    mine = {s.get("playbook") for s in steps if isinstance(s, dict) and s.get("type") == "enroll"}
    graph = {**enrolls, key: {m for m in mine if isinstance(m, str)}}
    for i, step in enumerate(steps):
        where = f"definition.steps[{i}]"
        if not isinstance(step, dict):
            problems.append((where, _("expected a step object")))
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            problems.append((f"{where}.id", _("required: letters, digits, - and _, at most 60")))
        elif ids.count(step_id) > 1:
            reason = _("step id %(id)s is used more than once")
            problems.append((f"{where}.id", reason % {"id": repr(step_id)}))
        else:
            where = f"{where} ({step_id})"
        kind = step_types.REGISTRY.get(step.get("type"))
        if kind is None:
            problems.append((f"{where}.type", one_of(step_types.REGISTRY)))
            continue
        # A branch only jumps forward, so a journey always ends.
        earlier = [s for s in ids[:i] if isinstance(s, str)]
        later = [s for s in ids[i + 1 :] if isinstance(s, str)]
        context = step_types.Context(fields, key, earlier, later, graph)
        for problem in kind.validate(step, context):
            field, separator, message = problem.partition(": ")
            problems.append((f"{where}.{field}" if message else where, message or problem))
    return problems
