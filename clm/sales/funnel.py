"""The lead funnel's operations: engagement recorded, leads moved forward when their criteria hold
(or by hand, with a reason), every move recorded and said (`lead.stage_changed`), ICPs and the
scoring settings edited by managers. Assignment is clm.sales.assignment, conversion
clm.sales.conversion."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import audit, events
from clm.core import services as core_services
from clm.core.access import visible_records
from clm.core.bulk import in_batches
from clm.core.events import listen
from clm.core.services import Written, write_rule
from clm.customers.models import Contact
from clm.sales import scoring
from clm.sales.models import ICP, Lead, LeadActivity, LeadScoring, LeadStageChange

ORDER = [Lead.Status.MAL, Lead.Status.MQL, Lead.Status.SQL, Lead.Status.OPPORTUNITY, Lead.Status.CONVERTED]
STAMP = {"mql": "mql_at", "sql": "sql_at", "opportunity": "opportunity_at", "converted": "converted_at",
         "disqualified": "disqualified_at"}
ACTIONS = ("demo_requested", "pricing_requested", "meeting_held", "trial_started")


def visible_lead(user, pk) -> Lead:
    lead = visible_records(Lead, user).filter(pk=pk).first() if user is not None else Lead.objects.filter(pk=pk).first()
    if lead is None:
        raise ValidationError({"lead": _("No lead %(id)s among the leads you may see.") % {"id": pk}})
    return lead


def _may_work(actor, lead: Lead | None = None) -> None:
    if actor is not None and not actor.has_perm("sales.change_lead"):
        raise PermissionDenied(_("You may not work on leads."))


def _record_move(lead: Lead, to: str, *, actor, reason: str, criteria: dict, now, via: str) -> LeadStageChange:
    before = lead.status
    lead.status = to
    stamp = STAMP.get(to)
    fields = ["status", "updated_at"]
    if stamp and getattr(lead, stamp) is None:
        setattr(lead, stamp, now)
        fields.append(stamp)
    if actor is not None and getattr(actor, "pk", None):
        lead.touched_at = now
        fields.append("touched_at")
    lead.save(update_fields=fields)
    change = LeadStageChange.objects.create(
        lead=lead, from_status=before, to_status=to, changed_at=now,
        changed_by=actor if getattr(actor, "pk", None) else None, reason=reason[:300], criteria=criteria,
    )
    audit.record(actor, via, "update", lead, {"status": [before, to], "reason": [None, reason]})
    events.emit("lead.stage_changed", actor=actor, lead_id=lead.pk, before=before, after=to, reason=reason,
                automatic=not criteria.get("by_hand", False))
    return change


# -- engagement -------------------------------------------------------------------------------------


@transaction.atomic
def record_activity(actor, lead: Lead, *, kind: str, name: str = "", at: dt.datetime | None = None,
                    key: str = "", via: str = "system") -> LeadActivity | None:
    """One engagement of a lead (None when ``key`` was recorded already); rescored and moved
    forward at once if its criteria now hold."""
    if actor is not None and not actor.has_perm("sales.add_leadactivity"):
        raise PermissionDenied(_("You may not record lead activity."))
    if kind not in LeadActivity.Kind.values:
        raise ValidationError({"kind": _("Unknown activity %(kind)s: use one of %(kinds)s.")
                               % {"kind": kind, "kinds": ", ".join(LeadActivity.Kind.values)}})
    at = at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"at": _("An activity cannot happen in the future.")})
    if key and LeadActivity.objects.filter(key=key).exists():
        return None
    activity = LeadActivity.objects.create(lead=lead, kind=kind, name=(name or "")[:200], at=at, key=key[:200])
    audit.record(actor, via, "create", lead, {"activity": [None, f"{kind} {name}".strip()]})
    scoring.score_leads([lead.pk], actor=actor)
    advance_leads([lead.pk])
    return activity


# -- automatic moves ----------------------------------------------------------------------------------


def advance_leads(ids=None, *, now=None) -> int:
    """Move open leads forward while their stages' entry criteria hold; returns how many moved."""
    import numpy as np

    from clm.analytics import funnel

    now = now or timezone.now()
    settings = scoring.scoring_settings()
    queryset = Lead.objects.filter(status__in=[Lead.Status.MAL, Lead.Status.MQL])
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    rows = list(queryset.values_list("pk", "status", "fit_score", "icp_score", "engagement_score", "actions"))
    if not rows:
        return 0
    fit = [f if f is not None else (i if i is not None else np.nan) for _pk, _s, f, i, _e, _a in rows]
    target = funnel.reached([r[1] for r in rows], fit, [r[4] for r in rows], [set(r[5] or ()) for r in rows],
                            settings.criteria or scoring.DEFAULT_CRITERIA)
    moves = [(row, to) for row, to in zip(rows, target, strict=True) if to != row[1]]
    with transaction.atomic():
        for batch in in_batches(moves, 1000):
            leads = Lead.objects.in_bulk([row[0] for row, _to in batch])
            for (pk, before, _f, _i, engagement, _a), to in batch:
                lead = leads[pk]
                path = ORDER[ORDER.index(before) + 1: ORDER.index(to) + 1]
                seen = {"fit": scoring.shown_fit(lead), "engagement": engagement, "actions": lead.actions}
                for step in path:
                    _record_move(lead, step, actor=None, reason=_("Entry criteria met"), criteria=seen, now=now,
                                 via="system")
    return len(moves)


# -- moves by hand ------------------------------------------------------------------------------------


def criteria_hold(lead: Lead, to: str, settings: LeadScoring | None = None) -> list[str]:
    """What a lead lacks to enter stage ``to`` by its criteria, in words (empty: nothing)."""
    settings = settings or scoring.scoring_settings()
    rule = (settings.criteria or scoring.DEFAULT_CRITERIA).get(to)
    if not rule:
        return []
    missing, fit = [], scoring.shown_fit(lead)
    if (fit or 0) < rule.get("min_fit", 0):
        missing.append(_("fit %(have)s below %(need)s") % {"have": _n(fit), "need": rule["min_fit"]})
    if lead.engagement_score < rule.get("min_engagement", 0):
        missing.append(_("engagement %(have)s below %(need)s")
                       % {"have": _n(lead.engagement_score), "need": rule["min_engagement"]})
    wanted = set(rule.get("actions") or ())
    if wanted and not wanted & set(lead.actions or ()):
        missing.append(_("none of the actions %(actions)s") % {"actions": ", ".join(action_label(a) for a in sorted(wanted))})
    return missing


def _n(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def action_label(code: str) -> str:
    return {
        "demo_requested": _("demo requested"), "pricing_requested": _("pricing requested"),
        "meeting_held": _("meeting held"), "trial_started": _("trial started"),
    }.get(code, code)


@transaction.atomic
def move_lead(actor, lead: Lead, to: str, *, reason: str = "", via: str = "web") -> LeadStageChange:
    """Move a lead by hand. Forward past criteria that do not hold, back, or out (disqualified)
    needs a reason; opportunity and customer are reached by converting and winning, not here."""
    _may_work(actor, lead)
    reason = (reason or "").strip()
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    allowed = [Lead.Status.MAL, Lead.Status.MQL, Lead.Status.SQL, Lead.Status.DISQUALIFIED]
    if to not in allowed:
        raise ValidationError({"to": _("A lead reaches %(stage)s by conversion, not by a move.")
                               % {"stage": Lead.Status(to).label if to in Lead.Status.values else to}})
    if lead.status in (Lead.Status.OPPORTUNITY, Lead.Status.CONVERTED):
        raise ValidationError({"to": _("This lead is converted already; work on its account and deal.")})
    if to == lead.status:
        raise ValidationError({"to": _("The lead is in this stage already.")})
    missing = criteria_hold(lead, to) if to in (Lead.Status.MQL, Lead.Status.SQL) else []
    backwards = to == Lead.Status.DISQUALIFIED or (
        lead.status != Lead.Status.DISQUALIFIED and ORDER.index(to) < ORDER.index(lead.status)
    )
    if (missing or backwards) and not reason:
        why = "; ".join(missing) if missing else _("the move is backwards or out of the funnel")
        raise ValidationError({"reason": _("Give a reason: %(why)s.") % {"why": why}})
    if len(reason) > 300:
        raise ValidationError({"reason": _("At most 300 characters.")})
    if to == Lead.Status.DISQUALIFIED:
        lead.disqualify_reason = reason[:200]
        lead.save(update_fields=["disqualify_reason"])
    seen = {"fit": scoring.shown_fit(lead), "engagement": lead.engagement_score, "by_hand": True, "missing": missing}
    return _record_move(lead, to, actor=actor, reason=reason or _("Entry criteria met"), criteria=seen,
                        now=timezone.now(), via=via)


@transaction.atomic
def set_actions(actor, lead: Lead, actions: list[str], *, via: str = "web") -> Lead:
    """The explicit actions a lead has taken (a demo requested, a meeting held ...)."""
    _may_work(actor, lead)
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise ValidationError({"actions": _("Unknown action %(action)s: use %(actions)s.")
                               % {"action": unknown[0], "actions": ", ".join(ACTIONS)}})
    before = list(lead.actions)
    lead.actions = sorted(set(actions))
    lead.touched_at = timezone.now()
    lead.save(update_fields=["actions", "touched_at", "updated_at"])
    audit.record(actor, via, "update", lead, {"actions": [before, lead.actions]})
    advance_leads([lead.pk])
    return lead


# -- ICPs and the settings ---------------------------------------------------------------------------


@transaction.atomic
def save_icp(actor, data: dict, icp: ICP | None = None, *, via: str = "web") -> ICP:
    """Create or change an ICP; its rules are checked (clm.analytics.fit.check_rules), and the
    open leads are rescored once it is saved (the write rule below, for the API's writes too)."""
    if actor is not None and not actor.has_perm("sales.change_icp" if icp else "sales.add_icp"):
        raise PermissionDenied(_("Only managers and marketing may edit ideal customer profiles."))
    from clm.sales.reports import rule_problems  # reports reads this module's criteria

    problems = rule_problems(data.get("rules", icp.rules if icp else None))
    if problems:
        raise ValidationError({"rules": problems})
    if icp is None:
        return core_services.create(ICP, data, actor=actor, via=via)
    return core_services.update(icp, data, actor=actor, via=via)


@write_rule(ICP)
def rescore_for_icp(written: Written) -> None:
    transaction.on_commit(lambda: scoring.score_leads())


@transaction.atomic
def save_scoring(actor, *, half_life_days: int, points: dict, criteria: dict, stale_days: int,
                 via: str = "web") -> LeadScoring:
    if actor is not None and not actor.has_perm("sales.change_leadscoring"):
        raise PermissionDenied(_("Only managers and marketing may change lead scoring."))
    problems = {}
    if not 1 <= int(half_life_days) <= 365:
        problems["half_life_days"] = _("Between 1 and 365 days.")
    bad = [k for k, v in points.items() if k not in LeadActivity.Kind.values or not isinstance(v, int | float) or v < 0]
    if bad:
        problems["points"] = _("Unknown activity or negative points: %(kinds)s.") % {"kinds": ", ".join(bad)}
    for stage, rule in criteria.items():
        if stage not in ("mql", "sql") or not isinstance(rule, dict):
            problems["criteria"] = _("Criteria are set for mql and sql only.")
        elif set(rule.get("actions") or ()) - set(ACTIONS):
            problems["criteria"] = _("Unknown action in the %(stage)s criteria.") % {"stage": stage.upper()}
    if problems:
        raise ValidationError(problems)
    settings = scoring.scoring_settings()
    before = audit.snapshot(settings)
    settings.half_life_days, settings.points, settings.criteria, settings.stale_days = (
        half_life_days, points, criteria, stale_days)
    settings.save()
    audit.record(actor, via, "update", settings, audit.diff(before, audit.snapshot(settings)))
    return settings


# -- writes through the generic paths (API, imports, admin) -----------------------------------------


@write_rule(Lead)
def new_leads_scored(written: Written) -> None:
    """A lead created anywhere is scored (and assigned, clm.sales.assignment) at once; a status
    changed through a generic write is recorded in the stage history like any move."""
    moves = written.moved("status")
    if moves:
        LeadStageChange.objects.bulk_create([
            LeadStageChange(lead_id=pk, from_status=before or "", to_status=after, changed_at=written.now,
                            changed_by=written.human_actor, reason=_("Edited"), criteria={"by_hand": True})
            for pk, before, after, _row in moves
        ])
        events.emit_many("lead.stage_changed", [
            {"lead_id": pk, "before": before, "after": after, "reason": "edited", "automatic": False}
            for pk, before, after, _row in moves
        ], actor=written.human_actor)
    if written.created:
        scoring.score_leads(written.created, now=written.now)


# -- engagement heard from the other channels ---------------------------------------------------------


@listen("email.opened", "email.clicked", "form.submitted")
def engagement_heard(event) -> None:
    """An email the lead's contact opened or clicked, a form the lead sent: engagement of the open
    leads of that person (by the lead itself, its contact, or the contact's email)."""
    payload = event.payload
    kind = {"email.opened": "email_open", "email.clicked": "email_click", "form.submitted": "form"}[event.name]
    leads = Lead.objects.filter(status__in=[Lead.Status.MAL, Lead.Status.MQL, Lead.Status.SQL])
    if payload.get("lead_id"):
        leads = leads.filter(pk=payload["lead_id"])
    elif payload.get("contact_id"):
        email = Contact.objects.filter(pk=payload["contact_id"]).values_list("email", flat=True).first()
        match = Q(contact_id=payload["contact_id"])
        if email:
            match |= Q(email__iexact=email)
        leads = leads.filter(match)
    else:
        return
    name = payload.get("form") or payload.get("template") or ""
    source = payload.get("submission_id") or payload.get("delivery_id")
    for lead in leads[:20]:
        key = f"{event.name}:{source}:{lead.pk}" + (f":{payload.get('url')}" if event.name == "email.clicked" else "")
        record_activity(None, lead, kind=kind, name=name, key=key[:200])
