"""The workspace settings that were constants (SLA targets, renewal intent by deal stage, the CLV
discount rate and horizon, the loyalty rules): checked when an admin saves them, in the admin's
language, and read by the engine."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from clm.core import workspace
from clm.core.models import Workspace

pytestmark = pytest.mark.django_db


def errors_of(language="en", **changes) -> dict:
    settings = Workspace.current()
    for name, value in changes.items():
        setattr(settings, name, value)
    with translation.override(language), pytest.raises(ValidationError) as caught:
        settings.full_clean()
    return caught.value.message_dict


def test_the_defaults_are_valid_and_what_the_engine_used_before():
    settings = Workspace.current()
    settings.full_clean()
    assert workspace.sla_hours() == {"urgent": 4, "high": 8, "normal": 24, "low": 72}
    assert workspace.renewal_intent()["negotiation"] == 0.5
    rules = workspace.loyalty_rules()
    assert (rules.points_per_amount, rules.referral_points, rules.credit_per_point, rules.expiry_months) == (
        0.01, 500, 1.0, None)


def test_the_monthly_rate_is_the_annual_rate_compounded():
    # (1 + 10%)^(1/12) − 1 = 0.797414% a month: twelve months of it compound back to 10% a year
    rates = workspace.clv_settings()
    assert rates.monthly_discount_rate == pytest.approx(0.00797414, abs=1e-8)
    assert (1 + rates.monthly_discount_rate) ** 12 == pytest.approx(1.10)
    assert rates.horizon_months == 36


@pytest.mark.parametrize(("value", "message"), [
    ({"urgent": 4, "high": 8, "normal": 24}, "Give a value for low."),
    ({"urgent": 4, "high": 8, "normal": 24, "low": 72, "p0": 1}, "p0: not one of low, normal, high, urgent."),
    ({"urgent": 0, "high": 8, "normal": 24, "low": 72}, "urgent: the hours must be a number above 0 and at most 8760."),
    ({"urgent": "4h", "high": 8, "normal": 24, "low": 72}, "urgent: the hours must be a number above 0 and at most 8760."),
    ([4, 8, 24, 72], "Write an object of priority: hours."),
])
def test_sla_targets_need_every_priority_and_hours_above_zero(value, message):
    assert errors_of(sla_first_response_hours=value) == {"sla_first_response_hours": [message]}


def test_renewal_intents_lie_between_leaving_and_renewing():
    intents = {**Workspace.current().renewal_intent, "won": 2}
    assert errors_of(renewal_intent=intents) == {"renewal_intent": ["won: the intent must be a number from -1 to 1."]}


def test_rates_and_horizons_have_bounds():
    errors = errors_of(clv_annual_discount_rate=-0.1, clv_horizon_months=0, loyalty_expiry_months=0)
    assert set(errors) == {"clv_annual_discount_rate", "clv_horizon_months", "loyalty_expiry_months"}


def test_messages_are_in_the_admins_language():
    errors = errors_of("zh-hans", sla_first_response_hours={"urgent": 4})
    assert errors["sla_first_response_hours"] == ["请填写 low, normal, high 的值。"]


def test_an_admin_edits_them_and_a_bad_value_saves_nothing(client, admin_user):
    admin_user.language = "en"
    admin_user.save()
    client.force_login(admin_user)
    settings = Workspace.current()
    settings.save()
    url = reverse("admin:core_workspace_change", args=[settings.pk])
    form = {
        "name": "华东制造", "currency": "CNY", "record_visibility": "all", "event_retention_days": 400,
        "sla_first_response_hours": '{"urgent": 2, "high": 8, "normal": 24, "low": 72}',
        "renewal_intent": '{"won": 1, "negotiation": 0.5, "proposal": 0, "discovery": 0, "qualify": 0, "lost": -1}',
        "clv_annual_discount_rate": "0.08", "clv_horizon_months": 24, "loyalty_points_per_amount": "0.02",
        "loyalty_referral_points": 800, "loyalty_credit_per_point": "0.5", "loyalty_expiry_months": 24,
    }
    bad = client.post(url, {**form, "sla_first_response_hours": '{"urgent": -1, "high": 8, "normal": 24, "low": 72}'})
    assert bad.status_code == 200 and "urgent: the hours must be a number above 0" in bad.content.decode()
    assert Workspace.current().sla_first_response_hours["urgent"] == 4
    assert client.post(url, form).status_code == 302
    assert workspace.sla_hours()["urgent"] == 2
    assert workspace.clv_settings().horizon_months == 24
    assert workspace.loyalty_rules().expiry_months == 24
