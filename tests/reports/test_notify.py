"""A KPI that missed its target tells its owning team's managers once per period, by email (to a
real SMTP server on 127.0.0.1) in each manager's language and as a task, with value, target and link."""

import pytest
from django.utils import translation

from clm.automation.models import Task
from clm.core.models import Team
from clm.reports import notify, snapshots
from clm.reports.models import KpiTarget
from tests.factories import make_user

from .conftest import TODAY


@pytest.fixture
def managers(world, owner):
    # owner (a Sales rep) is in team_a: its manager leads the sales team; cs_lead leads a CSM team
    sales_lead = make_user("sales_lead", "Manager", owner.team, email="sales@example.com", language="zh-hans")
    cs_team = Team.objects.create(name="客户成功部")
    make_user("csm1", "CSM", cs_team)
    cs_lead = make_user("cs_lead", "Manager", cs_team, email="cs@example.com", language="en")
    return sales_lead, cs_lead


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_missed_target_tells_the_owning_teams_managers_once(smtp, managers):
    sales_lead, cs_lead = managers
    # November: NRR 94.1% against 100% and logo churn 1 of 3 = 33.3% against ≤ 10% (customer
    # success's) missed; win rate 3 of 4 = 75% against 90% (sales') missed; 5 customers against 1: met
    for kpi, value in (("nrr", 1.0), ("win_rate", 0.9), ("logo_churn", 0.1), ("customers", 1)):
        KpiTarget.objects.create(kpi=kpi, period="2026-11", value=value)
    snapshots.take(TODAY)
    assert notify.notify_missed_targets(TODAY) == 3
    sent = {(m["To"], m["Subject"]) for m in smtp.messages}
    assert ("cs@example.com", "CLM: Customer churn rate missed its target in 2026-11 (33.3%, target 10.0%)") in sent
    assert ("cs@example.com", "CLM: Net revenue retention (NRR) missed its target in 2026-11 (94.1%, target 100.0%)") in sent
    chinese = next(m for m in smtp.messages if m["To"] == "sales@example.com")
    assert chinese["Subject"].strip() == "CLM：项目赢单率 在 2026-11 未达目标（75.0%，目标 90.0%）"
    assert "https://clm.example.com/dashboard/?kind=month&period=2026-11" in body(chinese)
    assert Task.objects.filter(assignee=cs_lead).count() == 2 and Task.objects.filter(assignee=sales_lead).count() == 1
    task = Task.objects.filter(assignee=sales_lead).get()
    assert task.source == Task.Source.REPORT  # not "by hand": the report made it
    with translation.override("zh-hans"):
        assert task.get_source_display() == "报表或 KPI 提醒"
    assert notify.notify_missed_targets(TODAY) == 0  # once per target
    assert len(smtp.messages) == 3
    assert KpiTarget.objects.filter(notified_at__isnull=False).count() == 3


def test_a_running_period_is_not_judged_before_it_ends(smtp, managers):
    KpiTarget.objects.create(kpi="nrr", period="2026-12", value=2.0)
    snapshots.take(TODAY)
    assert notify.notify_missed_targets(TODAY) == 0 and not smtp.messages
