"""Leads and opportunities: status dates and stage history follow every change."""

from django.utils import timezone

from clm.core.services import after_save
from clm.sales.models import Lead, Opportunity, OpportunityStageChange

STATUS_STAMP = {
    Lead.Status.MQL: "mql_at",
    Lead.Status.SQL: "sql_at",
    Lead.Status.CONVERTED: "converted_at",
    Lead.Status.DISQUALIFIED: "disqualified_at",
}


def stamp_lead_status(lead: Lead, now=None) -> list[str]:
    """Set the date of the lead's current status if it has none; returns the fields set."""
    field = STATUS_STAMP.get(lead.status)
    if field and getattr(lead, field) is None:
        setattr(lead, field, now or timezone.now())
        return [field]
    return []


@after_save(Lead)
def lead_status_dates(lead, before, actor):
    changed = stamp_lead_status(lead)
    if changed:
        Lead.objects.filter(pk=lead.pk).update(**{f: getattr(lead, f) for f in changed})


@after_save(Opportunity)
def opportunity_stage_history(opportunity, before, actor):
    previous = before["stage"] if before else ""
    if previous == opportunity.stage:
        return
    OpportunityStageChange.objects.create(
        opportunity=opportunity, from_stage=previous, to_stage=opportunity.stage, changed_by=actor
    )
    if opportunity.stage in Opportunity.CLOSED and opportunity.closed_on is None:
        Opportunity.objects.filter(pk=opportunity.pk).update(closed_on=timezone.localdate())
