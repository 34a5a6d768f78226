"""Success plans: objectives with usage metrics, milestones owned on both sides, status derived and
announced, QBRs whose next steps become tasks, and the bad input each refuses."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clm.automation.models import Task
from clm.core import events
from clm.core.models import AuditLog
from clm.customers.models import Contact
from clm.success import plans
from clm.success.models import QBR, SuccessPlan
from clm.usage.models import UsageDaily
from tests.factories import make_account
from tests.success.conftest import days_ago

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def plan(account, csm):
    account.csm = csm
    account.save()
    return plans.create_plan(csm, account, title="2026 客户成长计划", starts_on=days_ago(60), ends_on=days_ago(-300))


@pytest.fixture
def champion(account):
    return Contact.objects.create(account=account, name="王芳", role="champion")


def test_a_plan_goes_to_the_accounts_csm_and_is_audited(plan, csm):
    assert plan.owner == csm and plan.status == "on_track"
    assert AuditLog.objects.filter(model="success.successplan", action="create", actor=csm).exists()


def test_an_objective_with_a_usage_metric_reads_its_baseline_before_the_plan_and_its_value_now(plan, account):
    # 30 days before the plan: 4 users a day on 15 days = 60 user-days → 2.0 a day on average;
    # the last 30 days: 6 users a day on 30 days → 6.0
    UsageDaily.objects.bulk_create(
        [UsageDaily(account=account, day=days_ago(61 + k), events=10, active_users=4, minutes=5) for k in range(15)]
        + [UsageDaily(account=account, day=days_ago(k), events=10, active_users=6, minutes=5) for k in range(30)]
    )
    objective = plans.add_objective(None, plan, goal="Everyone in QA uses the system daily", target=10,
                                    unit="人", metric="active_users")
    assert (objective.baseline, objective.current) == (2.0, 6.0)
    assert objective.current_on == days_ago(0)


def test_plan_status_follows_milestones_and_each_change_is_announced(
        plan, csm, champion, django_capture_on_commit_callbacks):
    heard = []
    listener = events.listen("success_plan.status_changed")(lambda e: heard.append(e.payload))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            m = plans.add_milestone(csm, plan, title="质检模块上线", due_on=days_ago(10), owner_user=csm,
                                    owner_contact=champion)
        plan.refresh_from_db()
        assert plan.status == "behind" and plan.status_facts["overdue"] == 1
        with django_capture_on_commit_callbacks(execute=True):
            plans.complete_milestone(csm, m, on=days_ago(2))
        plan.refresh_from_db()
        assert plan.status == "on_track"
    finally:
        events.unlisten(listener)
    assert [(p["before"], p["after"], p["rule"]) for p in heard] == [
        ("on_track", "behind", "milestone_overdue"), ("behind", "on_track", "on_track")]


def test_the_daily_refresh_finds_a_plan_stuck_when_a_milestone_is_over_a_month_late(plan, csm):
    plans.add_milestone(csm, plan, title="数据对接", due_on=days_ago(40))
    plans.refresh_plans()
    plan.refresh_from_db()
    assert (plan.status, plan.status_since, plan.status_facts["rule"]) == ("stuck", days_ago(0),
                                                                            "milestone_overdue_long")


def test_bad_milestones_are_refused_with_the_reason(plan, csm):
    stranger = Contact.objects.create(account=make_account("别家公司"), name="李雷")
    with pytest.raises(ValidationError) as early:
        plans.add_milestone(csm, plan, title="启动", due_on=days_ago(61))
    assert f"before the plan starts ({days_ago(60)})" in early.value.message_dict["due_on"][0]
    with pytest.raises(ValidationError) as other:
        plans.add_milestone(csm, plan, title="启动", due_on=days_ago(1), owner_contact=stranger)
    assert "李雷 is a contact of another account" in other.value.message_dict["owner_contact"][0]
    with pytest.raises(ValidationError) as untitled:
        plans.add_milestone(csm, plan, title="  ", due_on=days_ago(-400))
    assert set(untitled.value.message_dict) == {"title", "due_on"}  # and after the plan ends
    assert not plan.milestones.exists()


def test_bad_plans_and_objectives_are_refused(account, csm, plan):
    with pytest.raises(ValidationError) as second:
        plans.create_plan(csm, account, title="又一个", starts_on=days_ago(0))
    assert "already has a success plan" in second.value.message_dict["account"][0]
    other = make_account("远山物流", csm=csm)
    with pytest.raises(ValidationError) as backwards:
        plans.create_plan(csm, other, title="计划", starts_on=days_ago(0), ends_on=days_ago(5))
    assert "must end after it starts" in backwards.value.message_dict["ends_on"][0]
    with pytest.raises(ValidationError) as objective:
        plans.add_objective(csm, plan, goal="", target=None, metric="nonsense")
    assert set(objective.value.message_dict) == {"goal", "target", "metric"}


def test_a_rep_cannot_touch_the_plan_of_an_account_they_do_not_see(plan, owner, team_visibility):
    with pytest.raises(PermissionDenied):
        plans.add_milestone(owner, plan, title="x", due_on=days_ago(0))


def test_a_qbr_records_attendees_and_turns_next_steps_into_tasks(plan, csm, champion, account):
    qbr = plans.record_qbr(csm, plan, held_on=days_ago(1), agenda="回顾漏检率；下季度目标",
                           outcomes="漏检率从3%降至0.8%", contacts=[champion], users=[csm],
                           next_steps=[{"title": "安排包装环节试点", "due_on": days_ago(-14), "contact": champion},
                                       {"title": "发送复盘纪要"}])
    assert list(qbr.contacts.all()) == [champion] and list(qbr.users.all()) == [csm]
    tasks = Task.objects.filter(account=account).order_by("id")
    assert [t.title for t in tasks] == ["安排包装环节试点", "发送复盘纪要"]
    assert set(qbr.next_steps.all()) == set(tasks) and tasks[0].contact == champion
    assert all(t.assignee == csm for t in tasks)
    assert tasks[0].due_at.date() == days_ago(-14)


def test_a_qbr_with_a_contact_of_another_account_writes_nothing(plan, csm):
    stranger = Contact.objects.create(account=make_account("别家公司"), name="李雷")
    with pytest.raises(ValidationError) as bad:
        plans.record_qbr(csm, plan, held_on=days_ago(1), agenda="复盘", contacts=[stranger],
                         next_steps=[{"title": "跟进"}])
    assert "contacts" in bad.value.message_dict
    assert not QBR.objects.exists() and not Task.objects.exists()


def test_closing_a_plan_lets_the_account_start_another(plan, csm, account):
    plans.close_plan(csm, plan)
    again = plans.create_plan(csm, account, title="下一年", starts_on=days_ago(0))
    assert SuccessPlan.objects.filter(account=account).count() == 2 and again.closed_on is None
    assert isinstance(again.starts_on, dt.date)


def test_the_board_trend_reads_the_metric_as_the_objective_does_at_each_weeks_end(account):
    # 4 active users every day for 60 days, then none for the last 6: the 30-day mean at a Sunday
    # is (days with use in its window × 4) / 30 — 4.0 while every day of the window had use.
    today = days_ago(0)
    UsageDaily.objects.bulk_create(
        UsageDaily(account=account, day=days_ago(k), events=10, active_users=4 if k >= 6 else 0, minutes=5)
        for k in range(66))
    series = plans.metric_series(account.pk, "active_users", "", days_ago(30), today)
    assert all(d.weekday() == 6 for d in series["week"]) and series["week"].iloc[-1] <= today
    last = series["week"].iloc[-1]
    used = sum(1 for k in range(30) if (today - (last - dt.timedelta(days=k))).days >= 6)
    assert series["value"].iloc[-1] == pytest.approx(round(used * 4 / 30, 1))
    assert series["value"].iloc[0] == 4.0  # a month and more of daily use behind it
    events = plans.metric_series(account.pk, "events", "", days_ago(30), today)
    assert events["value"].iloc[0] == 300.0  # 10 events × 30 days
