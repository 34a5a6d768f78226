"""REST resources for leads, opportunities (with their stage history) and channel spend."""

import datetime as dt
from typing import Annotated

from ninja import FilterLookup, FilterSchema, Router

from clm.core.crud import History, Id, LocalDatetime, Resource, Text, choice, invalid, register
from clm.sales.models import ChannelSpend, Lead, Opportunity, OpportunityStageChange

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
    stage: Annotated[choice(Opportunity.Stage) | None, FilterLookup("stage")] = None
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


RESOURCES = [
    Resource(Lead, "leads", LeadFilters),
    Resource(
        Opportunity,
        "opportunities",
        OpportunityFilters,
        histories=[History("stage-history", OpportunityStageChange, "opportunity")],
    ),
    Resource(ChannelSpend, "channel-spend", ChannelSpendFilters, prepare=first_of_month),
]

for resource in RESOURCES:
    register(router, resource)
