"""Leads and opportunities: status dates and stage history follow every change."""

from django.utils import timezone

from clm.core.bulk import in_batches
from clm.core.services import Written, announce_created, announce_moves, write_rule
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


@write_rule(Lead)
def stamp_written_leads(written: Written) -> None:
    stamp_lead_statuses(written.ids, written.now)


@write_rule(Opportunity)
def opportunity_stage_history(written: Written) -> None:
    moves = [(pk, before, after) for pk, before, after, _ in written.moved("stage")]
    if written.created:
        moves += [
            (pk, "", stage)
            for pk, stage in Opportunity.objects.filter(pk__in=written.created).values_list("pk", "stage")
        ]
    record_stage_changes(moves, when=written.now, actor=written.human_actor)
    date_closings(written.ids, timezone.localdate(written.now))


@write_rule(Lead)
def announce_leads(written: Written) -> None:
    announce_created(written, "lead.created", "lead_id")
    announce_moves(written, "lead.status_changed", "lead_id", "status")


@write_rule(Opportunity)
def announce_opportunities(written: Written) -> None:
    announce_moves(written, "opportunity.stage_changed", "opportunity_id", "stage", "account_id")
