"""The company-wide settings an admin edits on the Workspace row, checked against what they name
(ticket priorities, deal stages, named by label as clm.core.access names the account model), and
read by the engine: SLA targets, renewal intent by deal stage, the CLV discount rate and horizon,
the loyalty rules."""

import math
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clm.core.models import Workspace

MAX_SLA_HOURS = 24 * 365


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _keys_problem(given: dict, expected: list[str]) -> str | None:
    missing = [k for k in expected if k not in given]
    unknown = [k for k in given if k not in expected]
    if unknown:
        return _("%(keys)s: not one of %(known)s.") % {"keys": ", ".join(map(str, unknown)), "known": ", ".join(expected)}
    if missing:
        return _("Give a value for %(keys)s.") % {"keys": ", ".join(missing)}
    return None


def check_workspace(workspace: Workspace) -> None:
    """Every setting usable by the engine, or a ValidationError naming the field and the entry."""
    errors = {}
    priorities = list(apps.get_model("service", "Ticket").Priority.values)
    sla = workspace.sla_first_response_hours
    if not isinstance(sla, dict):
        errors["sla_first_response_hours"] = _("Write an object of priority: hours.")
    else:
        problem = _keys_problem(sla, priorities)
        bad = [k for k, v in sla.items() if (_number(v) or 0) <= 0 or _number(v) > MAX_SLA_HOURS]
        if problem:
            errors["sla_first_response_hours"] = problem
        elif bad:
            errors["sla_first_response_hours"] = _("%(keys)s: the hours must be a number above 0 and at most %(max)s.") % {
                "keys": ", ".join(bad), "max": MAX_SLA_HOURS}
    stages = list(apps.get_model("sales", "Opportunity").Stage.values)
    intent = workspace.renewal_intent
    if not isinstance(intent, dict):
        errors["renewal_intent"] = _("Write an object of deal stage: intent.")
    else:
        problem = _keys_problem(intent, stages)
        bad = [k for k, v in intent.items() if _number(v) is None or not -1 <= v <= 1]
        if problem:
            errors["renewal_intent"] = problem
        elif bad:
            errors["renewal_intent"] = _("%(keys)s: the intent must be a number from -1 to 1.") % {"keys": ", ".join(bad)}
    if errors:
        raise ValidationError(errors)


def sla_hours() -> dict[str, float]:
    return dict(Workspace.current().sla_first_response_hours)


def renewal_intent() -> dict[str, float]:
    return dict(Workspace.current().renewal_intent)


@dataclass(frozen=True)
class ClvSettings:
    annual_discount_rate: float
    horizon_months: int

    @property
    def monthly_discount_rate(self) -> float:
        return (1 + self.annual_discount_rate) ** (1 / 12) - 1


def clv_settings() -> ClvSettings:
    workspace = Workspace.current()
    return ClvSettings(float(workspace.clv_annual_discount_rate), int(workspace.clv_horizon_months))


def loyalty_rules():
    """The loyalty rules as clm.analytics.tiers.LoyaltyRules (imported here: it brings the CLV
    models and SciPy, which the platform layer does not otherwise need)."""
    from clm.analytics import tiers

    workspace = Workspace.current()
    return tiers.LoyaltyRules(
        points_per_amount=float(workspace.loyalty_points_per_amount),
        referral_points=int(workspace.loyalty_referral_points),
        credit_per_point=float(workspace.loyalty_credit_per_point),
        expiry_months=workspace.loyalty_expiry_months,
    )
