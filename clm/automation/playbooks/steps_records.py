"""Playbook steps that write records here: tasks and cases (clm.automation.work), changes to the
account (stage, owner, tags, a field, loyalty points) and enrolling into another playbook."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.automation.playbooks.steps import (
    CASE_TYPES,
    PRIORITIES,
    ROLES,
    at,
    check_choice,
    check_person,
    check_text,
    check_whole,
    due_at,
    localized,
    no_active_user,
    register,
    resolve_person,
    subject_account,
    unknown_keys,
)

# -- work: tasks and cases (clm.automation.work) -----------------------------------------------


@register("create_task")
class CreateTask:
    @staticmethod
    def validate(config, context):
        return [
            *unknown_keys(config, {"title", "assignee", "due_days", "priority", "note"}),
            *check_text(config, "title", max_length=200),
            *check_person(config, "assignee"),
            *check_whole(config, "due_days"),
            *check_choice(config, "priority", PRIORITIES, required=False),
            *check_text(config, "note", required=False, max_length=2000),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import work
        from clm.automation.models import Case, StepRun

        account = subject_account(enrollment)
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
            due_at=due_at(step),
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
            *unknown_keys(config, {"case_type", "reason", "owner", "priority", "due_days"}),
            *check_choice(config, "case_type", CASE_TYPES),
            *check_text(config, "reason", max_length=200),
            *check_person(config, "owner"),
            *check_choice(config, "priority", PRIORITIES, required=False),
            *check_whole(config, "due_days"),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import work

        account = subject_account(enrollment)
        due = due_at(step)
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

    account = subject_account(enrollment)
    services.update(account, data, via="playbook", m2m=m2m)
    return account


@register("change_stage")
class ChangeStage:
    @staticmethod
    def validate(config, context):
        from clm.customers.models import LifecycleStage

        return [*unknown_keys(config, {"stage"}), *check_choice(config, "stage", LifecycleStage.values)]

    @staticmethod
    def run(enrollment, step, key):
        before = subject_account(enrollment).lifecycle_stage
        _update_account(
            enrollment, {"lifecycle_stage": step["stage"], "lifecycle_stage_since": timezone.localdate()}
        )
        return {"before": before, "after": step["stage"]}


@register("change_owner")
class ChangeOwner:
    @staticmethod
    def validate(config, context):
        problems = [*unknown_keys(config, {"role", "user"}), *check_choice(config, "role", ROLES)]
        user = config.get("user")
        if (
            not isinstance(user, str)
            or not get_user_model().objects.filter(username=user, is_active=True).exists()
        ):
            problems.append(at("user", no_active_user(user)))
        return problems

    @staticmethod
    def run(enrollment, step, key):
        user = get_user_model().objects.get(username=step["user"])
        before = getattr(subject_account(enrollment), f"{step['role']}_id")
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
        problems = unknown_keys(config, {"add", "remove"})
        if not config.get("add") and not config.get("remove"):
            problems.append(at("add", _('give tags to add or to remove ("category:value")')))
        for name in ("add", "remove"):
            tags = config.get(name, [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                problems.append(at(name, _('expected a list of "category:value" texts')))
                continue
            problems += [
                at(name, _("no tag %(tag)s in the tag library") % {"tag": repr(t)})
                for t in tags
                if _tag(t) is None
            ]
        return problems

    @staticmethod
    def run(enrollment, step, key):
        account = subject_account(enrollment)
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

        problems = unknown_keys(config, {"field", "value"})
        name = config.get("field")
        if not isinstance(name, str):
            return [*problems, at("field", _("required (an account field or custom.<key>)"))]
        if name.startswith("custom."):
            if not CustomField.objects.filter(target="account", key=name[7:]).exists():
                problems.append(at("field", _("no custom account field %(key)s") % {"key": repr(name[7:])}))
        elif name not in ACCOUNT_FIELDS:
            reason = _("%(field)s cannot be set by a playbook (fields: %(fields)s, custom.<key>)")
            problems.append(at("field", reason % {"field": repr(name), "fields": ", ".join(ACCOUNT_FIELDS)}))
        if "value" not in config:
            problems.append(at("value", _("required")))
        return problems

    @staticmethod
    def run(enrollment, step, key):
        from clm.customers.services import validate_custom

        account = subject_account(enrollment)
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
        problems = [*unknown_keys(config, {"points", "note"}), *check_text(config, "note", required=False)]
        points = config.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points == 0:
            problems.append(at("points", _("a whole number of points, positive to add, negative to redeem")))
        return problems

    @staticmethod
    def run(enrollment, step, key):
        from clm.value import services as value_services
        from clm.value.models import LoyaltyEntry

        account = subject_account(enrollment)
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

        problems = unknown_keys(config, {"playbook"})
        target = config.get("playbook")
        if not isinstance(target, str) or not target:
            return [*problems, at("playbook", _("required (a playbook key)"))]
        if target != context.playbook_key and not Playbook.objects.filter(key=target).exists():
            return [*problems, at("playbook", _("no playbook is called %(key)s") % {"key": repr(target)})]
        cycle = enroll_cycle(context.playbook_key, target, context.enrolls)
        if cycle:
            reason = _("playbooks would enroll each other in a loop: %(path)s")
            problems.append(at("playbook", reason % {"path": " → ".join(cycle)}))
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
