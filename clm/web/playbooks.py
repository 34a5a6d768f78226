"""The playbook pages' read model: a playbook's trigger, conditions and steps in words, in the
user's language, and the figures drawn on them (enrollments per status and per step, uplift).
The engine's documents hold codes and keys; nothing here decides what a playbook does."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from clm.automation.models import Enrollment, Playbook
from clm.automation.playbooks import outcomes
from clm.automation.playbooks.steps import localized
from clm.customers.models import LifecycleStage
from clm.web.labels import BAND_LABELS
from clm.web.templatetags.workspace import person

STEP_TYPES = {
    "send_email": gettext_lazy("Send an email"),
    "create_task": gettext_lazy("Create a task"),
    "open_case": gettext_lazy("Open a case"),
    "change_stage": gettext_lazy("Change the stage"),
    "change_owner": gettext_lazy("Change an owner"),
    "change_tags": gettext_lazy("Change tags"),
    "change_field": gettext_lazy("Change a field"),
    "loyalty_points": gettext_lazy("Loyalty points"),
    "enroll": gettext_lazy("Enroll in another playbook"),
    "webhook": gettext_lazy("Call a webhook"),
    "robot": gettext_lazy("Notify a group robot"),
    "wait": gettext_lazy("Wait"),
    "branch": gettext_lazy("Branch"),
}

TRIGGER_TYPES = {
    "usage_event": gettext_lazy("a usage event is received"),
    "stage_changed": gettext_lazy("the lifecycle stage changes"),
    "health_band_changed": gettext_lazy("the health band changes"),
    "signal_opened": gettext_lazy("an early-warning signal opens"),
    "survey_answered": gettext_lazy("a survey is answered"),
    "lead_created": gettext_lazy("a lead is created"),
    "form_submitted": gettext_lazy("a form is submitted"),
    "feedback_submitted": gettext_lazy("feedback is submitted"),
    "case_closed": gettext_lazy("a case is closed"),
    "contact_left": gettext_lazy("a contact leaves the company"),
    "manual": gettext_lazy("someone enrolls accounts by hand"),
    "segment": gettext_lazy("an account meets a condition (checked every day)"),
    "date_relative": gettext_lazy("a date comes near"),
    "inactivity": gettext_lazy("an account goes quiet"),
    "onboarding_milestone_completed": gettext_lazy("an onboarding milestone is reached"),
    "onboarding_activated": gettext_lazy("a new customer completes its onboarding"),
    "success_plan_status_changed": gettext_lazy("a success plan's status changes"),
}

DATES = {
    "renewal": gettext_lazy("the renewal"),
    "contract_end": gettext_lazy("the contract end"),
    "anniversary": gettext_lazy("the customer anniversary"),
    "trial_end": gettext_lazy("the trial end"),
}

PEOPLE = {"sales_owner": pgettext_lazy("playbook", "the sales owner"), "csm": pgettext_lazy("playbook", "the CSM")}
PRIORITIES = {"low": gettext_lazy("Low"), "normal": gettext_lazy("Normal"), "high": gettext_lazy("High"), "urgent": gettext_lazy("Urgent")}
CASE_TYPES = {
    "risk": gettext_lazy("risk"), "win_back": gettext_lazy("win-back"), "renewal": gettext_lazy("renewal"), "expansion": gettext_lazy("expansion"),
    "onboarding": gettext_lazy("onboarding"), "feedback": gettext_lazy("feedback"), "other": gettext_lazy("other"),
}
HAPPENED = {
    "email_opened": gettext_lazy("the email of step %(step)s was opened"),
    "email_clicked": gettext_lazy("the email of step %(step)s was clicked"),
    "task_done": gettext_lazy("the task of step %(step)s is done"),
    "case_closed_success": gettext_lazy("the case of step %(step)s closed successfully"),
}
OUTCOMES = {
    "retained": gettext_lazy("retained"), "renewed": gettext_lazy("renewed"), "expanded": gettext_lazy("expanded"),
    "reactivated": gettext_lazy("reactivated"), "converted": gettext_lazy("converted"),
}
STATUSES = {
    "active": gettext_lazy("in progress"), "completed": gettext_lazy("completed"), "exited": gettext_lazy("exited"), "failed": gettext_lazy("failed"),
    "pending": gettext_lazy("waiting"), "running": gettext_lazy("running"), "done": gettext_lazy("done"), "skipped": gettext_lazy("skipped"),
}
EVENTS = {
    "task.completed": gettext_lazy("a task is completed"),
    "case.closed": gettext_lazy("a case is closed"),
    "email.opened": gettext_lazy("an email is opened"),
    "email.clicked": gettext_lazy("an email link is clicked"),
    "survey.answered": gettext_lazy("a survey is answered"),
    "feedback.submitted": gettext_lazy("feedback is submitted"),
    "interaction.logged": gettext_lazy("an interaction is logged"),
    "ticket.opened": gettext_lazy("a ticket is opened"),
    "account.stage_changed": gettext_lazy("the lifecycle stage changes"),
    "health.band_changed": gettext_lazy("the health band changes"),
    "signal.opened": gettext_lazy("an early-warning signal opens"),
    "usage.events_ingested": gettext_lazy("usage is received"),
    "subscription.changed": gettext_lazy("a contract changes"),
}

# What a condition reads, named as a CSM would say it.
FIELDS = {
    "health_score": gettext_lazy("health score"), "health_band": gettext_lazy("health band"), "lifecycle_stage": gettext_lazy("lifecycle stage"),
    "days_in_stage": gettext_lazy("days in the stage"), "tier": gettext_lazy("value tier"), "clv": gettext_lazy("customer lifetime value"),
    "account_age_days": gettext_lazy("days since the account was created"),
    "reactivation_potential": gettext_lazy("reactivation potential (dormant customers, 0–100)"),
    "advocate": gettext_lazy("on the advocates list (a healthy, high-value promoter)"), "sales_owner": gettext_lazy("sales owner"),
    "csm": gettext_lazy("CSM"), "has_sales_owner": gettext_lazy("has a sales owner"), "has_csm": gettext_lazy("has a CSM"),
    "active_days_30d": gettext_lazy("active days in the last 30 days"),
    "active_days_30d_vs_baseline": gettext_lazy("change of active days against the baseline"),
    "logins_30d": gettext_lazy("logins in the last 30 days"), "logins_30d_vs_baseline": gettext_lazy("change of logins against the baseline"),
    "logins_30d_vs_peak": gettext_lazy("change of logins against the busiest 30 days of the five months before"),
    "core_minutes_30d_vs_baseline": gettext_lazy("change of core-feature time against the baseline"),
    "core_feature_share": gettext_lazy("share of core features used"), "seat_utilisation": gettext_lazy("seat utilisation"),
    "days_since_last_activity": gettext_lazy("days since the last activity"), "tickets_30d": gettext_lazy("tickets in the last 30 days"),
    "complaints_90d": gettext_lazy("complaints in the last 90 days"), "nps_latest": gettext_lazy("latest NPS"), "csat_latest": gettext_lazy("latest CSAT"),
    "days_since_csm_interaction": gettext_lazy("days since our last interaction"),
    "key_contacts_left_90d": gettext_lazy("key people who left in 90 days"), "mrr": gettext_lazy("MRR"),
    "days_to_renewal": gettext_lazy("days to renewal"), "overdue_days_max": gettext_lazy("days the oldest invoice is overdue"),
    "days_since_last_purchase": gettext_lazy("days since the last purchase"), "customer_ever": gettext_lazy("has been a customer"),
    "industry": gettext_lazy("industry"), "region": gettext_lazy("region"), "signals_firing": gettext_lazy("early-warning signals firing"),
    "tenure_days": gettext_lazy("days as a customer"), "employee_count": gettext_lazy("employees"), "plan": gettext_lazy("plan"),
}
SYMBOLS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}


def field_name(key: str) -> str:
    if key in FIELDS:
        return str(FIELDS[key])
    if key.startswith("custom."):
        return _("custom field “%(name)s”") % {"name": key[7:]}
    return _("a metric")


def _value(key: str, value) -> str:
    if key == "health_band" and value in BAND_LABELS:
        return str(BAND_LABELS[value])
    if key == "lifecycle_stage" and value in LifecycleStage.values:
        return str(LifecycleStage(value).label)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def condition_words(rule) -> str:
    """A condition rule (clm.analytics.conditions) as a sentence: 健康度 < 60 且 …"""
    if not rule:
        return ""
    if "not" in rule:
        return _("not (%(rule)s)") % {"rule": condition_words(rule["not"])}
    for group, joiner in (("all", _(" and ")), ("any", _(" or "))):
        if group in rule:
            return joiner.join(
                f"({condition_words(c)})" if ("all" in c or "any" in c) else condition_words(c) for c in rule[group]
            )
    key, op, value = rule.get("metric", ""), rule.get("op"), rule.get("value")
    name = field_name(key)
    if op == "is_null":
        return (_("%(name)s is unknown") if value in (None, True) else _("%(name)s is known")) % {"name": name}
    if op == "between":
        return _("%(name)s between %(low)s and %(high)s") % {"name": name, "low": value[0], "high": value[1]}
    if op == "in":
        return _("%(name)s is one of %(values)s") % {"name": name, "values": _("、").join(_value(key, v) for v in value)}
    return f"{name} {SYMBOLS.get(op, op)} {_value(key, value)}"


def trigger_words(trigger: dict) -> str:
    kind = trigger.get("type", "")
    base = str(TRIGGER_TYPES.get(kind, _("an event")))
    if kind == "segment":
        return _("Every day, accounts where %(rule)s") % {"rule": condition_words(trigger.get("condition"))}
    if kind == "date_relative":
        return ngettext("%(days)d day before %(date)s", "%(days)d days before %(date)s", trigger.get("days_before", 0)) % {
            "days": trigger.get("days_before", 0), "date": DATES.get(trigger.get("date"), "")}
    if kind == "inactivity":
        what = _("no interaction") if trigger.get("of") == "interaction" else _("no usage")
        return ngettext("%(what)s for %(days)d day", "%(what)s for %(days)d days", trigger.get("days", 0)) % {
            "what": what, "days": trigger.get("days", 0)}
    if kind in ("stage_changed", "health_band_changed"):
        labels = (lambda c: str(BAND_LABELS.get(c, c))) if kind == "health_band_changed" else (
            lambda c: str(LifecycleStage(c).label) if c in LifecycleStage.values else c)
        parts = [base]
        if trigger.get("from"):
            parts.append(_("from %(list)s") % {"list": _("、").join(labels(c) for c in trigger["from"])})
        if trigger.get("to"):
            parts.append(_("to %(list)s") % {"list": _("、").join(labels(c) for c in trigger["to"])})
        return " ".join(parts)
    if kind == "form_submitted" and trigger.get("form"):
        return _("Form %(form)s is submitted") % {"form": trigger["form"]}
    if kind == "survey_answered" and trigger.get("kind"):
        return _("%(kind)s answered with a score from %(min)s to %(max)s") % {
            "kind": trigger["kind"].upper(), "min": trigger.get("min", 0), "max": trigger.get("max", 10)}
    return base[:1].upper() + base[1:]


def _who(spec, users: dict) -> str:
    if isinstance(spec, dict):
        user = users.get(spec.get("user"))
        return person(user) if user else str(spec.get("user", ""))
    return str(PEOPLE.get(spec, spec))


def _days(n) -> str:
    return ngettext("%(n)d day", "%(n)d days", n) % {"n": n} if isinstance(n, int) else str(n)


@dataclass
class StepView:
    index: int  # 0-based
    id: str
    type: str
    config: dict
    type_name: str
    words: str
    label: str  # "第 2 步 · 等待"
    at_step: int = 0
    arrows: list[tuple[str, str, str]] = field(default_factory=list)  # (yes/no, words, anchor)
    arrives_from: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def step_label(index: int, step: dict) -> str:
    name = localized(step.get("name"), _lang()) if step.get("name") else STEP_TYPES.get(step.get("type"), "")
    return _("Step %(n)d · %(name)s") % {"n": index + 1, "name": name}


def _lang() -> str:
    from django.utils.translation import get_language

    return (get_language() or "zh")[:2]


def step_words(step: dict, labels: dict[str, str], users: dict) -> str:
    kind, lang = step.get("type"), _lang()
    text = lambda name: localized(step.get(name), lang)  # noqa: E731
    if kind == "wait":
        for unit, word in (("days", _days), ("hours", lambda n: ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}),
                           ("minutes", lambda n: ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n})):
            if isinstance(step.get(unit), int):
                return word(step[unit])
        if step.get("until"):
            return _("until %(date)s") % {"date": step["until"]}
        if step.get("event"):
            return _("until %(event)s, at most %(days)s") % {
                "event": EVENTS.get(step["event"], _("an event")), "days": _days(step.get("timeout_days"))}
        return _("no end set")
    if kind == "create_task":
        words = _("a task for %(who)s: %(title)s") % {"who": _who(step.get("assignee"), users), "title": text("title")}
        if isinstance(step.get("due_days"), int):
            words += _(", due in %(days)s") % {"days": _days(step["due_days"])}
        return words
    if kind == "open_case":
        return _("a %(type)s case for %(who)s: %(reason)s") % {
            "type": CASE_TYPES.get(step.get("case_type"), ""), "who": _who(step.get("owner"), users), "reason": text("reason")}
    if kind == "change_stage":
        stage = step.get("stage")
        return _("set the stage to %(stage)s") % {"stage": LifecycleStage(stage).label if stage in LifecycleStage.values else stage}
    if kind == "change_owner":
        return _("make %(user)s %(role)s") % {"user": _who({"user": step.get("user")}, users), "role": PEOPLE.get(step.get("role"), "")}
    if kind == "change_tags":
        parts = []
        if step.get("add"):
            parts.append(_("add tags %(tags)s") % {"tags": _("、").join(step["add"])})
        if step.get("remove"):
            parts.append(_("remove tags %(tags)s") % {"tags": _("、").join(step["remove"])})
        return _("; ").join(parts)
    if kind == "change_field":
        return _("set %(field)s to %(value)s") % {"field": field_name(step.get("field", "")), "value": step.get("value")}
    if kind == "loyalty_points":
        points = step.get("points") or 0
        return (_("add %(n)s points") if isinstance(points, int) and points > 0 else _("redeem %(n)s points")) % {
            "n": abs(points) if isinstance(points, int) else points}
    if kind == "enroll":
        return _("enroll in “%(name)s”") % {"name": labels.get(f"playbook:{step.get('playbook')}", step.get("playbook"))}
    if kind == "send_email":
        return _("send the email “%(name)s”") % {"name": step.get("template")}
    if kind == "webhook":
        return _("call the webhook “%(name)s”") % {"name": step.get("endpoint")}
    if kind == "robot":
        return _("notify the robot “%(name)s”: %(title)s") % {"name": step.get("robot"), "title": text("title")}
    if kind == "branch":
        test = step.get("if") or {}
        if "happened" in test:
            phrase = HAPPENED.get(test["happened"], _("something happened"))
            return _("if %(test)s") % {"test": phrase % {"step": labels.get(test.get("step"), "")}}
        return _("if %(test)s") % {"test": condition_words(test.get("condition"))}
    return ""


def steps_view(definition: dict, at_step: dict[str, int] | None = None) -> list[StepView]:
    steps = definition.get("steps") or []
    at_step = at_step or {}
    labels = {s.get("id"): _("step %(n)d") % {"n": i + 1} for i, s in enumerate(steps)}
    labels["end"] = _("the end")
    keys = {s.get("playbook") for s in steps if s.get("type") == "enroll"}
    labels.update({f"playbook:{k}": n for k, n in _playbook_names(keys).items()})
    names = set()
    for s in steps:
        for spec in (s.get("assignee"), s.get("owner")):
            if isinstance(spec, dict):
                names.add(spec.get("user"))
        if s.get("type") == "change_owner":
            names.add(s.get("user"))
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[n for n in names if isinstance(n, str)])}
    views = []
    for i, step in enumerate(steps):
        view = StepView(i, step.get("id", ""), step.get("type", ""), step, str(STEP_TYPES.get(step.get("type"), "")),
                        step_words(step, labels, users), step_label(i, step), at_step.get(step.get("id"), 0))
        if step.get("type") == "branch":
            for word, target in ((_("yes"), step.get("then")), (_("no"), step.get("else", "end"))):
                view.arrows.append((word, labels.get(target, ""), f"step-{target}" if target != "end" else "flow-end"))
        views.append(view)
    by_id = {v.id: v for v in views}
    for v in views:
        for word, _words, anchor in v.arrows:
            target = by_id.get(anchor.removeprefix("step-"))
            if target is not None:
                target.arrives_from.append(_("“%(answer)s” from %(step)s") % {"answer": word, "step": labels[v.id]})
    return views


def _playbook_names(keys) -> dict[str, str]:
    lang = _lang()
    return {k: (zh if lang == "zh" else en) for k, zh, en in
            Playbook.objects.filter(key__in=[k for k in keys if isinstance(k, str)]).values_list("key", "name_zh", "name_en")}


def name(playbook: Playbook) -> str:
    return playbook.name_zh if _lang() == "zh" else playbook.name_en


def uplift_words(report: dict) -> str:
    if report.get("too_small") or report.get("difference") is None:
        return _("too few matured enrollments to tell yet (%(treated)d treated, %(held)d held out)") % {
            "treated": report.get("treated", 0), "held": report.get("held_out", 0)}
    values = {"d": f"{report['difference']:+.1%}", "low": f"{report['low']:+.1%}", "high": f"{report['high']:+.1%}"}
    if report["low"] > 0:
        return _("the play helps: %(d)s (95%% interval %(low)s to %(high)s)") % values
    if report["high"] < 0:
        return _("the play hurts: %(d)s (95%% interval %(low)s to %(high)s)") % values
    return _("no difference shown: %(d)s (95%% interval %(low)s to %(high)s includes 0)") % values


@dataclass
class Row:
    playbook: Playbook
    name: str
    trigger: str
    counts: dict[str, int]
    uplift: str


def rows() -> list[Row]:
    """The list page: one grouped query for every playbook's enrollment counts; the uplift report
    only for playbooks that held someone out (without a holdout there is nothing to compare)."""
    playbooks = list(Playbook.objects.prefetch_related("versions"))
    counts = {
        r["playbook"]: r
        for r in Enrollment.objects.values("playbook").annotate(
            enrolled=Count("id"),
            active=Count("id", filter=Q(status=Enrollment.Status.ACTIVE)),
            completed=Count("id", filter=Q(status=Enrollment.Status.COMPLETED)),
            held=Count("id", filter=Q(held_out=True)),
        ).order_by()
    }
    found = []
    for p in playbooks:
        c = counts.get(p.pk, {"enrolled": 0, "active": 0, "completed": 0, "held": 0})
        versions = list(p.versions.all())
        current = max(versions, key=lambda v: v.number) if versions else None
        trigger = trigger_words(current.definition.get("trigger", {})) if current else ""
        verdict = uplift_words(outcomes.report(p)) if c["held"] else ""
        found.append(Row(p, name(p), trigger, c, verdict))
    return found


def at_steps(playbook: Playbook) -> dict[str, int]:
    return dict(
        playbook.enrollments.filter(status=Enrollment.Status.ACTIVE)
        .values_list("current_step").annotate(n=Count("id")).order_by()
    )
