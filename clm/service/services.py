"""Tickets and survey responses: their domain events, for one record and for an import alike."""

from clm.core.services import Written, announce_created, announce_moves, write_rule
from clm.service.models import SurveyResponse, Ticket

ENDED = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)


@write_rule(Ticket)
def announce_tickets(written: Written) -> None:
    announce_created(written, "ticket.opened", "ticket_id", "account_id")
    announce_moves(written, "ticket.closed", "ticket_id", "status", "account_id", to=ENDED)


@write_rule(SurveyResponse)
def announce_answers(written: Written) -> None:
    announce_created(written, "survey.answered", "response_id", "account_id", "contact_id", "kind", "score")
