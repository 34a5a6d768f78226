"""The demo company's win-back and referral work, read from what happened in the simulated world
(nothing here changes how customers behave): win-back cases for the accounts that turned at risk
four to ten months ago, evaluated by what became of them (churned if they churned, renewed if a
contract renewed, else retained), with the root cause their churn story gives or one drawn from
the same causes; win-backs being worked on today's at-risk accounts and the latest churners; and
referral codes for the customers who have referred others. Referrals and their rewards come from
the daily run (the world's referred accounts)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from clm.automation import winback, work
from clm.automation.models import Case, Task, WinBack
from clm.commerce.models import Subscription, SubscriptionChange
from clm.core.models import Role, User
from clm.customers.models import Account, LifecycleStage
from clm.demo.base import stream
from clm.demo.catalogue import CHURN_CAUSES
from clm.lifecycle.models import Signal, StageTransition
from clm.value.models import Referral
from clm.value.services import referrals

SEED = 16
# the world's churn stories → seed 000's root causes
CAUSE_OF = {
    "champion_left": "other", "low_adoption": "product", "competitor": "competitor",
    "budget_cut": "business_budget", "poor_support": "service", "business_closed": "business_budget",
}
OFFER_FOR = {
    "product": "product-training", "service": "service-review", "price": "renewal-discount",
    "business_budget": "budget-plan", "competitor": "roadmap-call", "other": "service-review",
}
REASON_CAUSE = {text: CAUSE_OF[key] for key, (_w, text, *_rest) in CHURN_CAUSES.items()}
PAST, OPEN, CHURNED_OPEN, REFERRER_CODES = 40, 12, 4, 40


def _aware(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _signal(account_id: int, before: dt.date) -> tuple[str, dict]:
    found = Signal.objects.filter(account_id=account_id, opened_on__lte=before).order_by("-opened_on").first()
    return (found.kind, dict(found.values or {})) if found else ("health_red", {})


def _cause(account: Account, rng) -> tuple[str, str]:
    reason = (
        Subscription.objects.filter(account=account).exclude(cancel_reason="").order_by("-cancelled_on", "-pk")
        .values_list("cancel_reason", flat=True).first()
    )
    if reason in REASON_CAUSE:
        return REASON_CAUSE[reason], reason
    keys = list(CHURN_CAUSES)
    weights = [CHURN_CAUSES[k][0] for k in keys]
    key = keys[int(rng.choice(len(keys), p=[w / sum(weights) for w in weights]))]
    return CAUSE_OF[key], CHURN_CAUSES[key][1]


def _backdate(found: WinBack, opened: dt.date, **stamps) -> None:
    WinBack.objects.filter(pk=found.pk).update(created_at=_aware(opened), **stamps)
    Case.objects.filter(pk=found.case_id).update(created_at=_aware(opened))


def _plan(found: WinBack, cause: str, day: dt.date, evaluate_on: dt.date, approver, rng) -> WinBack:
    offer = OFFER_FOR[cause]
    percent, who = None, None
    if offer == "renewal-discount":
        percent = float(rng.choice([5, 8, 10, 15]))
        who = approver if percent > 10 else None
        if percent > 10 and who is None:
            percent = 10.0
    return winback.choose_plan(None, found, offer=offer, discount_percent=percent, approver=who,
                               evaluate_on=evaluate_on, today=day, via="demo")


def _past(as_of: dt.date, approver, rng) -> int:
    """Win-backs opened when accounts turned at risk 120–300 days ago, evaluated by what happened."""
    turned = (
        StageTransition.objects.filter(to_stage=LifecycleStage.AT_RISK, date__gte=as_of - dt.timedelta(days=300),
                                       date__lte=as_of - dt.timedelta(days=120))
        .values("account_id").annotate(day=Max("date")).values_list("account_id", "day")
    )
    rows = sorted(turned)
    if len(rows) > PAST:
        rows = [rows[i] for i in sorted(rng.choice(len(rows), PAST, replace=False))]
    made = 0
    for account_id, day in rows:
        account = Account.objects.get(pk=account_id)
        kind, values = _signal(account_id, day)
        found = winback.open_winback(None, account=account, signal=kind, values=values, via="demo")
        cause, note = _cause(account, rng)
        found = winback.record_cause(None, found, cause=cause, note=note, via="demo")
        planned_on = day + dt.timedelta(days=int(rng.integers(3, 15)))
        evaluate_on = planned_on + dt.timedelta(days=90)
        found = _plan(found, cause, planned_on, evaluate_on, approver, rng)
        for task in Task.objects.filter(case=found.case, status=Task.Status.OPEN):
            if rng.random() < 0.8:
                work.complete_task(None, task, via="demo")
        churned = account.lifecycle_stage == LifecycleStage.CHURNED
        renewed = SubscriptionChange.objects.filter(
            account=account, kind=SubscriptionChange.Kind.RENEWAL, effective_date__gt=day).exists()
        result = "churned" if churned else ("renewed" if renewed else "retained")
        found = winback.evaluate(None, found, result=result, today=max(evaluate_on, as_of), via="demo")
        _backdate(found, day, cause_at=_aware(day + dt.timedelta(days=2)), planned_at=_aware(planned_on),
                  evaluated_at=_aware(min(evaluate_on, as_of), 16))
        Case.objects.filter(pk=found.case_id).update(closed_at=_aware(min(evaluate_on, as_of), 16))
        made += 1
    return made


def _open(as_of: dt.date, approver, rng) -> int:
    """Win-backs being worked: today's red at-risk accounts (at different steps) and the latest churners."""
    at_risk = list(Account.objects.filter(lifecycle_stage=LifecycleStage.AT_RISK, health_band="red")
                   .exclude(winbacks__step__in=["signal", "cause", "plan"]).order_by("health_score", "pk")[:OPEN])
    for n, account in enumerate(at_risk):
        kind, values = _signal(account.pk, as_of)
        found = winback.open_winback(None, account=account, signal=kind, values=values, via="demo")
        if n % 3 >= 1:
            cause, note = _cause(account, rng)
            found = winback.record_cause(None, found, cause=cause, note=note, via="demo")
            if n % 3 == 2:
                found = _plan(found, cause, as_of, as_of + dt.timedelta(days=60), approver, rng)
    churners = list(Account.objects.filter(lifecycle_stage=LifecycleStage.CHURNED, winbacks__isnull=True)
                    .order_by("-lifecycle_stage_since", "pk")[:CHURNED_OPEN])
    for account in churners:
        values = {"left_on": account.lifecycle_stage_since.isoformat()} if account.lifecycle_stage_since else {}
        winback.open_winback(None, account=account, signal="churned", values=values, via="demo")
    return len(at_risk) + len(churners)


@transaction.atomic
def seed(as_of: dt.date) -> dict:
    """The demo's win-back cases and referral codes (seconds on 600 accounts)."""
    rng = stream(SEED, "winback")
    approver = User.objects.filter(is_active=True, groups__name=Role.MANAGER).order_by("pk").first()
    past = _past(as_of, approver, rng)
    now = _open(as_of, approver, rng)
    referrers = (Referral.objects.values("referrer").annotate(n=Max("pk")).order_by("-n")
                 .values_list("referrer", flat=True)[:REFERRER_CODES])
    for account in Account.objects.filter(pk__in=list(referrers)):
        referrals.code_for(None, account, via="demo")
    return {"winbacks_evaluated": past, "winbacks_open": now, "referral_codes": len(referrers)}
