"""REST resources for support tickets and survey responses (NPS, CSAT)."""

from typing import Annotated

from ninja import FilterLookup, FilterSchema, Router

from clm.core.crud import Id, LocalDatetime, Resource, Text, choice, register
from clm.service.models import SurveyResponse, Ticket

router = Router()


class TicketFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    contact: Annotated[Id | None, FilterLookup("contact_id")] = None
    status: Annotated[choice(Ticket.Status) | None, FilterLookup("status")] = None
    priority: Annotated[choice(Ticket.Priority) | None, FilterLookup("priority")] = None
    category: Annotated[Text | None, FilterLookup("category")] = None
    opened_since: Annotated[LocalDatetime | None, FilterLookup("opened_at__gte")] = None
    opened_before: Annotated[LocalDatetime | None, FilterLookup("opened_at__lt")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


class SurveyResponseFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    contact: Annotated[Id | None, FilterLookup("contact_id")] = None
    kind: Annotated[choice(SurveyResponse.Kind) | None, FilterLookup("kind")] = None
    since: Annotated[LocalDatetime | None, FilterLookup("responded_at__gte")] = None
    before: Annotated[LocalDatetime | None, FilterLookup("responded_at__lt")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None


RESOURCES = [
    Resource(Ticket, "tickets", TicketFilters),
    Resource(SurveyResponse, "survey-responses", SurveyResponseFilters),
]

for resource in RESOURCES:
    register(router, resource)
