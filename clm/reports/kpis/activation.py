"""Activation KPIs read from the onboarding checklists (clm.success): the 7- and 30-day activation
rates and the median time to first value of the onboardings that started in the period, by signup
cohort (the month of the contract start)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from clm.success import kpis
from clm.success.models import ActivationDefinition, Onboarding

from .base import Result, Scope, missing


def _frame(scope: Scope, period):
    """The onboardings that started in the period (those of the scope's span, read once)."""

    def load(first):
        return kpis.onboarding_frame(scope.records(Onboarding.objects.filter(
            started_on__gte=first, started_on__lte=scope.today)))

    frame = scope.dated("onboardings", period, load)
    return frame[scope.inside(period, frame["started_on"])]


def _why_none(scope: Scope, period) -> str:
    if not scope.memo("activation defined", ActivationDefinition.objects.filter(active=True).exists):
        return _("No activation definition is set up yet (Onboarding → activation definitions).")
    return _("No onboarding started in %(period)s.") % {"period": period.label}


def _result(figure: kpis.Figure, when_empty: str) -> Result:
    if figure.value is None:
        return missing(when_empty)
    return Result(value=figure.value, numerator=figure.numerator, denominator=figure.denominator,
                  account_ids=figure.account_ids, breakdown=figure.breakdown, groups=figure.groups)


def _rate(scope: Scope, period, days: int, compute) -> Result:
    frame = _frame(scope, period)
    if frame.empty:
        return missing(_why_none(scope, period))
    return _result(compute(frame, scope.today, kpis.COHORT),
                   _("None of the onboardings that started in %(period)s is %(days)s days old yet.")
                   % {"period": period.label, "days": days})


def activation_rate_7d(scope: Scope, period) -> Result:
    return _rate(scope, period, 7, kpis.activation_rate_7d)


def activation_rate_30d(scope: Scope, period) -> Result:
    return _rate(scope, period, 30, kpis.activation_rate_30d)


def median_time_to_first_value(scope: Scope, period) -> Result:
    frame = _frame(scope, period)
    if frame.empty:
        return missing(_why_none(scope, period))
    return _result(kpis.median_time_to_first_value(frame, scope.today),
                   _("None of the onboardings that started in %(period)s has reached first value yet.")
                   % {"period": period.label})
