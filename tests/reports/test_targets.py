"""Targets per KPI and period: set by managers and admins, checked, audited; the table marks a KPI
that misses its target, meets it, or has none."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clm.core.models import AuditLog
from clm.reports import services
from clm.reports.models import KpiTarget
from clm.reports.periods import Period
from tests.factories import make_user

from .conftest import TODAY

NOV = Period.parse("2026-11")


@pytest.fixture
def manager(db):
    return make_user("boss", "Manager")


def statuses(user):
    return {r.kpi.key: r.status for r in services.kpi_table(user, NOV, keys=["nrr", "churned_mrr", "arr", "icp_match_share"], today=TODAY)}


def test_a_manager_sets_targets_and_the_table_marks_them(world, manager):
    services.set_target(manager, "nrr", "2026-11", 1.0)  # NRR 0.94 < 1.0: missed
    services.set_target(manager, "churned_mrr", "2026-11", "500")  # 200 ≤ 500, down is good: met
    assert statuses(manager) == {"nrr": "missed", "churned_mrr": "met", "arr": "no_target", "icp_match_share": "no_data"}
    services.set_target(manager, "nrr", "2026-11", 0.9)  # replaces the first
    assert KpiTarget.objects.get(kpi="nrr").value == 0.9
    assert statuses(manager)["nrr"] == "met"
    logged = AuditLog.objects.filter(model="reports.kpitarget").values_list("action", "changes")
    assert list(logged.order_by("id")) == [
        ("create", {"value": [None, 1.0]}), ("create", {"value": [None, 500.0]}), ("update", {"value": [1.0, 0.9]}),
    ]


def test_only_managers_and_admins_set_targets(db, owner, admin_user):
    with pytest.raises(PermissionDenied):
        services.set_target(owner, "nrr", "2026-11", 1.0)
    services.set_target(admin_user, "nrr", "2026-Q4", 1.0)
    assert KpiTarget.objects.get().period == "2026-Q4"


@pytest.mark.parametrize(
    ("key", "period", "value", "field"),
    [
        ("nope", "2026-11", 1, "kpi"),
        ("nrr", "2026-13", 1, "period"),
        ("nrr", "November", 1, "period"),
        ("nrr", "2026-11", "lots", "value"),
        ("nrr", "2026-11", "nan", "value"),
        ("logo_churn", "2026-11", 5, "value"),  # a share is 0–1
        ("arr", "2026-11", -1, "value"),
        ("nps", "2026-11", 120, "value"),
    ],
)
def test_a_bad_target_is_refused_naming_the_field_and_nothing_is_written(manager, key, period, value, field):
    with pytest.raises(ValidationError) as error:
        services.set_target(manager, key, period, value)
    assert field in error.value.message_dict
    assert not KpiTarget.objects.exists()


def test_removing_a_target(manager):
    services.set_target(manager, "nps", "2026", 30)
    assert services.remove_target(manager, "nps", "2026") is True
    assert services.remove_target(manager, "nps", "2026") is False
    assert not KpiTarget.objects.exists()


def test_periods_parse_and_step_back():
    assert Period.parse("2026-q1").previous().label == "2025-Q4"
    assert Period.parse("2026-03").previous().label == "2026-02"
    assert Period.parse("2026").end.isoformat() == "2026-12-31"
    assert services.default_period("quarter", TODAY).label == "2026-Q3"


def test_the_admin_form_names_a_bad_target_beside_its_field(db):
    from clm.reports.admin import KpiTargetForm

    form = KpiTargetForm({"kpi": "nrr", "period": "2026-13", "value": "-1"})
    assert not form.is_valid()
    assert set(form.errors) == {"period", "value"}


def test_targets_set_on_the_removed_time_to_first_value_carry_over_to_the_one_kept(db):
    """reports.0005: one time-to-first-value KPI, the onboardings'; a target on the usage-based
    one moves to it for a period without its own, and yields to one set there."""
    from importlib import import_module

    from django.apps import apps

    from clm.reports.catalogue import BY_KEY

    migration = import_module("clm.reports.migrations.0005_one_time_to_first_value")
    KpiTarget.objects.create(kpi="time_to_first_value_days", period="2026-11", value=10)
    KpiTarget.objects.create(kpi="time_to_first_value_days", period="2026-10", value=12)
    KpiTarget.objects.create(kpi="median_time_to_first_value_days", period="2026-10", value=8)
    migration.carry_targets_over(apps, None)
    assert sorted(KpiTarget.objects.values_list("kpi", "period", "value")) == [
        ("median_time_to_first_value_days", "2026-10", 8.0), ("median_time_to_first_value_days", "2026-11", 10.0),
    ]
    assert "time_to_first_value_days" not in BY_KEY and "median_time_to_first_value_days" in BY_KEY
