"""Leads and opportunities: status dates and stage history follow every change; form submissions
are recorded for the contact or lead who sent them."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import audit, events
from clm.core.access import visible_records
from clm.core.bulk import in_batches
from clm.core.services import Written, announce_created, announce_moves, write_rule
from clm.customers.models import Contact
from clm.sales.models import ForecastCallChange, FormSubmission, Lead, Opportunity, OpportunityStageChange

STATUS_STAMP = {
    Lead.Status.MQL: "mql_at",
    Lead.Status.SQL: "sql_at",
    Lead.Status.OPPORTUNITY: "opportunity_at",
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
    announce_moves(written, "opportunity.forecast_changed", "opportunity_id", "forecast_category", "account_id")


@write_rule(Opportunity)
def forecast_call_history(written: Written) -> None:
    """Every change of a deal's forecast call, whichever path wrote it (page, API, import): who,
    when, from and to; a new deal's first call is recorded from nothing."""
    moves = [(pk, before, after) for pk, before, after, _ in written.moved("forecast_category")]
    if written.created:
        moves += [
            (pk, "", category)
            for pk, category in Opportunity.objects.filter(pk__in=written.created).values_list("pk", "forecast_category")
        ]
    ForecastCallChange.objects.bulk_create(
        [
            ForecastCallChange(opportunity_id=pk, from_category=before or "", to_category=after,
                               changed_at=written.now, changed_by=written.human_actor, via=written.via)
            for pk, before, after in moves
            if before != after
        ],
        batch_size=2000,
    )


# -- form submissions ---------------------------------------------------------------------------

MAX_FORM_FIELDS = 100
MAX_FIELD_CHARS = 5_000
PLAIN = (str, int, float, bool, type(None))


def _form_fields(fields) -> dict:
    """A form's answers: a flat {name: plain value}, of a form's size."""
    if not isinstance(fields, dict):
        raise ValidationError({"fields": _("Expected an object of {field name: value}.")})
    problems = []
    if len(fields) > MAX_FORM_FIELDS:
        problems.append(_("At most %(n)d fields.") % {"n": MAX_FORM_FIELDS})
    for name, value in fields.items():
        if not name.strip() or len(name) > 100:
            problems.append(_("Field name %(name)r must have 1 to 100 characters.") % {"name": name[:100]})
        elif not isinstance(value, PLAIN):
            problems.append(
                _("Field %(name)s: expected text, a number, true/false or null.") % {"name": name}
            )
        elif isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            problems.append(
                _("Field %(name)s: at most %(n)d characters.") % {"name": name, "n": MAX_FIELD_CHARS}
            )
    if problems:
        raise ValidationError({"fields": problems})
    return fields


def _sender(
    user, email: str, contact_external_id: str, lead_external_id: str
) -> tuple[Contact | None, Lead | None]:
    """Who sent the form: the contact or lead with that external id, else with that email (a
    contact before a lead), among the records the user may see."""
    if user is None:
        contacts, leads = Contact.objects.all(), Lead.objects.all()
    else:
        contacts, leads = visible_records(Contact, user), visible_records(Lead, user)
    if contact_external_id:
        contact = contacts.filter(external_id=contact_external_id).first()
        if contact is None:
            raise ValidationError(
                {
                    "contact_external_id": _("No contact has the external id %(id)s.")
                    % {"id": contact_external_id}
                }
            )
        return contact, None
    if lead_external_id:
        lead = leads.filter(external_id=lead_external_id).first()
        if lead is None:
            raise ValidationError(
                {"lead_external_id": _("No lead has the external id %(id)s.") % {"id": lead_external_id}}
            )
        return None, lead
    if not email:
        raise ValidationError(
            {"email": _("Give the sender's email, contact_external_id or lead_external_id.")}
        )
    contact = contacts.filter(email__iexact=email).order_by("pk").first()
    if contact is not None:
        return contact, None
    lead = leads.filter(email__iexact=email).order_by("-created_at", "-pk").first()
    if lead is None:
        raise ValidationError({"email": _("No contact or lead has the email %(email)s.") % {"email": email}})
    return None, lead


@transaction.atomic
def record_form_submission(
    actor,
    *,
    form: str,
    fields: dict | None = None,
    email: str = "",
    contact_external_id: str = "",
    lead_external_id: str = "",
    submitted_at: dt.datetime | None = None,
    via: str = "system",
) -> FormSubmission:
    """Record that a contact or lead filled in a form, and say so (form.submitted) once committed,
    so that playbooks triggered by the form enroll the sender."""
    if actor is not None and not actor.has_perm("sales.add_formsubmission"):
        raise PermissionDenied(_("You may not record form submissions."))
    form = (form or "").strip()
    if not form:
        raise ValidationError({"form": _("The form's key is required.")})
    fields = _form_fields({} if fields is None else fields)
    if submitted_at is not None and submitted_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"submitted_at": _("A form cannot be submitted in the future.")})
    contact, lead = _sender(actor, (email or "").strip(), contact_external_id or "", lead_external_id or "")
    account_id = contact.account_id if contact else lead.account_id
    submission = FormSubmission.objects.create(
        form=form,
        contact=contact,
        lead=lead,
        account_id=account_id,
        email=(contact.email if contact else lead.email) or email or "",
        fields=fields,
        submitted_at=submitted_at or timezone.now(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(actor, via, "create", submission, {"form": [None, form]})
    events.emit(
        "form.submitted",
        actor=actor,
        submission_id=submission.pk,
        form=form,
        account_id=account_id,
        contact_id=contact.pk if contact else None,
        lead_id=lead.pk if lead else None,
        fields=fields,
    )
    return submission
