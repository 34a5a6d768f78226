"""The step-type registry: what each kind of playbook step accepts and what it does.

Each step type registers ``validate(config, context) -> list[str]`` (the problems, checked when a
playbook is saved) and ``run(enrollment, step, key) -> dict`` (the result stored on its StepRun).
``transactional`` steps only write rows in this database: the engine runs them inside the
transaction that marks their StepRun done, so a crash rolls both back and the step runs again,
once. The others reach the outside world (email, webhooks, robots): the engine runs them after
claiming the StepRun, and the channel functions take ``key`` as their idempotency key, so a rerun
after a crash finds the first delivery instead of sending again.

This module holds the registry and the checks the step types share; the step types themselves are
in steps_records (tasks, cases, changes to the account, enroll), steps_channels (email, webhooks,
robots) and steps_control (wait, branch), registered when this module is imported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _

ROLES = ("sales_owner", "csm")
PRIORITIES = ("low", "normal", "high", "urgent")
CASE_TYPES = ("risk", "win_back", "renewal", "expansion", "onboarding", "feedback", "other")
WAIT_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
HAPPENED = ("email_opened", "email_clicked", "task_done", "case_closed_success")


@dataclass
class Context:
    """What a step's validation may consult: the fields a condition can read, the playbook's own
    key and step ids, and the other playbooks' enroll steps (to refuse loops)."""

    fields: dict[str, str]
    playbook_key: str = ""
    step_ids: list[str] = field(default_factory=list)  # for a branch: the steps before it
    later: list[str] = field(default_factory=list)  # for a branch: the steps after it
    enrolls: dict[str, set[str]] = field(default_factory=dict)  # playbook key -> keys it enrolls into


@dataclass(frozen=True)
class StepType:
    name: str
    validate: Callable[[dict, Context], list[str]]
    run: Callable | None  # None for the control steps the engine itself carries out (wait, branch)
    transactional: bool = True


REGISTRY: dict[str, StepType] = {}


def register(name: str, *, transactional: bool = True, control: bool = False):
    def wrap(cls_or_fn):
        validate = cls_or_fn.validate
        run = None if control else cls_or_fn.run
        REGISTRY[name] = StepType(name, validate, run, transactional)
        return cls_or_fn

    return wrap


# -- shared checks ------------------------------------------------------------------------------
# A problem is "<setting>: <reason>", the reason in the active language (the user's, when a page
# or the API saves a playbook); the setting stays as written in the document.


def at(name: str, reason: str) -> str:
    return f"{name}: {reason}"


def check_text(config: dict, name: str, *, required: bool = True, max_length: int = 500) -> list[str]:
    """A text, or a {"zh": ..., "en": ...} pair of texts."""
    value = config.get(name)
    if value is None or value == "":
        return [at(name, _("required"))] if required else []
    if isinstance(value, dict):
        problems = [at(f"{name}.{k}", _("unknown language (zh, en)")) for k in value if k not in ("zh", "en")]
        for lang in ("zh", "en"):
            if not isinstance(value.get(lang), str) or not value.get(lang):
                problems.append(at(f"{name}.{lang}", _("a text is required")))
        return problems
    if not isinstance(value, str):
        return [at(name, _("expected a text, got %(type)s") % {"type": type(value).__name__})]
    if len(value) > max_length:
        return [at(name, _("at most %(count)s characters") % {"count": max_length})]
    return []


def localized(value, language: str = "zh") -> str:
    if isinstance(value, dict):
        return value.get(language[:2]) or value.get("zh") or value.get("en") or ""
    return value or ""


def check_whole(config: dict, name: str, *, minimum: int = 0, required: bool = False) -> list[str]:
    value = config.get(name)
    if value is None:
        return [at(name, _("required"))] if required else []
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        reason = _("expected a whole number ≥ %(minimum)s, got %(value)s")
        return [at(name, reason % {"minimum": minimum, "value": repr(value)})]
    return []


def check_choice(config: dict, name: str, choices, *, required: bool = True) -> list[str]:
    value = config.get(name)
    listed = ", ".join(choices)
    if value is None:
        return [at(name, _("required (one of %(choices)s)") % {"choices": listed})] if required else []
    if value in choices:
        return []
    return [at(name, _("%(value)s is not one of %(choices)s") % {"value": repr(value), "choices": listed})]


def check_person(config: dict, name: str, *, required: bool = True) -> list[str]:
    """A role on the account (sales_owner, csm) or {"user": username} of an active user."""
    value = config.get(name)
    if value is None:
        return [at(name, _('required (sales_owner, csm or {"user": username})'))] if required else []
    if value in ROLES:
        return []
    if isinstance(value, dict) and set(value) == {"user"} and isinstance(value["user"], str):
        if not get_user_model().objects.filter(username=value["user"], is_active=True).exists():
            return [at(name, no_active_user(value["user"]))]
        return []
    return [
        at(name, _('expected sales_owner, csm or {"user": username}, got %(value)s') % {"value": repr(value)})
    ]


def no_active_user(username) -> str:
    return _("no active user is called %(name)s") % {"name": repr(username)}


def unknown_keys(config: dict, allowed: set[str], base=frozenset({"id", "type", "name"})) -> list[str]:
    return [at(key, _("unknown setting")) for key in sorted(config) if key not in allowed | base]


def resolve_person(spec, account):
    """The user a role or a named user stands for on this account (None when the role is empty)."""
    if spec == "sales_owner":
        return account.sales_owner
    if spec == "csm":
        return account.csm or account.sales_owner
    if isinstance(spec, dict):
        return get_user_model().objects.filter(username=spec["user"], is_active=True).first()
    return None


def due_at(config: dict, days_key: str = "due_days") -> dt.datetime | None:
    days = config.get(days_key)
    return None if days is None else timezone.now() + dt.timedelta(days=days)


def subject_account(enrollment):
    if enrollment.account_id is None:
        raise StepFailed("this step needs an account; the enrollment is for a lead without one")
    return enrollment.account


class StepFailed(Exception):
    """A step that cannot be carried out for this enrollment (not worth retrying)."""


# The step types register themselves when imported, in the order the "expected one of" message
# lists them.
from clm.automation.playbooks import steps_records  # noqa: E402, F401, I001
from clm.automation.playbooks import steps_channels  # noqa: E402, F401, I001
from clm.automation.playbooks.steps_control import wait_until  # noqa: E402, I001

__all__ = ["wait_until"]
