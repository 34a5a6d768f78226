"""Leads and opportunities: status dates and stage history follow every change."""

from django.utils import timezone

from clm.core.bulk import in_batches
from clm.core.events import emit
from clm.core.services import after_save
from clm.sales.models import Lead, Opportunity, OpportunityStageChange

STATUS_STAMP = {
    Lead.Status.MQL: "mql_at",
    Lead.Status.SQL: "sql_at",
    Lead.Status.CONVERTED: "converted_at",
    Lead.Status.DISQUALIFIED: "disqualified_at",
}


def stamp_lead_statuses(lead_ids, now=None) -> None:
    """A lead in a status whose date is empty reached it now (the STATUS_STAMP table). The one
    rule, applied in bulk: by the save hook to one lead, by imports to a file's leads."""
    now = now or timezone.now()
    for batch in in_batches(list(lead_ids)):
        for status, stamp in STATUS_STAMP.items():
            Lead.objects.filter(pk__in=batch, status=status, **{stamp: None}).update(**{stamp: now})


def record_stage_changes(moves, *, when=None, actor=None) -> None:
    """Stage history for opportunities whose stage moved: ``moves`` are (opportunity id, from
    stage or "" for a new one, to stage)."""
    OpportunityStageChange.objects.bulk_create(
        [
            OpportunityStageChange(
                opportunity_id=pk,
                from_stage=before,
                to_stage=after,
                changed_at=when or timezone.now(),
                changed_by=actor,
            )
            for pk, before, after in moves
            if before != after
        ],
        batch_size=2000,
    )


def date_closings(opportunity_ids, today=None) -> None:
    """An opportunity won or lost with no close date closed today."""
    today = today or timezone.localdate()
    for batch in in_batches(list(opportunity_ids)):
        Opportunity.objects.filter(pk__in=batch, stage__in=Opportunity.CLOSED, closed_on=None).update(
            closed_on=today
        )


@after_save(Lead)
def lead_status_dates(lead, before, actor):
    field = STATUS_STAMP.get(lead.status)
    if field and getattr(lead, field) is None:
        stamp_lead_statuses([lead.pk])
        lead.refresh_from_db(fields=[field])
    if before is None:
        emit("lead.created", actor=actor, lead_id=lead.pk)
    elif before.get("status") != lead.status:
        emit("lead.status_changed", actor=actor, lead_id=lead.pk, before=before.get("status"), after=lead.status)


@after_save(Opportunity)
def opportunity_stage_history(opportunity, before, actor):
    record_stage_changes(
        [(opportunity.pk, before["stage"] if before else "", opportunity.stage)], actor=actor
    )
    if opportunity.stage in Opportunity.CLOSED and opportunity.closed_on is None:
        date_closings([opportunity.pk])
        opportunity.refresh_from_db(fields=["closed_on"])
