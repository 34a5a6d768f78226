"""Who works each lead: assignment rules in order (round robin, by territory, by industry, by ICP),
each rep's capacity of open leads, reassignment of leads left untouched, and assignment by hand."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import audit, events
from clm.core.access import visible_records
from clm.core.bulk import save_fields
from clm.sales import scoring
from clm.sales.models import AssignmentRule, Lead


def _open_load() -> dict[int, int]:
    return dict(
        Lead.objects.filter(status__in=scoring.OPEN, owner__isnull=False)
        .values_list("owner_id").annotate(n=Count("pk")).order_by()
    )


def _matches(rule: AssignmentRule, lead: Lead, icp_keys: dict[int, str]) -> bool:
    wanted = {str(v).strip().lower() for v in rule.values or ()}
    if rule.kind == AssignmentRule.Kind.ROUND_ROBIN:
        return True
    value = {
        AssignmentRule.Kind.TERRITORY: lead.region,
        AssignmentRule.Kind.INDUSTRY: lead.industry,
        AssignmentRule.Kind.ICP: icp_keys.get(lead.icp_id, ""),
    }[rule.kind]
    return (value or "").strip().lower() in wanted


def _next_rep(rule: AssignmentRule, reps: list[int], load: dict[int, int], skip: int | None) -> int | None:
    """The rep after the rule's last one (round robin) with room below the capacity."""
    if not reps:
        return None
    start = reps.index(rule.last_rep_id) + 1 if rule.last_rep_id in reps else 0
    for k in range(len(reps)):
        rep = reps[(start + k) % len(reps)]
        if rep != skip and load.get(rep, 0) < rule.capacity:
            return rep
    return None


def assign_leads(ids=None, *, now=None, avoid: dict[int, int] | None = None) -> int:
    """Give unassigned open leads (or those of ``ids``) to reps by the rules; a lead no rule can
    place (no match, every rep full) stays in the pool. ``avoid``: {lead id: rep} not to give it
    back to. Returns how many were assigned."""
    now = now or timezone.now()
    queryset = Lead.objects.filter(status__in=scoring.OPEN, owner__isnull=True).order_by("mal_at", "pk")
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    rules = list(AssignmentRule.objects.filter(active=True).prefetch_related("reps"))
    if not rules:
        return 0
    reps = {rule.pk: sorted(u.pk for u in rule.reps.all() if u.is_active) for rule in rules}
    icp_keys = dict(scoring.ICP.objects.values_list("pk", "key"))
    load = _open_load()
    done, payloads, logs = [], [], []
    for lead in queryset.only("pk", "region", "industry", "icp_id", "name", "company"):
        for rule in rules:
            if not _matches(rule, lead, icp_keys):
                continue
            rep = _next_rep(rule, reps[rule.pk], load, (avoid or {}).get(lead.pk))
            if rep is None:
                continue
            rule.last_rep_id = rep
            load[rep] = load.get(rep, 0) + 1
            lead.owner_id, lead.assigned_at, lead.touched_at = rep, now, None
            done.append(lead)
            payloads.append({"lead_id": lead.pk, "before": (avoid or {}).get(lead.pk), "after": rep, "rule": rule.pk})
            logs.append(audit.entry(None, "system", "update", lead, {"owner": [None, rep], "rule": [None, rule.name]}))
            break
    with transaction.atomic():
        save_fields(done, ["owner", "assigned_at", "touched_at"])
        for rule in rules:
            AssignmentRule.objects.filter(pk=rule.pk).update(last_rep_id=rule.last_rep_id)
        audit.record_many(logs)
        events.emit_many("lead.assigned", payloads)
    return len(done)


def reassign_stale(*, now=None) -> int:
    """Open leads whose owner has not touched them for the settings' stale_days since they were
    assigned go back to the rules, to someone else."""
    now = now or timezone.now()
    days = scoring.scoring_settings().stale_days
    if not days:
        return 0
    cutoff = now - dt.timedelta(days=days)
    stale = dict(
        Lead.objects.filter(status__in=scoring.OPEN, owner__isnull=False, assigned_at__isnull=False)
        .annotate(last=Coalesce("touched_at", "assigned_at")).filter(last__lt=cutoff)
        .values_list("pk", "owner_id")
    )
    if not stale:
        return 0
    with transaction.atomic():
        Lead.objects.filter(pk__in=list(stale)).update(owner=None)
    return assign_leads(list(stale), now=now, avoid=stale)


@transaction.atomic
def assign_by_hand(actor, lead_ids: list[int], owner_id: int | None, *, via: str = "web") -> int:
    """Give leads to a rep (or back to the pool with None); only leads the actor may see."""
    if actor is not None and not actor.has_perm("sales.change_lead"):
        raise PermissionDenied(_("You may not assign leads."))
    if not lead_ids:
        raise ValidationError({"leads": _("Choose at least one lead.")})
    owner = None
    if owner_id is not None:
        owner = get_user_model().objects.filter(pk=owner_id, is_active=True).first()
        if owner is None:
            raise ValidationError({"owner": _("No active user %(id)s.") % {"id": owner_id}})
    leads = list(visible_records(Lead, actor).filter(pk__in=lead_ids)) if actor else list(Lead.objects.filter(pk__in=lead_ids))
    missing = sorted(set(lead_ids) - {lead.pk for lead in leads})
    if missing:
        raise ValidationError({"leads": _("No lead %(ids)s among the leads you may see.")
                               % {"ids": ", ".join(map(str, missing[:10]))}})
    now = timezone.now()
    changed = [lead for lead in leads if lead.owner_id != owner_id]
    logs, payloads = [], []
    for lead in changed:
        logs.append(audit.entry(actor, via, "update", lead, {"owner": [lead.owner_id, owner_id]}))
        payloads.append({"lead_id": lead.pk, "before": lead.owner_id, "after": owner_id, "rule": None})
        lead.owner_id, lead.assigned_at, lead.touched_at = owner_id, now if owner_id else None, None
    save_fields(changed, ["owner", "assigned_at", "touched_at"])
    audit.record_many(logs)
    events.emit_many("lead.assigned", payloads, actor=actor)
    return len(changed)

