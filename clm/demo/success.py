"""The demo company's success programmes, written once the daily run has placed every account:
the default activation definitions, an onboarding checklist for every customer who started in the
past year (completed from the simulated usage, the kick-off confirmed by its simulated CSM),
and success plans with objectives, milestones and QBRs for the larger growing and mature
customers. Everything goes through clm.success's services, as the workspace would."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.db.models import Max, Min, Sum

from clm.automation import work
from clm.automation.models import Task
from clm.commerce.models import Subscription
from clm.customers.models import Account, Contact, LifecycleStage
from clm.success import onboarding, plans
from clm.success.models import (
    ActivationDefinition,
    ActivationMilestone,
    Onboarding,
    OnboardingStep,
    SuccessPlan,
)
from clm.usage.models import Feature, UsageFeatureDaily

SEED = 16
KICKOFF = "Kick-off meeting"

DEFINITIONS = [
    # (name, name_zh, industry, milestones: (en, zh, kind, target, count, days, first value))
    ("Standard activation", "标准激活路径", "", [
        (KICKOFF, "项目启动会", "manual", "", 1, 7, False),
        ("First use of a core feature", "首次使用核心功能", "core_feature", "", 1, 7, True),
        ("Three users active on one day", "3 名用户同日活跃", "active_users", "", 3, 21, False),
        ("Approval flow used 20 times", "审批流程使用 20 次", "core_feature", "approval_flow", 20, 45, False),
    ]),
    ("Manufacturing activation", "制造业激活路径", "制造业", [
        (KICKOFF, "项目启动会", "manual", "", 1, 7, False),
        ("First use of a core feature", "首次使用核心功能", "core_feature", "", 1, 7, True),
        ("Three users active on one day", "3 名用户同日活跃", "active_users", "", 3, 21, False),
        ("First work orders in the system", "工单管理使用 10 次", "core_feature", "work_orders", 10, 45, False),
    ]),
]


def write_definitions() -> list[ActivationDefinition]:
    """The default definitions, unless an administrator has written some."""
    if ActivationDefinition.objects.exists():
        return list(ActivationDefinition.objects.all())
    made = []
    for position, (name, name_zh, industry, milestones) in enumerate(DEFINITIONS):
        definition = ActivationDefinition.objects.create(name=name, name_zh=name_zh, industry=industry,
                                                         position=position)
        ActivationMilestone.objects.bulk_create(
            ActivationMilestone(definition=definition, position=i, name=en, name_zh=zh, kind=kind, target=target,
                                count=count, days_allowed=days, first_value=first)
            for i, (en, zh, kind, target, count, days, first) in enumerate(milestones)
        )
        made.append(definition)
    return made


def onboard(as_of: dt.date) -> dict:
    """A checklist for every customer whose first contract started in the past year."""
    firsts = dict(
        Subscription.objects.order_by().values("account_id").annotate(first=Min("start_date"))
        .filter(first__gt=as_of - dt.timedelta(days=365), first__lte=as_of).values_list("account_id", "first")
    )
    made = onboarding.start_new_onboardings(as_of, starts=firsts, via="demo")
    rng = np.random.default_rng(SEED)
    kickoffs = list(OnboardingStep.objects.filter(onboarding__in=made, milestone__name=KICKOFF)
                    .select_related("onboarding__account__csm", "milestone"))
    for step in kickoffs:  # the simulated CSM holds the kick-off, mostly within the week
        held = step.onboarding.started_on + dt.timedelta(days=int(rng.choice([2, 3, 4, 5, 6, 9, 12])))
        if held <= as_of and rng.random() < 0.93:
            onboarding.complete_step(step.onboarding.account.csm, step, on=held, note="项目启动会已召开", via="demo")
    result = onboarding.evaluate(as_of)
    result["lapsed"] = onboarding.lapse_old(as_of)
    return {"onboardings": len(made), **result}


def _plan_accounts(as_of: dt.date, share: float) -> list[Account]:
    """The larger growing and mature customers, by MRR."""
    candidates = (Account.objects.filter(lifecycle_stage__in=[LifecycleStage.GROWTH, LifecycleStage.MATURE])
                  .exclude(csm=None).annotate(mrr=Max("subscriptions__mrr")).order_by("-mrr", "pk"))
    n = max(3, int(candidates.count() * share))
    return list(candidates.select_related("csm")[:n])


def _champion(account: Account) -> Contact | None:
    contacts = Contact.objects.filter(account=account, status=Contact.Status.ACTIVE)
    order = ["champion", "decision_maker", "influencer", "economic_buyer", "user", ""]
    return min(contacts, key=lambda c: (order.index(c.role) if c.role in order else 9, c.pk), default=None)


def _top_feature(account: Account, as_of: dt.date):
    """The core feature the account used most in the last 30 days, with its uses."""
    row = (UsageFeatureDaily.objects.filter(account=account, day__gt=as_of - dt.timedelta(days=30), day__lte=as_of,
                                            feature__in=Feature.objects.filter(is_core=True).values("key"))
           .values("feature").annotate(n=Sum("events")).order_by("-n").first())
    if row is None:
        return None, 0
    return Feature.objects.get(key=row["feature"]), row["n"]


MILESTONES = [  # (title, days after the plan starts)
    ("质检模块全员上线", 30), ("数据看板接入管理层周会", 75), ("第二工厂推广", 150), ("年度复盘与续约方案", 330),
]


def success_plans(as_of: dt.date, share: float = 0.12) -> dict:
    rng = np.random.default_rng(SEED + 1)
    made = qbrs = 0
    for account in _plan_accounts(as_of, share):
        if SuccessPlan.objects.filter(account=account, closed_on__isnull=True).exists():
            continue
        start = as_of - dt.timedelta(days=int(rng.integers(20, 220)))
        plan = plans.create_plan(None, account, title=f"{start.year} 客户成长计划", starts_on=start,
                                 ends_on=start + dt.timedelta(days=365), owner=account.csm, via="demo")
        before = plans.metric_values([account.pk], "active_users", "", start - dt.timedelta(days=1))[account.pk]
        now = plans.metric_values([account.pk], "active_users", "", as_of)[account.pk]
        plans.add_objective(None, plan, goal="质检、生产和管理团队每天都在用系统",
                            target=float(max(3, round(max(before, now) * 1.3 + 1))), unit="人/天",
                            metric="active_users", via="demo", refresh=False)
        feature, uses = _top_feature(account, as_of)
        if feature:
            plans.add_objective(None, plan, goal=f"把“{feature.name or feature.key}”用进每周的例会", unit="次/30天",
                                target=float(max(10, round(uses * 1.5, -1))), metric="feature", feature=feature.key,
                                via="demo", refresh=False)
        plans.add_objective(None, plan, goal="质检漏检率从 3% 降至 0.5%", target=0.5, unit="%", baseline=3.0,
                            current=round(float(rng.uniform(0.7, 2.4)), 1), via="demo", refresh=False)
        champion = _champion(account)
        slow = rng.random()  # a fifth of the plans run late, a few are stuck
        for title, after in MILESTONES:
            due = start + dt.timedelta(days=after)
            milestone = plans.add_milestone(None, plan, title=title, due_on=due, owner_user=account.csm,
                                            owner_contact=champion, via="demo", refresh=False)
            late_by = 0 if slow > 0.2 else int(rng.integers(10, 60))
            done = due + dt.timedelta(days=int(rng.integers(-5, 3)) + late_by)
            if done <= as_of and due + dt.timedelta(days=late_by) <= as_of and done >= start:
                plans.complete_milestone(None, milestone, on=done, via="demo", refresh=False)
        made += 1
        if (as_of - start).days >= 95:
            held = start + dt.timedelta(days=90)
            qbr = plans.record_qbr(
                None, plan, held_on=held, agenda="回顾上季度目标达成；质检漏检率变化；下季度推广计划",
                outcomes="管理层认可看板效果，同意推进第二工厂试点", contacts=[c for c in [champion] if c],
                users=[account.csm], next_steps=[
                    {"title": "整理第二工厂试点方案", "due_on": held + dt.timedelta(days=14), "assignee": account.csm},
                    {"title": "发送复盘纪要给客户", "due_on": held + dt.timedelta(days=3), "assignee": account.csm},
                ], via="demo")
            for task in qbr.next_steps.all():
                if task.due_at.date() < as_of - dt.timedelta(days=7):
                    work.complete_task(None, task, outcome="已完成", via="demo")
            qbrs += 1
    refreshed = plans.refresh_plans(as_of)
    return {"plans": made, "qbrs": qbrs, "open_qbr_tasks": Task.objects.filter(status="open", title__in=[
        "整理第二工厂试点方案", "发送复盘纪要给客户"]).count(), **refreshed}


def build(as_of: dt.date) -> str:
    write_definitions()
    onboarded = onboard(as_of)
    planned = success_plans(as_of)
    activated = Onboarding.objects.filter(status=Onboarding.Status.ACTIVATED).count()
    return (f"success programmes ({onboarded['onboardings']} onboardings, {activated} activated, "
            f"{onboarded['cases_opened']} late-milestone cases; {planned['plans']} success plans, {planned['qbrs']} QBRs)")
