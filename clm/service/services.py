"""Tickets and survey responses."""

from clm.core.events import emit
from clm.core.services import after_save
from clm.service.models import SurveyResponse


@after_save(SurveyResponse)
def survey_answered(response, before, actor):
    if before is None:
        emit(
            "survey.answered", actor=actor, response_id=response.pk, account_id=response.account_id,
            contact_id=response.contact_id, kind=response.kind, score=response.score,
        )
