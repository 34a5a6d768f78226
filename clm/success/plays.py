"""Playbook triggers of the success programmes: a late onboarding milestone reached or an
activation (`onboarding.milestone_completed`, `onboarding.activated`), and a success plan whose
status changes (`success_plan.status_changed`) — so plays can follow them (a thank-you when a
customer activates, an executive call when a plan gets stuck)."""

from django.utils.translation import gettext as _

from clm.automation.playbooks.steps import at
from clm.automation.playbooks.triggers import Subject, TriggerType, _codes, _keys, _register

STATUSES = ("on_track", "behind", "stuck")


def _validate_milestone(config, fields):
    problems = _keys(config, {"late"})
    if not isinstance(config.get("late", False), bool):
        problems.append(at("late", _("expected true or false")))
    return problems


def _milestone_subjects(config, event):
    p = event.payload
    if config.get("late") and not p.get("late"):
        return []
    return [Subject(p["account_id"], f"onboarding_step:{p['step_id']}",
                    {"type": "onboarding_milestone_completed", "step_id": p["step_id"], "late": p.get("late")})]


def _validate_activated(config, fields):
    return _keys(config, set())


def _activated_subjects(config, event):
    p = event.payload
    return [Subject(p["account_id"], f"onboarding_activated:{p['onboarding_id']}",
                    {"type": "onboarding_activated", "onboarding_id": p["onboarding_id"], "days": p.get("days")})]


def _validate_status(config, fields):
    return [*_keys(config, {"to"}), *_codes(config, "to", STATUSES)]


def _status_subjects(config, event):
    p = event.payload
    if config.get("to") and p.get("after") not in config["to"]:
        return []
    return [Subject(p["account_id"], f"success_plan:{p['plan_id']}:{p['after']}",
                    {"type": "success_plan_status_changed", "plan_id": p["plan_id"], "before": p.get("before"),
                     "after": p.get("after")})]


_register(TriggerType("onboarding_milestone_completed", _validate_milestone, "onboarding.milestone_completed",
                      _milestone_subjects))
_register(TriggerType("onboarding_activated", _validate_activated, "onboarding.activated", _activated_subjects))
_register(TriggerType("success_plan_status_changed", _validate_status, "success_plan.status_changed",
                      _status_subjects))
