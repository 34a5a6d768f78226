"""The demo's KPI targets: fixed aims for the last complete month, the current month and quarter,
set again (not added twice) by a second build."""

import datetime as dt

from clm.demo import kpi_targets
from clm.reports.models import KpiTarget


def test_the_demo_sets_its_targets_once_per_period(db):
    as_of = dt.date(2026, 12, 7)
    assert kpi_targets.set_targets(as_of) == 3 * len(kpi_targets.TARGETS)
    kpi_targets.set_targets(as_of)
    assert KpiTarget.objects.count() == 3 * len(kpi_targets.TARGETS)
    assert set(KpiTarget.objects.values_list("period", flat=True)) == {"2026-11", "2026-12", "2026-Q4"}
    churn = dict(KpiTarget.objects.filter(kpi="logo_churn").values_list("period", "value"))
    assert churn == {"2026-11": 0.02, "2026-12": 0.02, "2026-Q4": 0.06}  # a quarter: three months' worth
