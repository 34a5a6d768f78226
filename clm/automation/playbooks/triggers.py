"""Trigger types: what enrolls an account (or a lead) in a playbook.

Event triggers listen to a domain event and turn each event into the subjects it concerns
(``subjects(config, event)``). Daily triggers are evaluated by the daily run over every account at
once (``daily(config, frame, as_of)``, vectorised). Each subject carries a dedupe key: the same
event heard twice, or the daily run run twice, enrolls once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

from clm.analytics import conditions
from clm.automation.playbooks.steps import at, check_whole, unknown_keys


@dataclass(frozen=True)
class Subject:
    account_id: int | None
    dedupe_key: str
    trigger: dict
    lead_id: int | None = None
    contact_id: int | None = None


@dataclass(frozen=True)
class TriggerType:
    name: str
    validate: Callable[[dict, dict], list[str]]
    event: str | None = None  # the domain event it listens to
    subjects: Callable | None = None  # (config, event) -> list[Subject]
    daily: Callable | None = None  # (config, frame, as_of) -> DataFrame[account, dedupe_key, seen]
    fields: list[str] = field(default_factory=list)  # condition fields a daily trigger reads


TRIGGERS: dict[str, TriggerType] = {}


def _register(trigger: TriggerType) -> None:
    TRIGGERS[trigger.name] = trigger


def _keys(config: dict, allowed: set[str]) -> list[str]:
    return unknown_keys(config, allowed, base={"type"})


def _codes(config: dict, name: str, choices) -> list[str]:
    value = config.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return [at(name, _("expected a non-empty list of codes"))]
    reason = _("%(value)s is not one of %(choices)s")
    return [
        at(name, reason % {"value": repr(v), "choices": ", ".join(choices)})
        for v in value
        if v not in choices
    ]


def _whole(config: dict, name: str, *, minimum: int = 0, required: bool = True) -> list[str]:
    return check_whole(config, name, minimum=minimum, required=required)


def _in(value, allowed) -> bool:
    return allowed is None or value in allowed


# -- event triggers -----------------------------------------------------------------------------


def _validate_usage(config, fields):
    problems = _keys(config, {"event", "properties"})
    if not isinstance(config.get("event"), str) or not config.get("event"):
        problems.append(at("event", _("required (the usage event's name)")))
    return problems + _plain_filter(config, "properties")


def _plain_filter(config: dict, name: str) -> list[str]:
    wanted = config.get(name, {})
    if not isinstance(wanted, dict) or not all(
        isinstance(v, str | int | float | bool) for v in wanted.values()
    ):
        return [at(name, _("expected {name: value} with plain values"))]
    return []


def _has(seen: dict, wanted: dict | None) -> bool:
    """Whether the values seen include every name: value the trigger filters on."""
    return all(seen.get(k) == v for k, v in (wanted or {}).items())


def _usage_subjects(config, event):
    props = config.get("properties") or {}
    subjects = []
    for account_id, contact_id, name, properties, key in event.payload.get("events", ()):
        if name != config["event"]:
            continue
        if props:
            seen = json.loads(properties) if isinstance(properties, str) else properties or {}
            if not _has(seen, props):
                continue
        subjects.append(
            Subject(
                account_id,
                f"usage:{account_id}:{key}",
                {"type": "usage_event", "event": name, "key": key},
                contact_id=contact_id,
            )
        )
    return subjects


_register(TriggerType("usage_event", _validate_usage, "usage.events_ingested", _usage_subjects))


def _stage_codes():
    from clm.customers.models import LifecycleStage

    return LifecycleStage.values


def _validate_moves(choices):
    def validate(config, fields):
        return [
            *_keys(config, {"from", "to"}),
            *_codes(config, "from", choices()),
            *_codes(config, "to", choices()),
        ]

    return validate


def _move_subjects(kind):
    def subjects(config, event):
        p = event.payload
        if not (_in(p.get("before"), config.get("from")) and _in(p.get("after"), config.get("to"))):
            return []
        trigger = {"type": kind, "before": p.get("before"), "after": p.get("after"), "on": p.get("on")}
        return [Subject(p["account_id"], f"{kind}:{p['account_id']}:{p.get('on')}:{p.get('after')}", trigger)]

    return subjects


_register(
    TriggerType(
        "stage_changed",
        _validate_moves(_stage_codes),
        "account.stage_changed",
        _move_subjects("stage_changed"),
    )
)
_register(
    TriggerType(
        "health_band_changed",
        _validate_moves(lambda: ["green", "yellow", "red"]),
        "health.band_changed",
        _move_subjects("health_band_changed"),
    )
)


def _validate_signal(config, fields):
    problems = _keys(config, {"kinds"})
    kinds = config.get("kinds")
    if kinds is not None and (not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)):
        problems.append(at("kinds", _("expected a list of signal kinds")))
    return problems


def _signal_subjects(config, event):
    p = event.payload
    if not _in(p.get("kind"), config.get("kinds")):
        return []
    return [
        Subject(
            p["account_id"],
            f"signal:{p['signal_id']}",
            {"type": "signal_opened", "kind": p["kind"], "signal_id": p["signal_id"]},
        )
    ]


_register(TriggerType("signal_opened", _validate_signal, "signal.opened", _signal_subjects))


def _validate_survey(config, fields):
    problems = [*_keys(config, {"kind", "min", "max"})]
    if config.get("kind") not in ("nps", "csat", "ces"):
        problems.append(at("kind", _("expected nps, csat or ces")))
    problems += _whole(config, "min", required=False) + _whole(config, "max", required=False)
    if (
        isinstance(config.get("min"), int)
        and isinstance(config.get("max"), int)
        and config["min"] > config["max"]
    ):
        problems.append(at("min", _("must not be above max")))
    return problems


def _survey_subjects(config, event):
    p = event.payload
    score = p.get("score")
    if p.get("kind") != config["kind"] or score is None:
        return []
    if score < config.get("min", 0) or score > config.get("max", 10):
        return []
    trigger = {"type": "survey_answered", "kind": p["kind"], "score": score, "response_id": p["response_id"]}
    return [Subject(p["account_id"], f"survey:{p['response_id']}", trigger, contact_id=p.get("contact_id"))]


_register(TriggerType("survey_answered", _validate_survey, "survey.answered", _survey_subjects))


def _validate_lead(config, fields):
    return _keys(config, set())


def _lead_subjects(config, event):
    from clm.sales.models import Lead

    lead = Lead.objects.filter(pk=event.payload["lead_id"]).values("account_id", "contact_id").first()
    if lead is None:
        return []
    trigger = {"type": "lead_created", "lead_id": event.payload["lead_id"]}
    return [
        Subject(
            lead["account_id"],
            f"lead:{event.payload['lead_id']}",
            trigger,
            lead_id=event.payload["lead_id"],
            contact_id=lead["contact_id"],
        )
    ]


_register(TriggerType("lead_created", _validate_lead, "lead.created", _lead_subjects))


def _validate_form(config, fields):
    problems = _keys(config, {"form", "fields"})
    if not isinstance(config.get("form"), str) or not config.get("form", "").strip():
        problems.append(at("form", _("required (the form's key)")))
    return problems + _plain_filter(config, "fields")


def _form_subjects(config, event):
    p = event.payload
    if p.get("form") != config["form"] or not _has(p.get("fields") or {}, config.get("fields")):
        return []
    if p.get("account_id") is None and p.get("lead_id") is None:
        return []
    trigger = {"type": "form_submitted", "form": p["form"], "submission_id": p["submission_id"]}
    return [
        Subject(
            p.get("account_id"),
            f"form:{p['submission_id']}",
            trigger,
            lead_id=p.get("lead_id"),
            contact_id=p.get("contact_id"),
        )
    ]


_register(TriggerType("form_submitted", _validate_form, "form.submitted", _form_subjects))


def _validate_feedback(config, fields):
    problems = _keys(config, {"form", "category"})
    for name in ("form", "category"):
        if name in config and (not isinstance(config[name], str) or not config[name].strip()):
            problems.append(at(name, _("expected a non-empty text")))
    return problems


def _feedback_subjects(config, event):
    p = event.payload
    if p.get("account_id") is None:
        return []
    if config.get("form") and p.get("form") != config["form"]:
        return []
    if config.get("category") and (p.get("category") or "").casefold() != config["category"].casefold():
        return []
    trigger = {"type": "feedback_submitted", "form": p.get("form"), "submission_id": p["submission_id"]}
    return [Subject(p["account_id"], f"feedback:{p['submission_id']}", trigger, contact_id=p.get("contact_id"))]


_register(TriggerType("feedback_submitted", _validate_feedback, "feedback.submitted", _feedback_subjects))


def _validate_case(config, fields):
    problems = _keys(config, {"outcome", "case_type"})
    if config.get("outcome") not in (None, "closed_success", "closed_lost"):
        problems.append(at("outcome", _("expected closed_success or closed_lost")))
    return problems


def _case_subjects(config, event):
    p = event.payload
    if not _in(p.get("outcome"), [config["outcome"]] if config.get("outcome") else None):
        return []
    if config.get("case_type") and p.get("type") != config["case_type"]:
        return []
    return [
        Subject(
            p["account_id"],
            f"case:{p['case_id']}",
            {"type": "case_closed", "case_id": p["case_id"], "outcome": p.get("outcome")},
        )
    ]


_register(TriggerType("case_closed", _validate_case, "case.closed", _case_subjects))


def _validate_contact_left(config, fields):
    problems = _keys(config, {"key_person"})
    if not isinstance(config.get("key_person", False), bool):
        problems.append(at("key_person", _("expected true or false")))
    return problems


def _contact_left_subjects(config, event):
    from clm.customers.models import Contact
    from clm.lifecycle.metrics import KEY_ROLES

    p = event.payload
    if config.get("key_person"):
        contact = Contact.objects.filter(pk=p["contact_id"]).values("is_key_person", "role").first()
        if contact is None or not (contact["is_key_person"] or contact["role"] in KEY_ROLES):
            return []
    trigger = {"type": "contact_left", "contact_id": p["contact_id"], "on": p.get("on")}
    return [Subject(p["account_id"], f"contact_left:{p['contact_id']}", trigger)]


_register(TriggerType("contact_left", _validate_contact_left, "contact.left", _contact_left_subjects))


def _validate_manual(config, fields):
    return _keys(config, set())


_register(TriggerType("manual", _validate_manual))


# -- daily triggers (state and dates, all accounts at once) -------------------------------------


def _validate_segment(config, fields):
    problems = _keys(config, {"condition"})
    if "condition" not in config:
        return [*problems, at("condition", _("required (who is in the segment)"))]
    try:
        conditions.validate(config["condition"], fields)
    except conditions.RuleError as error:
        problems.append(f"condition.{error}")
    return problems


def _segment_daily(config, frame, as_of):
    matched = conditions.compile_rule(config["condition"]).matches(frame)
    ids = frame.index[matched.to_numpy()]
    return pd.DataFrame(
        {"account": ids, "dedupe_key": [f"segment:{a}:{as_of}" for a in ids], "seen": as_of.isoformat()}
    )


_register(TriggerType("segment", _validate_segment, daily=_segment_daily))

DATES = ("renewal", "contract_end", "anniversary", "trial_end")


def _validate_date(config, fields):
    problems = _keys(config, {"date", "days_before"})
    if config.get("date") not in DATES:
        problems.append(at("date", _("expected one of %(choices)s") % {"choices": ", ".join(DATES)}))
    return problems + _whole(config, "days_before")


def upcoming_dates(kind: str, as_of: dt.date) -> pd.Series:
    """Per account, the next date of ``kind`` on or after ``as_of`` (one grouped query)."""
    from django.db.models import Min, Q

    from clm.commerce.models import Subscription
    from clm.customers.models import Account

    live = Q(status__in=(Subscription.Status.ACTIVE, Subscription.Status.TRIAL))
    if kind == "anniversary":
        rows = Account.objects.exclude(customer_since=None).values_list("pk", "customer_since")
        frame = pd.DataFrame.from_records(list(rows), columns=["account", "since"])
        if frame.empty:
            return pd.Series(dtype=object)
        since = pd.to_datetime(frame["since"])
        years = as_of.year - since.dt.year
        this_year = _with_year(since, as_of.year)
        next_date = this_year.where(this_year >= pd.Timestamp(as_of), _with_year(since, as_of.year + 1))
        keep = (years >= 1) | (next_date.dt.year > since.dt.year)
        return pd.Series(next_date[keep].dt.date.to_numpy(), index=frame["account"][keep].to_numpy())
    if kind == "renewal":
        rows = Subscription.objects.filter(live).filter(
            Q(renewal_date__gte=as_of) | Q(renewal_date=None, end_date__gte=as_of)
        )
        rows = (
            rows.values("account_id")
            .annotate(on=Min("renewal_date"), end=Min("end_date"))
            .values_list("account_id", "on", "end")
        )
        frame = pd.DataFrame.from_records(list(rows), columns=["account", "on", "end"])
        frame["on"] = frame["on"].fillna(frame["end"])
    else:
        status = Q(status=Subscription.Status.TRIAL) if kind == "trial_end" else live
        rows = (
            Subscription.objects.filter(status, end_date__gte=as_of)
            .values("account_id")
            .annotate(on=Min("end_date"))
        )
        frame = pd.DataFrame.from_records(
            list(rows.values_list("account_id", "on")), columns=["account", "on"]
        )
    frame = frame.dropna(subset=["on"])
    return pd.Series(frame["on"].to_numpy(), index=frame["account"].to_numpy(), dtype=object)


def _with_year(dates: pd.Series, year: int) -> pd.Series:
    # 29 February becomes 28 February in a year without it.
    day = np.where((dates.dt.month == 2) & (dates.dt.day == 29), 28, dates.dt.day)
    return pd.to_datetime(pd.DataFrame({"year": year, "month": dates.dt.month, "day": day}))


def _date_daily(config, frame, as_of):
    # The daily dispatch evaluates several date playbooks on one frame: one query per kind of date.
    known = frame.attrs.setdefault("upcoming_dates", {})
    if (config["date"], as_of) not in known:
        known[(config["date"], as_of)] = upcoming_dates(config["date"], as_of)
    dates = known[(config["date"], as_of)]
    dates = dates[dates.index.isin(frame.index)]
    days = np.array([(d - as_of).days for d in dates], dtype=int)
    hit = (days >= 0) & (days <= config["days_before"])
    ids, on = dates.index[hit], dates[hit]
    return pd.DataFrame(
        {
            "account": ids,
            "dedupe_key": [f"date:{config['date']}:{a}:{d}" for a, d in zip(ids, on, strict=True)],
            "seen": [d.isoformat() for d in on],
        }
    )


_register(TriggerType("date_relative", _validate_date, daily=_date_daily))

INACTIVITY = {"interaction": "days_since_csm_interaction", "usage": "days_since_last_activity"}


def _validate_inactivity(config, fields):
    problems = _keys(config, {"of", "days"})
    if config.get("of") not in INACTIVITY:
        problems.append(at("of", _("expected one of %(choices)s") % {"choices": ", ".join(INACTIVITY)}))
    return problems + _whole(config, "days", minimum=1)


def _inactivity_daily(config, frame, as_of):
    since = frame[INACTIVITY[config["of"]]].to_numpy(dtype=float)
    age = frame["account_age_days"].to_numpy(dtype=float)
    # Never any activity counts once the account itself is old enough to have had some.
    quiet = np.where(np.isnan(since), age >= config["days"], since >= config["days"])
    ids = frame.index[quiet]
    last = ["never" if np.isnan(s) else (as_of - dt.timedelta(days=int(s))).isoformat() for s in since[quiet]]
    return pd.DataFrame(
        {
            "account": ids,
            "dedupe_key": [f"inactive:{config['of']}:{a}:{d}" for a, d in zip(ids, last, strict=True)],
            "seen": last,
        }
    )


_register(
    TriggerType(
        "inactivity",
        _validate_inactivity,
        daily=_inactivity_daily,
        fields=["days_since_csm_interaction", "days_since_last_activity", "account_age_days"],
    )
)


def event_names() -> set[str]:
    return {t.event for t in TRIGGERS.values() if t.event}


def needs(trigger: dict) -> list[str]:
    """The condition fields a daily trigger reads."""
    kind = TRIGGERS[trigger["type"]]
    if kind.name == "segment":
        return conditions.metrics_of(trigger["condition"])
    return list(kind.fields)
