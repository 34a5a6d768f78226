"""REST resources for leads, opportunities (with their stage and forecast-call history) and channel spend, and the
form submissions endpoint (POST /forms/submissions)."""

import datetime as dt
from typing import Annotated

from ninja import FilterLookup, FilterSchema, Router, Schema, Status
from pydantic import Field

from clm.core.crud import History, Id, Json, LocalDatetime, Resource, Text, choice, invalid, register
from clm.sales import services
from clm.sales.api_leads import router as leads_router
from clm.sales.models import (
    ICP,
    AssignmentRule,
    ChannelSpend,
    ForecastCallChange,
    Lead,
    LeadStageChange,
    Opportunity,
    OpportunityStageChange,
)
from clm.sales.reports import rule_problems

router = Router()


class LeadFilters(FilterSchema):
    q: Annotated[Text | None, FilterLookup(["name__icontains", "company__icontains", "email__icontains"])] = (
        None
    )
    email: Annotated[Text | None, FilterLookup("email__iexact")] = None
    status: Annotated[choice(Lead.Status) | None, FilterLookup("status")] = None
    source_channel: Annotated[Text | None, FilterLookup("source_channel")] = None
    owner: Annotated[Id | None, FilterLookup("owner_id")] = None
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    created_since: Annotated[LocalDatetime | None, FilterLookup("created_at__gte")] = None
    updated_since: Annotated[LocalDatetime | None, FilterLookup("updated_at__gte")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


class OpportunityFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    stage: Annotated[Text | None, FilterLookup("stage")] = None
    type: Annotated[choice(Opportunity.Type) | None, FilterLookup("type")] = None
    owner: Annotated[Id | None, FilterLookup("owner_id")] = None
    close_after: Annotated[dt.date | None, FilterLookup("expected_close__gte")] = None
    close_before: Annotated[dt.date | None, FilterLookup("expected_close__lt")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


class ChannelSpendFilters(FilterSchema):
    channel: Annotated[Text | None, FilterLookup("channel")] = None
    month_since: Annotated[dt.date | None, FilterLookup("month__gte")] = None
    month_before: Annotated[dt.date | None, FilterLookup("month__lt")] = None


def first_of_month(data, user, instance, children):
    month = data.get("month")
    if month is not None and month.day != 1:
        raise invalid({"month": f"{month} is not the first day of a month (send {month.replace(day=1)})"})
    return data


def icp_rules(data, user, instance, children):
    problems = rule_problems(data["rules"]) if "rules" in data else []
    if problems:
        raise invalid({"rules": " ".join(problems)})
    return data


SCORES = ("icp", "icp_score", "icp_rules", "fit_score", "fit_reasons", "engagement_score", "engagement_parts",
          "scored_at", "assigned_at", "touched_at", "opportunity_at")

RESOURCES = [
    Resource(
        Lead,
        "leads",
        LeadFilters,
        read_only=SCORES,
        histories=[History("stage-history", LeadStageChange, "lead")],  # activities: clm.sales.api_leads
    ),
    Resource(ICP, "icps", prepare=icp_rules),
    Resource(AssignmentRule, "lead-assignment-rules", m2m=("reps",), read_only=("last_rep",)),
    Resource(
        Opportunity,
        "opportunities",
        OpportunityFilters,
        histories=[History("stage-history", OpportunityStageChange, "opportunity"),
                   History("forecast-history", ForecastCallChange, "opportunity")],
    ),
    Resource(ChannelSpend, "channel-spend", ChannelSpendFilters, prepare=first_of_month),
]

router.add_router("", leads_router)  # before the resources: /leads/funnel is not /leads/{id}

for resource in RESOURCES:
    register(router, resource)


class FormSubmissionIn(Schema):
    form: Annotated[
        Text, Field(min_length=1, max_length=100, description="the form's key, e.g. webinar-signup")
    ]
    email: Annotated[Text | None, Field(None, max_length=254, description="the sender's email")] = None
    contact_external_id: Annotated[Text | None, Field(None, max_length=100)] = None
    lead_external_id: Annotated[Text | None, Field(None, max_length=100)] = None
    fields: Annotated[Json, Field(description="{field name: value}; plain values, at most 100 fields")] = None
    submitted_at: LocalDatetime | None = None


class FormSubmissionOut(Schema):
    id: int
    form: str
    contact: int | None = Field(None, alias="contact_id")
    lead: int | None = Field(None, alias="lead_id")
    account: int | None = Field(None, alias="account_id")
    fields: dict
    submitted_at: dt.datetime


@router.post(
    "/forms/submissions",
    operation_id="create_form_submission",
    response={201: FormSubmissionOut},
    tags=["forms"],
    summary="Record a form submission",
    description=(
        "The sender is found by contact_external_id, lead_external_id or email (a contact before a lead). "
        "Playbooks with a form_submitted trigger on this form (and its field filters) enroll the sender."
    ),
)
def submit_form(request, body: FormSubmissionIn):
    submission = services.record_form_submission(
        request.user,
        form=body.form,
        fields=body.fields,
        email=body.email or "",
        contact_external_id=body.contact_external_id or "",
        lead_external_id=body.lead_external_id or "",
        submitted_at=body.submitted_at,
        via="api",
    )
    return Status(201, submission)
