"""Success plans (客户成长计划): objectives with a measurable target (and a usage metric where the
product tracks one), milestones owned on both sides, the plan's status derived by clm.success.rules,
and QBRs (季度业务复盘会) whose next steps become tasks.

Each operation runs in one transaction, needs the `success.change_successplan` permission (or
`add_` to create a plan) and sight of the account (clm.core.access), is audited through
clm.core.services, and announces itself after commit."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.automation import work
from clm.core import services
from clm.core.access import visible_accounts, visible_records
from clm.core.events import emit, emit_many
from clm.core.frames import read_frame
from clm.customers.models import Account, Contact
from clm.success import rules
from clm.success.models import QBR, Objective, PlanMilestone, SuccessPlan
from clm.usage.models import UsageDaily, UsageFeatureDaily

WINDOW_DAYS = 30  # a usage metric's value is over the 30 days up to its day
M = Objective.Metric


def _person(actor):
    return actor if getattr(actor, "pk", None) else None


def _require_account(actor, account: Account, perm: str = "change_successplan") -> None:
    if actor is None:
        return
    if not actor.has_perm(f"success.{perm}"):
        raise PermissionDenied(_("You may not create success plans.") if perm.startswith("add")
                               else _("You may not change success plans."))
    if not visible_accounts(actor).filter(pk=account.pk).exists():
        raise PermissionDenied(_("You may not work on the account %(name)s.") % {"name": account.name})


def _require_plan(actor, plan: SuccessPlan) -> SuccessPlan:
    actor = _person(actor)
    if actor is not None:
        if not actor.has_perm("success.change_successplan"):
            raise PermissionDenied(_("You may not change success plans."))
        if not visible_records(SuccessPlan, actor).filter(pk=plan.pk).exists():
            raise PermissionDenied(_("You may not work on this record."))
    return SuccessPlan.objects.select_for_update().select_related("account").get(pk=plan.pk)


def _check_user(user, field: str, errors: dict) -> None:
    if user is not None and not user.is_active:
        errors[field] = _("%(name)s is not an active user.") % {"name": user.get_username()}


def _check_contact(contact: Contact | None, account: Account, field: str, errors: dict) -> None:
    if contact is None:
        return
    if contact.account_id != account.pk:
        errors[field] = _("%(name)s is a contact of another account, not of %(account)s.") % {
            "name": contact.name, "account": account.name}
    elif contact.status == Contact.Status.LEFT:
        errors[field] = _("%(name)s has left %(account)s.") % {"name": contact.name, "account": account.name}


# -- plans ------------------------------------------------------------------------------------


@transaction.atomic
def create_plan(actor, account: Account, *, title: str, starts_on: dt.date, ends_on: dt.date | None = None,
                owner=None, via: str = "system") -> SuccessPlan:
    actor = _person(actor)
    _require_account(actor, account, "add_successplan")
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = _("Give the plan a title.")
    if starts_on is None:
        errors["starts_on"] = _("Give the day the plan starts.")
    elif ends_on is not None and ends_on <= starts_on:
        errors["ends_on"] = _("The plan must end after it starts (%(day)s).") % {"day": starts_on.isoformat()}
    _check_user(owner, "owner", errors)
    if SuccessPlan.objects.filter(account=account, closed_on__isnull=True).exists():
        errors["account"] = _("%(name)s already has a success plan; close it before starting another.") % {
            "name": account.name}
    if errors:
        raise ValidationError(errors)
    plan = SuccessPlan(account=account, title=title, starts_on=starts_on, ends_on=ends_on,
                       owner=owner or work.default_owner(account) or actor, created_by=actor,
                       status_since=starts_on)
    services.save_new(plan, actor=actor, via=via)
    emit("success_plan.created", actor=actor, plan_id=plan.pk, account_id=account.pk)
    return plan


PLAN_FIELDS = ("title", "starts_on", "ends_on", "owner")


@transaction.atomic
def update_plan(actor, plan: SuccessPlan, changes: dict, *, via: str = "system") -> SuccessPlan:
    locked = _require_plan(actor, plan)
    unknown = sorted(set(changes) - set(PLAN_FIELDS))
    if unknown:
        raise ValidationError({k: _("This field cannot be changed here.") for k in unknown})
    data = {**{f: getattr(locked, f) for f in PLAN_FIELDS}, **changes}
    errors = {}
    data["title"] = (data["title"] or "").strip()
    if not data["title"]:
        errors["title"] = _("Give the plan a title.")
    if data["ends_on"] is not None and data["ends_on"] <= data["starts_on"]:
        errors["ends_on"] = _("The plan must end after it starts (%(day)s).") % {"day": data["starts_on"].isoformat()}
    first_due = locked.milestones.order_by("due_on").values_list("due_on", flat=True).first()
    if first_due is not None and data["starts_on"] > first_due:
        errors["starts_on"] = _("A milestone is due on %(day)s, before this start.") % {"day": first_due.isoformat()}
    _check_user(data.get("owner"), "owner", errors)
    if errors:
        raise ValidationError(errors)
    services.update(locked, {k: changes[k] if k != "title" else data["title"] for k in changes},
                    actor=_person(actor), via=via)
    refresh_status(locked)
    return locked


@transaction.atomic
def close_plan(actor, plan: SuccessPlan, *, via: str = "system") -> SuccessPlan:
    locked = _require_plan(actor, plan)
    if locked.closed_on is not None:
        raise ValidationError({"closed_on": _("This plan is already closed.")})
    services.update(locked, {"closed_on": timezone.localdate()}, actor=_person(actor), via=via)
    return locked


# -- objectives and their metrics ---------------------------------------------------------------


def metric_values(account_ids: list[int], metric: str, feature: str, day: dt.date) -> dict[int, float]:
    """Each account's value of a usage metric over the WINDOW_DAYS days up to ``day``."""
    since = day - dt.timedelta(days=WINDOW_DAYS - 1)
    window = {"account_id__in": account_ids, "day__gte": since, "day__lte": day}
    if metric == M.FEATURE:
        rows = UsageFeatureDaily.objects.filter(feature=feature, **window).values("account_id").annotate(v=Sum("events"))
        values = {r["account_id"]: float(r["v"]) for r in rows}
    else:
        rows = UsageDaily.objects.filter(**window).values("account_id")
        if metric == M.ACTIVE_USERS:
            # a mean over the window's days, the days without use counted as 0
            values = {r["account_id"]: float(r["v"]) / WINDOW_DAYS
                      for r in rows.annotate(v=Sum("active_users"))}
        elif metric == M.MINUTES:
            values = {r["account_id"]: round(float(r["v"]), 1) for r in rows.annotate(v=Sum("minutes"))}
        else:
            values = {r["account_id"]: float(r["v"]) for r in rows.annotate(v=Sum("events"))}
    return {a: values.get(a, 0.0) for a in account_ids}


def metric_series(account_id: int, metric: str, feature: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The metric as its objective reads it (over the WINDOW_DAYS days up to a day), at the end of
    each week — every Sunday from the first one on or after ``start`` to the last one by ``end`` —
    so the series and the objective's target are on one scale: (week, value), week its Sunday."""
    first = start + dt.timedelta(days=(6 - start.weekday()))
    last = end - dt.timedelta(days=(end.weekday() + 1) % 7)
    if last < first:
        return pd.DataFrame({"week": [], "value": []})
    since = first - dt.timedelta(days=WINDOW_DAYS - 1)
    if metric == M.FEATURE:
        qs = UsageFeatureDaily.objects.filter(account_id=account_id, feature=feature, day__gte=since, day__lte=last)
        frame = read_frame(qs.order_by().values_list("day", "events"), ["day", "value"])
    else:
        column = {M.ACTIVE_USERS: "active_users", M.MINUTES: "minutes"}.get(metric, "events")
        qs = UsageDaily.objects.filter(account_id=account_id, day__gte=since, day__lte=last)
        frame = read_frame(qs.order_by().values_list("day", column), ["day", "value"])
    days = pd.date_range(since, last, freq="D")
    daily = (frame.assign(day=pd.to_datetime(frame["day"])).groupby("day")["value"].sum().astype(float)
             if not frame.empty else pd.Series(dtype=float))
    window = daily.reindex(days, fill_value=0.0).rolling(WINDOW_DAYS).sum()
    if metric == M.ACTIVE_USERS:
        window = window / WINDOW_DAYS
    sundays = pd.date_range(first, last, freq="W-SUN")
    return pd.DataFrame({"week": sundays.date, "value": window.reindex(sundays).round(1).to_numpy()})


def _check_objective(data: dict, errors: dict) -> None:
    if not (data.get("goal") or "").strip():
        errors["goal"] = _("Say what the customer wants to achieve.")
    if data.get("target") is None:
        errors["target"] = _("Give the measurable target.")
    metric = data.get("metric") or ""
    if metric not in M.values:
        errors["metric"] = _("Unknown metric %(metric)s.") % {"metric": metric}
    elif metric == M.FEATURE and not (data.get("feature") or "").strip():
        errors["feature"] = _("Name the feature whose uses are counted.")
    if not metric and data.get("baseline") is None:
        errors["baseline"] = _("Without a usage metric, give the baseline.")


@transaction.atomic
def add_objective(actor, plan: SuccessPlan, *, goal: str, target: float, unit: str = "", metric: str = "",
                  feature: str = "", baseline: float | None = None, current: float | None = None,
                  via: str = "system", refresh: bool = True) -> Objective:
    """An objective; with a usage metric, its baseline (unless given) is the metric over the 30
    days before the plan starts and its current value is read from usage now."""
    locked = _require_plan(actor, plan)
    data = {"goal": goal, "target": target, "metric": metric or "", "feature": feature or "", "baseline": baseline}
    errors = {}
    _check_objective(data, errors)
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    if metric:
        if baseline is None:
            baseline = metric_values([locked.account_id], metric, feature, locked.starts_on - dt.timedelta(days=1))[
                locked.account_id]
        current = metric_values([locked.account_id], metric, feature, today)[locked.account_id]
    objective = Objective(plan=locked, goal=goal.strip(), target=float(target), unit=(unit or "").strip(),
                          metric=metric or "", feature=(feature or "").strip(), baseline=float(baseline),
                          current=current, current_on=today if current is not None else None,
                          position=locked.objectives.count())
    services.save_new(objective, actor=_person(actor), via=via)
    if refresh:  # False: the caller derives the status once, after a batch of changes
        refresh_status(locked)
    return objective


@transaction.atomic
def update_objective(actor, objective: Objective, changes: dict, *, via: str = "system") -> Objective:
    """Change an objective's goal, target, unit or (without a usage metric) its current value."""
    _require_plan(actor, objective.plan)
    allowed = {"goal", "target", "unit"} | ({"current", "baseline"} if not objective.metric else set())
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError({k: _("This field cannot be changed here.") for k in unknown})
    errors = {}
    _check_objective({"goal": objective.goal, "target": objective.target, "metric": objective.metric,
                      "feature": objective.feature, "baseline": objective.baseline, **changes}, errors)
    if errors:
        raise ValidationError(errors)
    data = dict(changes)
    if "current" in data:
        data["current_on"] = timezone.localdate()
    services.update(objective, data, actor=_person(actor), via=via)
    refresh_status(objective.plan)
    return objective


# -- milestones -------------------------------------------------------------------------------


def _check_milestone(plan: SuccessPlan, data: dict, errors: dict) -> None:
    if not (data.get("title") or "").strip():
        errors["title"] = _("Give the milestone a title.")
    due = data.get("due_on")
    if due is None:
        errors["due_on"] = _("Give the milestone a due date.")
    elif due < plan.starts_on:
        errors["due_on"] = _("The milestone is due on %(due)s, before the plan starts (%(start)s).") % {
            "due": due.isoformat(), "start": plan.starts_on.isoformat()}
    elif plan.ends_on is not None and due > plan.ends_on:
        errors["due_on"] = _("The milestone is due on %(due)s, after the plan ends (%(end)s).") % {
            "due": due.isoformat(), "end": plan.ends_on.isoformat()}
    _check_user(data.get("owner_user"), "owner_user", errors)
    _check_contact(data.get("owner_contact"), plan.account, "owner_contact", errors)


@transaction.atomic
def add_milestone(actor, plan: SuccessPlan, *, title: str, due_on: dt.date, owner_user=None, owner_contact=None,
                  via: str = "system", refresh: bool = True) -> PlanMilestone:
    locked = _require_plan(actor, plan)
    errors = {}
    _check_milestone(locked, {"title": title, "due_on": due_on, "owner_user": owner_user,
                              "owner_contact": owner_contact}, errors)
    if errors:
        raise ValidationError(errors)
    milestone = PlanMilestone(plan=locked, title=title.strip(), due_on=due_on, owner_user=owner_user,
                              owner_contact=owner_contact)
    services.save_new(milestone, actor=_person(actor), via=via)
    if refresh:
        refresh_status(locked)
    return milestone


@transaction.atomic
def complete_milestone(actor, milestone: PlanMilestone, *, on: dt.date | None = None,
                       via: str = "system", refresh: bool = True) -> PlanMilestone:
    locked = _require_plan(actor, milestone.plan)
    today = timezone.localdate()
    on = on or today
    errors = {}
    if milestone.done_on is not None:
        errors["done_on"] = _("This milestone was already done on %(day)s.") % {"day": milestone.done_on.isoformat()}
    elif on > today:
        errors["done_on"] = _("A milestone cannot be done in the future.")
    elif on < locked.starts_on:
        errors["done_on"] = _("A milestone cannot be done before the plan starts (%(day)s).") % {
            "day": locked.starts_on.isoformat()}
    if errors:
        raise ValidationError(errors)
    services.update(milestone, {"done_on": on}, actor=_person(actor), via=via)
    emit("success_plan.milestone_completed", actor=_person(actor), plan_id=locked.pk, milestone_id=milestone.pk,
         account_id=locked.account_id, done_on=on.isoformat())
    if refresh:
        refresh_status(locked)
    return milestone


# -- QBRs ---------------------------------------------------------------------------------------


@transaction.atomic
def record_qbr(actor, plan: SuccessPlan, *, held_on: dt.date, agenda: str, outcomes: str = "",
               contacts=(), users=(), next_steps=(), via: str = "system") -> QBR:
    """A QBR under the plan; each next step ({title, due_on, assignee, contact}) becomes a task on
    the account, made through clm.automation.work."""
    actor = _person(actor)
    locked = _require_plan(actor, plan)
    errors = {}
    if held_on is None:
        errors["held_on"] = _("Give the day the QBR was held.")
    if not (agenda or "").strip():
        errors["agenda"] = _("Write the agenda.")
    contacts, users = list(contacts), list(users)
    for contact in contacts:
        _check_contact(contact, locked.account, "contacts", errors)
    for user in users:
        _check_user(user, "users", errors)
    for n, step in enumerate(next_steps, start=1):
        if not (step.get("title") or "").strip():
            errors["next_steps"] = _("Next step %(n)s has no title.") % {"n": n}
        _check_contact(step.get("contact"), locked.account, "next_steps", errors)
    if errors:
        raise ValidationError(errors)
    qbr = QBR(plan=locked, held_on=held_on, agenda=agenda.strip(), outcomes=(outcomes or "").strip(), created_by=actor)
    services.save_new(qbr, actor=actor, via=via, m2m={"contacts": contacts, "users": users})
    tasks = []
    for step in next_steps:
        due = step.get("due_on")
        due_at = dt.datetime.combine(due, dt.time(18, 0), timezone.get_current_timezone()) if due else None
        tasks.append(work.create_task(actor, title=step["title"], account=locked.account, contact=step.get("contact"),
                                      assignee=step.get("assignee"), due_at=due_at,
                                      note=_("Next step from the QBR of %(day)s.") % {"day": held_on.isoformat()},
                                      via=via))
    if tasks:
        qbr.next_steps.set(tasks)
    emit("qbr.held", actor=actor, qbr_id=qbr.pk, plan_id=locked.pk, account_id=locked.account_id,
         held_on=held_on.isoformat(), next_steps=[t.pk for t in tasks])
    return qbr


# -- status ------------------------------------------------------------------------------------


def _status_of(plan: SuccessPlan, today: dt.date, milestones, objectives) -> tuple[str, dict]:
    return rules.plan_status(
        today, plan.starts_on, plan.ends_on,
        [rules.Milestone(m.due_on, m.done_on) for m in milestones],
        [rules.Goal(o.baseline, o.target, o.current) for o in objectives],
    )


def refresh_status(plan: SuccessPlan, today: dt.date | None = None) -> SuccessPlan:
    refresh_plans(today, [plan.pk])
    plan.refresh_from_db()
    return plan


@transaction.atomic
def refresh_plans(today: dt.date | None = None, plan_ids: list[int] | None = None) -> dict:
    """Read the usage metrics of the open plans' objectives, and derive each plan's status; a
    change is saved with the facts the rule saw and announced (`success_plan.status_changed`)."""
    today = today or timezone.localdate()
    plans = SuccessPlan.objects.filter(closed_on__isnull=True)
    if plan_ids is not None:
        plans = plans.filter(pk__in=plan_ids)
    plans = list(plans.prefetch_related("milestones", "objectives"))
    objectives = [o for p in plans for o in p.objectives.all()]
    by_metric: dict[tuple[str, str], list[Objective]] = {}
    for o in objectives:
        if o.metric:
            by_metric.setdefault((o.metric, o.feature), []).append(o)
    measured = []
    for (metric, feature), group in by_metric.items():
        values = metric_values(sorted({o.plan.account_id for o in group}), metric, feature, today)
        for o in group:
            o.current, o.current_on = values[o.plan.account_id], today
            measured.append(o)
    if measured:
        Objective.objects.bulk_update(measured, ["current", "current_on"], batch_size=1000)
    changed = []
    for plan in plans:
        status, facts = _status_of(plan, today, plan.milestones.all(), plan.objectives.all())
        before = plan.status
        if status != before or facts != plan.status_facts:
            if status != before:
                plan.status_since = today
                changed.append((plan, before, facts))
            plan.status, plan.status_facts = status, facts
            SuccessPlan.objects.filter(pk=plan.pk).update(status=status, status_facts=facts,
                                                          status_since=plan.status_since)
    for plan, before, _facts in changed:
        services.audit.record(None, "system", "update", plan, {"status": [before, plan.status]})
    emit_many("success_plan.status_changed", [
        {"plan_id": p.pk, "account_id": p.account_id, "before": b, "after": p.status, "rule": f["rule"]}
        for p, b, f in changed
    ])
    return {"plans": len(plans), "changed": len(changed), "measured": len(measured)}


def mean_progress(plan: SuccessPlan) -> float | None:
    values = [p for o in plan.objectives.all() if (p := rules.progress(o.baseline, o.target, o.current)) is not None]
    return sum(values) / len(values) if values else None

