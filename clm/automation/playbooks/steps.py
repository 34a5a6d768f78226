"""The step-type registry: what each kind of playbook step accepts and what it does.

Each step type registers ``validate(config, context) -> list[str]`` (the problems, checked when a
playbook is saved) and ``run(enrollment, step, key) -> dict`` (the result stored on its StepRun).
``transactional`` steps only write rows in this database: the engine runs them inside the
transaction that marks their StepRun done, so a crash rolls both back and the step runs again,
once. The others reach the outside world (email, webhooks, robots): the engine runs them after
claiming the StepRun, and the channel functions take ``key`` as their idempotency key, so a rerun
after a crash finds the first delivery instead of sending again.

Tasks and cases are made by clm.automation.work, deliveries by clm.automation.channels; both
are imported inside the functions that need them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils import timezone

from clm.analytics import conditions

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


def _text(config: dict, name: str, *, required: bool = True, max_length: int = 500) -> list[str]:
    """A text, or a {"zh": ..., "en": ...} pair of texts."""
    value = config.get(name)
    if value is None or value == "":
        return [f"{name}: required"] if required else []
    if isinstance(value, dict):
        problems = [f"{name}.{k}: unknown language (zh, en)" for k in value if k not in ("zh", "en")]
        for lang in ("zh", "en"):
            if not isinstance(value.get(lang), str) or not value.get(lang):
                problems.append(f"{name}.{lang}: a text is required")
        return problems
    if not isinstance(value, str):
        return [f"{name}: expected a text, got {type(value).__name__}"]
    return [f"{name}: at most {max_length} characters"] if len(value) > max_length else []


def localized(value, language: str = "zh") -> str:
    if isinstance(value, dict):
        return value.get(language[:2]) or value.get("zh") or value.get("en") or ""
    return value or ""


def _whole(config: dict, name: str, *, minimum: int = 0, required: bool = False) -> list[str]:
    value = config.get(name)
    if value is None:
        return [f"{name}: required"] if required else []
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return [f"{name}: expected a whole number ≥ {minimum}, got {value!r}"]
    return []


def _choice(config: dict, name: str, choices, *, required: bool = True) -> list[str]:
    value = config.get(name)
    if value is None:
        return [f"{name}: required (one of {', '.join(choices)})"] if required else []
    return [] if value in choices else [f"{name}: {value!r} is not one of {', '.join(choices)}"]


def _person(config: dict, name: str, *, required: bool = True) -> list[str]:
    """A role on the account (sales_owner, csm) or {"user": username} of an active user."""
    value = config.get(name)
    if value is None:
        return [f'{name}: required (sales_owner, csm or {{"user": username}})'] if required else []
    if value in ROLES:
        return []
    if isinstance(value, dict) and set(value) == {"user"} and isinstance(value["user"], str):
        if not get_user_model().objects.filter(username=value["user"], is_active=True).exists():
            return [f"{name}: no active user is called {value['user']!r}"]
        return []
    return [f'{name}: expected sales_owner, csm or {{"user": username}}, got {value!r}']


def _unknown_keys(config: dict, allowed: set[str]) -> list[str]:
    base = {"id", "type", "name"}
    return [f"{key}: unknown setting" for key in sorted(config) if key not in allowed | base]


def resolve_person(spec, account):
    """The user a role or a named user stands for on this account (None when the role is empty)."""
    if spec == "sales_owner":
        return account.sales_owner
    if spec == "csm":
        return account.csm or account.sales_owner
    if isinstance(spec, dict):
        return get_user_model().objects.filter(username=spec["user"], is_active=True).first()
    return None


def _due(config: dict, days_key: str = "due_days") -> dt.datetime | None:
    days = config.get(days_key)
    return None if days is None else timezone.now() + dt.timedelta(days=days)


def _subject_account(enrollment):
    if enrollment.account_id is None:
        raise StepFailed("this step needs an account; the enrollment is for a lead without one")
    return enrollment.account


class StepFailed(Exception):
    """A step that cannot be carried out for this enrollment (not worth retrying)."""


# -- work: tasks and cases (clm.automation.work) -----------------------------------------------


@register("create_task")
class CreateTask:
    @staticmethod
    def validate(config, context):
        return [
            *_unknown_keys(config, {"title", "assignee", "due_days", "priority", "note"}),
            *_text(config, "title", max_length=200),
            *_person(config, "assignee"),
            *_whole(config, "due_days"),
            *_choice(config, "priority", PRIORITIES, required=False),
            *_text(config, "note", required=False, max_length=2000),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import work
        from clm.automation.models import Case, StepRun

        account = _subject_account(enrollment)
        assignee = resolve_person(step["assignee"], account)
        # A task after an open_case step is work on that case (the win-back call on its case),
        # also when the step found an open case of the same rule instead of opening one.
        opened = (
            StepRun.objects.filter(enrollment=enrollment, step_type="open_case", status=StepRun.Status.DONE)
            .order_by("-id")
            .values_list("result", flat=True)
            .first()
        )
        case_id = (opened or {}).get("case_id")
        case = Case.objects.filter(pk=case_id, status__in=Case.OPEN_STATUSES).first() if case_id else None
        task = work.create_task(
            None,
            title=localized(step["title"])[:200],
            account=account,
            contact=enrollment.contact,
            assignee=assignee,
            due_at=_due(step),
            priority=step.get("priority", "normal"),
            source="playbook",
            case=case,
            enrollment=enrollment,
            note=localized(step.get("note", "")),
            via="playbook",
        )
        return {"task_id": task.pk, "assignee_id": getattr(assignee, "pk", None), "case_id": task.case_id}


@register("open_case")
class OpenCase:
    @staticmethod
    def validate(config, context):
        return [
            *_unknown_keys(config, {"case_type", "reason", "owner", "priority", "due_days"}),
            *_choice(config, "case_type", CASE_TYPES),
            *_text(config, "reason", max_length=200),
            *_person(config, "owner"),
            *_choice(config, "priority", PRIORITIES, required=False),
            *_whole(config, "due_days"),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import work

        account = _subject_account(enrollment)
        due = _due(step)
        case, created = work.open_case(
            None,
            account=account,
            type=step["case_type"],
            reason=localized(step["reason"])[:200],
            owner=resolve_person(step["owner"], account),
            priority=step.get("priority", "normal"),
            due_on=due.date() if due else None,
            rule=f"playbook:{enrollment.playbook.key}",
            enrollment=enrollment,
            via="playbook",
        )
        return {"case_id": case.pk, "created": created}


# -- changes to the account ---------------------------------------------------------------------


def _update_account(enrollment, data: dict, m2m: dict | None = None):
    from clm.core import services

    account = _subject_account(enrollment)
    services.update(account, data, via="playbook", m2m=m2m)
    return account


@register("change_stage")
class ChangeStage:
    @staticmethod
    def validate(config, context):
        from clm.customers.models import LifecycleStage

        return [*_unknown_keys(config, {"stage"}), *_choice(config, "stage", LifecycleStage.values)]

    @staticmethod
    def run(enrollment, step, key):
        before = _subject_account(enrollment).lifecycle_stage
        _update_account(
            enrollment, {"lifecycle_stage": step["stage"], "lifecycle_stage_since": timezone.localdate()}
        )
        return {"before": before, "after": step["stage"]}


@register("change_owner")
class ChangeOwner:
    @staticmethod
    def validate(config, context):
        problems = [*_unknown_keys(config, {"role", "user"}), *_choice(config, "role", ROLES)]
        user = config.get("user")
        if (
            not isinstance(user, str)
            or not get_user_model().objects.filter(username=user, is_active=True).exists()
        ):
            problems.append(f"user: no active user is called {user!r}")
        return problems

    @staticmethod
    def run(enrollment, step, key):
        user = get_user_model().objects.get(username=step["user"])
        before = getattr(_subject_account(enrollment), f"{step['role']}_id")
        _update_account(enrollment, {f"{step['role']}_id": user.pk})
        return {"role": step["role"], "before": before, "after": user.pk}


def _tag(text: str):
    from clm.customers.models import Tag

    category, _, value = text.partition(":")
    return Tag.objects.filter(category__name=category, value=value).first()


@register("change_tags")
class ChangeTags:
    @staticmethod
    def validate(config, context):
        problems = _unknown_keys(config, {"add", "remove"})
        if not config.get("add") and not config.get("remove"):
            problems.append('add: give tags to add or to remove ("category:value")')
        for name in ("add", "remove"):
            tags = config.get(name, [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                problems.append(f'{name}: expected a list of "category:value" texts')
                continue
            problems += [f"{name}: no tag {t!r} in the tag library" for t in tags if _tag(t) is None]
        return problems

    @staticmethod
    def run(enrollment, step, key):
        account = _subject_account(enrollment)
        tags = set(account.tags.values_list("pk", flat=True))
        tags |= {_tag(t).pk for t in step.get("add", [])}
        tags -= {_tag(t).pk for t in step.get("remove", [])}
        _update_account(enrollment, {}, m2m={"tags": sorted(tags)})
        return {"tags": sorted(tags)}


ACCOUNT_FIELDS = ("industry", "region", "province", "city", "acquisition_channel", "development_stage")


@register("change_field")
class ChangeField:
    @staticmethod
    def validate(config, context):
        from clm.core.models import CustomField

        problems = _unknown_keys(config, {"field", "value"})
        name = config.get("field")
        if not isinstance(name, str):
            return [*problems, "field: required (an account field or custom.<key>)"]
        if name.startswith("custom."):
            if not CustomField.objects.filter(target="account", key=name[7:]).exists():
                problems.append(f"field: no custom account field {name[7:]!r}")
        elif name not in ACCOUNT_FIELDS:
            problems.append(
                f"field: {name!r} cannot be set by a playbook (fields: {', '.join(ACCOUNT_FIELDS)}, custom.<key>)"
            )
        if "value" not in config:
            problems.append("value: required")
        return problems

    @staticmethod
    def run(enrollment, step, key):
        from clm.customers.services import validate_custom

        account = _subject_account(enrollment)
        name, value = step["field"], step["value"]
        if name.startswith("custom."):
            custom = {**account.custom, name[7:]: value}
            _update_account(enrollment, {"custom": validate_custom("account", custom)})
        else:
            _update_account(enrollment, {name: value})
        return {"field": name, "value": value}


@register("loyalty_points")
class LoyaltyPoints:
    @staticmethod
    def validate(config, context):
        problems = [*_unknown_keys(config, {"points", "note"}), *_text(config, "note", required=False)]
        points = config.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points == 0:
            problems.append("points: a whole number of points, positive to add, negative to redeem")
        return problems

    @staticmethod
    def run(enrollment, step, key):
        from clm.value import services as value_services
        from clm.value.models import LoyaltyEntry

        account = _subject_account(enrollment)
        note = localized(step.get("note", "")) or f"playbook {enrollment.playbook.key}"
        if step["points"] < 0:
            entry = value_services.redeem_points(account, -step["points"], note=note, via="playbook")
        else:
            entry = value_services.add_entry(
                account, LoyaltyEntry.Kind.ADJUSTMENT, step["points"], note=note, via="playbook"
            )
        return {"loyalty_entry_id": entry.pk, "points": step["points"]}


@register("enroll")
class Enroll:
    @staticmethod
    def validate(config, context):
        from clm.automation.models import Playbook

        problems = _unknown_keys(config, {"playbook"})
        target = config.get("playbook")
        if not isinstance(target, str) or not target:
            return [*problems, "playbook: required (a playbook key)"]
        if target != context.playbook_key and not Playbook.objects.filter(key=target).exists():
            return [*problems, f"playbook: no playbook is called {target!r}"]
        cycle = enroll_cycle(context.playbook_key, target, context.enrolls)
        if cycle:
            problems.append("playbook: playbooks would enroll each other in a loop: " + " → ".join(cycle))
        return problems

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation.models import Playbook
        from clm.automation.playbooks import engine

        target = Playbook.objects.get(key=step["playbook"])
        enrolled = engine.enroll(
            target,
            account_id=enrollment.account_id,
            lead_id=enrollment.lead_id,
            contact_id=enrollment.contact_id,
            dedupe_key=f"enroll:{key}",
            trigger={"type": "enroll", "from_playbook": enrollment.playbook.key, "step": key},
        )
        return {"enrollment_id": getattr(enrolled, "pk", None), "enrolled": enrolled is not None}


def enroll_cycle(source: str, target: str, graph: dict[str, set[str]]) -> list[str]:
    """The path back to ``source`` if ``source`` enrolling into ``target`` closes a loop, else []."""
    stack, seen = [(target, [source, target])], set()
    while stack:
        node, path = stack.pop()
        if node == source:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((nxt, [*path, nxt]) for nxt in sorted(graph.get(node, ())))
    return []


# -- channels (clm.automation.channels) ---------------------------------------------------------


def _channel_lookup(model, value) -> dict:
    """A channel row by id, or by its key (email templates) or its name (webhooks and robots,
    which have no key)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"pk": value}
    return {"key" if any(f.name == "key" for f in model._meta.fields) else "name": value}


def _channel_row(model_name: str, value, name: str) -> list[str]:
    from clm.automation.models import channels as channel_models

    model = getattr(channel_models, model_name)
    found = (
        model.objects.filter(**_channel_lookup(model, value)).count() if isinstance(value, int | str) else 0
    )
    if not found:
        return [f"{name}: no {model._meta.verbose_name} {value!r}"]
    if found > 1:
        return [f"{name}: {found} {model._meta.verbose_name_plural} are called {value!r}; give its id"]
    return []


def _channel_get(model_name: str, value):
    from clm.automation.models import channels as channel_models

    model = getattr(channel_models, model_name)
    return model.objects.get(**_channel_lookup(model, value))


def _recipient(enrollment):
    from clm.customers.models import Contact

    if enrollment.contact_id:
        return enrollment.contact
    account = _subject_account(enrollment)
    contacts = account.contacts.filter(status=Contact.Status.ACTIVE).exclude(email="")
    return contacts.order_by("-is_key_person", "id").first()


class StillSending(Exception):
    """The step's delivery is claimed by another attempt that has not finished: try again later
    (retried by the engine; an attempt that died is given back by the sweep)."""


def _delivered(delivery) -> dict:
    """A delivery's outcome as the step's: sent and refused (no consent, switched off) go on; a
    failure ends the enrollment with the channel's error (the channel retried already, and the
    key will not send again)."""
    from clm.automation.models import Delivery

    if delivery.status == Delivery.Status.FAILED:
        raise StepFailed(f"{delivery.channel} delivery {delivery.key} failed: {delivery.error}")
    if delivery.status in (Delivery.Status.SENDING, Delivery.Status.QUEUED):
        raise StillSending(f"{delivery.channel} delivery {delivery.key} is {delivery.status}")
    return {"delivery_id": delivery.pk, "status": delivery.status}


def _variables(config) -> list[str]:
    """The values given for the template's declared variables: each one, and nothing else."""
    from clm.automation.models import EmailTemplate

    given = config.get("variables", {})
    if not isinstance(given, dict) or not all(isinstance(v, str | int | float) for v in given.values()):
        return ["variables: expected an object of names to texts or numbers"]
    template = config.get("template")
    lookup = (
        {"pk": template}
        if isinstance(template, int) and not isinstance(template, bool)
        else {"key": template}
    )
    declared = EmailTemplate.objects.filter(**lookup).values_list("variables", flat=True).first()
    if declared is None:
        return []  # said by the template check
    problems = [
        f"variables.{name}: the template {template} needs a value for it"
        for name in declared
        if name not in given
    ]
    return problems + [
        f"variables.{name}: the template {template} has no such variable"
        for name in given
        if name not in declared
    ]


@register("send_email", transactional=False)
class SendEmail:
    @staticmethod
    def validate(config, context):
        return [
            *_unknown_keys(config, {"template", "variables"}),
            *_channel_row("EmailTemplate", config.get("template"), "template"),
            *_variables(config),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import channels

        contact = _recipient(enrollment)
        if contact is None:
            raise StepFailed("no contact with an email address to send to")
        delivery = channels.send_email(
            template=_channel_get("EmailTemplate", step["template"]),
            contact=contact,
            context=step.get("variables", {}),  # account, contact, owner and company are the channel's
            key=key,
        )
        return {**_delivered(delivery), "contact_id": contact.pk}


@register("webhook", transactional=False)
class Webhook:
    @staticmethod
    def validate(config, context):
        problems = [
            *_unknown_keys(config, {"endpoint", "event"}),
            *_channel_row("WebhookEndpoint", config.get("endpoint"), "endpoint"),
        ]
        return problems + _text(config, "event", required=False, max_length=100)

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import channels

        delivery = channels.call_webhook(
            endpoint=_channel_get("WebhookEndpoint", step["endpoint"]),
            event=step.get("event") or f"playbook.{enrollment.playbook.key}",
            payload={
                "playbook": enrollment.playbook.key,
                "enrollment_id": enrollment.pk,
                "account_id": enrollment.account_id,
                "lead_id": enrollment.lead_id,
                "step": step["id"],
            },
            key=key,
        )
        return _delivered(delivery)


@register("robot", transactional=False)
class Robot:
    @staticmethod
    def validate(config, context):
        return [
            *_unknown_keys(config, {"robot", "title", "text"}),
            *_channel_row("Robot", config.get("robot"), "robot"),
            *_text(config, "title", max_length=200),
            *_text(config, "text", max_length=4000),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from django.urls import reverse

        from clm.automation import channels

        account = enrollment.account
        name = getattr(account, "name", "")
        link = reverse("web:account", args=[account.pk]) if account is not None else None
        delivery = channels.notify_robot(
            robot=_channel_get("Robot", step["robot"]),
            title=localized(step["title"]).replace("{account}", name),
            text_markdown=localized(step["text"]).replace("{account}", name),
            link=link,
            key=key,
        )
        return _delivered(delivery)


# -- control: wait and branch (carried out by the engine) ---------------------------------------


@register("wait", control=True)
class Wait:
    """A duration ({"days": 3}, hours, minutes), a date ({"until": "2025-06-01"}), or an event
    with a timeout ({"event": "task.completed", "timeout_days": 7})."""

    @staticmethod
    def validate(config, context):
        from clm.core.events import CATALOGUE

        problems = _unknown_keys(config, {*WAIT_UNITS, "until", "event", "timeout_days"})
        units = [u for u in WAIT_UNITS if u in config]
        for unit in units:
            problems += _whole(config, unit, minimum=1)
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
            problems += _whole(config, "timeout_days", minimum=1)
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
        problems = _unknown_keys(config, {"if", "then", "else"})
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
