"""Win-back through its services (seed 002's four steps): the steps in order, each audited and
said as an event; the offer library per cause; the discount approval limit; the evaluation date;
the churned-accounts list and the KPIs on a hand-made world."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clm.automation import winback, winback_lists
from clm.automation.models import Case, Task, WinBack, WinBackOffer
from clm.commerce.models import Subscription
from clm.core import events
from clm.core.models import AuditLog
from clm.customers.models import Account
from clm.value.models import TierAssignment
from tests.factories import make_user, new_subscription

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def manager(db):
    return make_user("manager", "Manager")


@pytest.fixture
def won_heard():
    got = []

    def listener(event):
        got.append((event.name, event.payload))

    events.listen("winback.opened", "winback.cause_recorded", "winback.planned", "winback.evaluated")(listener)
    yield got
    events.unlisten(listener)


@pytest.fixture
def at_risk(ours):
    new_subscription(ours, dt.date(2025, 1, 1), "1000.00")  # ARR 12 × 1000 = 12000
    return ours


def _open(actor, account):
    return winback.open_winback(
        actor, account=account, signal="login_drop",
        values={"logins_30d": 7, "logins_baseline_30d": 18}, reason="Logins fell 61%", via="ui",
    )


def test_the_four_steps_in_order_close_the_case_as_won_back(
    csm, at_risk, won_heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        wb = _open(csm, at_risk)
    assert (wb.step, wb.case.type, wb.arr_at_risk, wb.signal_values["logins_30d"]) == (
        "signal", "win_back", Decimal("12000.00"), 7)
    with django_capture_on_commit_callbacks(execute=True):
        winback.record_cause(csm, wb, cause="product", note="报表功能不满足需求", via="ui")
        winback.choose_plan(csm, wb, offer="product-training", evaluate_on=TODAY + dt.timedelta(days=60),
                            today=TODAY, via="ui")
    tasks = list(Task.objects.filter(case=wb.case).order_by("due_at"))
    assert [t.title for t in tasks] == [
        "Agree a training date with the customer's users", "Run the training and send the materials"]
    assert tasks[0].due_at.date() == TODAY + dt.timedelta(days=3)
    with pytest.raises(ValidationError, match="evaluated on 2026-05-01, not before"):
        winback.evaluate(csm, wb, result="retained", today=TODAY)
    with django_capture_on_commit_callbacks(execute=True):
        wb = winback.evaluate(csm, wb, result="renewed", note="续约一年", today=dt.date(2026, 5, 1), via="ui")
    case = Case.objects.get(pk=wb.case_id)
    assert (wb.step, wb.result, wb.arr_won_back) == ("evaluated", "renewed", Decimal("12000.00"))
    assert (case.status, case.outcome, case.root_cause.code) == ("closed", "closed_success", "product")
    assert [name for name, _ in won_heard] == [
        "winback.opened", "winback.cause_recorded", "winback.planned", "winback.evaluated"]
    assert won_heard[-1][1]["arr_won_back"] == 12000.0
    changes = AuditLog.objects.filter(model="automation.winback", object_id=str(wb.pk)).order_by("pk")
    assert [log.action for log in changes] == ["create", "update", "update", "update"]
    assert all(log.actor == csm and log.via == "ui" for log in changes)


def test_steps_out_of_order_are_refused_and_nothing_changes(csm, at_risk):
    wb = _open(csm, at_risk)
    with pytest.raises(ValidationError, match="steps go in order"):
        winback.choose_plan(csm, wb, offer="product-training", today=TODAY)
    with pytest.raises(ValidationError, match="steps go in order"):
        winback.evaluate(csm, wb, result="retained", today=TODAY)
    winback.record_cause(csm, wb, cause="service")
    with pytest.raises(ValidationError, match="steps go in order"):
        winback.record_cause(csm, wb, cause="price")
    wb.refresh_from_db()
    assert (wb.step, wb.cause.code, Task.objects.filter(case=wb.case).count()) == ("cause", "service", 0)


def test_bad_causes_and_offers_are_refused_by_name(csm, at_risk):
    wb = _open(csm, at_risk)
    with pytest.raises(ValidationError, match="Unknown root cause weather"):
        winback.record_cause(csm, wb, cause="weather")
    with pytest.raises(ValidationError, match="what the cause was"):
        winback.record_cause(csm, wb, cause="other", note=" ")
    winback.record_cause(csm, wb, cause="service")
    with pytest.raises(ValidationError, match="offers for the cause “Service”: Product training, Service review"):
        winback.choose_plan(csm, wb, offer="renewal-discount", discount_percent=5, today=TODAY)
    with pytest.raises(ValidationError, match="after today"):
        winback.choose_plan(csm, wb, offer="service-review", evaluate_on=TODAY, today=TODAY)
    with pytest.raises(ValidationError, match="Only a discount offer"):
        winback.choose_plan(csm, wb, offer="service-review", discount_percent=5, today=TODAY)


def test_a_discount_above_the_limit_needs_a_manager_who_approved_it(csm, at_risk, manager, owner):
    wb = _open(csm, at_risk)
    winback.record_cause(csm, wb, cause="price", note="竞品报价低20%")
    with pytest.raises(ValidationError, match="above the 10.00% you may give without approval"):
        winback.choose_plan(csm, wb, offer="renewal-discount", discount_percent=15, today=TODAY)
    with pytest.raises(ValidationError, match="is not a manager"):
        winback.choose_plan(csm, wb, offer="renewal-discount", discount_percent=15, approver=owner, today=TODAY)
    with pytest.raises(ValidationError, match="above the largest this offer allows"):
        winback.choose_plan(csm, wb, offer="renewal-discount", discount_percent=35, approver=manager, today=TODAY)
    with pytest.raises(ValidationError, match="above 0"):
        winback.choose_plan(csm, wb, offer="renewal-discount", today=TODAY)
    assert WinBack.objects.get(pk=wb.pk).step == "cause"
    wb = winback.choose_plan(csm, wb, offer="renewal-discount", discount_percent="15", approver=manager, today=TODAY)
    assert (wb.discount_percent, wb.approved_by, wb.evaluate_on) == (Decimal("15.00"), manager, TODAY + dt.timedelta(days=90))


def test_a_discount_within_the_limit_needs_no_approval(csm, at_risk):
    wb = _open(csm, at_risk)
    winback.record_cause(csm, wb, cause="business_budget")
    wb = winback.choose_plan(csm, wb, offer="renewal-discount", discount_percent=8, today=TODAY)
    assert (wb.step, wb.discount_percent, wb.approved_by) == ("plan", Decimal("8.00"), None)


def test_someone_who_cannot_see_the_account_cannot_take_a_step(csm, at_risk, team_visibility):
    from clm.core.models import Team

    stranger = make_user("stranger", "CSM", Team.objects.create(name="North"))
    wb = _open(csm, at_risk)
    with pytest.raises(PermissionDenied):
        winback.record_cause(stranger, wb, cause="product")
    with pytest.raises(PermissionDenied):
        winback.open_winback(stranger, account=at_risk, signal="x")


def test_a_churned_evaluation_wins_back_nothing_and_closes_the_case_as_lost(csm, at_risk):
    wb = _open(csm, at_risk)
    winback.record_cause(csm, wb, cause="competitor", note="转用竞品")
    winback.choose_plan(csm, wb, offer="roadmap-call", evaluate_on=TODAY + dt.timedelta(days=1), today=TODAY)
    wb = winback.evaluate(csm, wb, result="churned", today=TODAY + dt.timedelta(days=1))
    assert (wb.arr_won_back, Case.objects.get(pk=wb.case_id).outcome) == (Decimal("0"), "closed_lost")
    again = _open(csm, at_risk)
    winback.record_cause(csm, again, cause="service")
    winback.choose_plan(csm, again, offer="service-review", evaluate_on=TODAY + dt.timedelta(days=1), today=TODAY)
    with pytest.raises(ValidationError, match="Choose the result: Retained, Renewed, Churned"):
        winback.evaluate(csm, again, result="maybe", today=TODAY + dt.timedelta(days=1))


def test_a_win_back_case_a_playbook_opens_starts_its_win_back_from_the_signal(
    ours, django_capture_on_commit_callbacks
):
    from clm.automation import work

    with django_capture_on_commit_callbacks(execute=True):
        case, _ = work.open_case(None, account=ours, type="win_back", reason="Health below 60", rule="playbook:x")
    wb = WinBack.objects.get(case=case)
    assert (wb.step, wb.signal_kind) == ("signal", "playbook:x")


def _evaluated(account, cause, offer, result, arr):
    from clm.automation.models import RootCause

    case = Case.objects.create(account=account, type="win_back", reason="r", status="closed")
    return WinBack.objects.create(
        case=case, account=account, step="evaluated", cause=RootCause.objects.get(code=cause),
        offer=WinBackOffer.objects.get(code=offer), result=result, arr_won_back=Decimal(arr),
        evaluated_at=dt.datetime(2026, 2, 10, tzinfo=dt.UTC),
    )


def test_kpis_by_cause_and_by_offer_on_a_hand_made_world(ours, theirs):
    # three evaluations: product/training renewed (ARR 12000), price/discount churned (0),
    # price/discount retained (ARR 6000) → success 2 ÷ 3, revenue won back 12000 + 6000 = 18000;
    # by cause: price 1 ÷ 2 = 0.5 with 6000, product 1 ÷ 1 with 12000.
    _evaluated(ours, "product", "product-training", "renewed", "12000")
    _evaluated(theirs, "price", "renewal-discount", "churned", "0")
    _evaluated(ours, "price", "renewal-discount", "retained", "6000")
    frame = winback_lists.evaluated(start=dt.date(2026, 2, 1), end=dt.date(2026, 3, 1))
    assert winback_lists.success_rate(frame) == pytest.approx(2 / 3)
    assert winback_lists.revenue_won_back(frame) == 18000.0
    causes = winback_lists.by_cause(frame)
    assert causes.loc["price"].tolist() == [2, 1, 0.5, 6000.0]
    assert causes.loc["product"].tolist() == [1, 1, 1.0, 12000.0]
    offers = winback_lists.by_offer(frame)
    assert offers.loc["renewal-discount", "rate"] == 0.5
    assert winback_lists.evaluated(start=dt.date(2026, 3, 1)).empty
    assert winback_lists.success_rate(winback_lists.evaluated(start=dt.date(2026, 3, 1))) is None


def test_the_churned_list_ranks_by_value_and_how_recently_they_left(admin_user):
    # priority = value × 0.5 ** (days / 180): A 100000 × ¼ (360 days) = 25000,
    # B 40000 × 1 (today) = 40000, C 60000 × ½ (180 days) = 30000 → B, C, A.
    left = {"A": (100000, 360), "B": (40000, 0), "C": (60000, 180)}
    for name, (value, days) in left.items():
        account = Account.objects.create(
            name=name, lifecycle_stage="churned", lifecycle_stage_since=TODAY - dt.timedelta(days=days))
        TierAssignment.objects.create(account=account, as_of=TODAY, tier="t", tier_label="t",
                                      tenure_years=1, total_revenue=Decimal(value))
        sub = new_subscription(account, dt.date(2024, 1, 1), "100.00")
        Subscription.objects.filter(pk=sub.pk).update(status="cancelled", cancel_reason=f"{name} 预算削减")
    Account.objects.create(name="active one", lifecycle_stage="growth")
    rows = winback_lists.churned_list(admin_user, today=TODAY)
    assert [(r.account.name, round(r.priority)) for r in rows] == [("B", 40000), ("C", 30000), ("A", 25000)]
    assert rows[0].reason == "B 预算削减" and rows[2].days_since == 360


def test_the_churned_list_dates_a_churn_by_the_last_contract_not_the_engines_first_sight(admin_user):
    """A first run over imported history sees every past churner on its first day; the list says
    when each left by its last contract's end, as the account page's "Churned on" does."""
    account = Account.objects.create(name="老客户", lifecycle_stage="churned",
                                     lifecycle_stage_since=TODAY - dt.timedelta(days=30))
    sub = new_subscription(account, dt.date(2024, 1, 1), "100.00")
    Subscription.objects.filter(pk=sub.pk).update(status="cancelled", cancelled_on=TODAY - dt.timedelta(days=200))
    row = winback_lists.churned_list(admin_user, today=TODAY)[0]
    assert row.left_on == TODAY - dt.timedelta(days=200) and row.days_since == 200


def test_a_churned_account_without_a_value_tier_is_valued_by_what_it_brought(admin_user):
    """A churned account gets no value tier (issue 13 §2), but the value run keeps its CLV estimate
    of what it brought, with the revenue to date among the inputs: the list ranks by that, not
    by ¥0. An account with neither is valued at nothing, and one whose estimate lacks the figure
    falls back to its last tier."""
    from clm.value.models import CLVEstimate

    rows = {}
    for name, days, inputs, tier in (("有估计", 90, {"revenue_to_date": 48633.45, "churned": True}, None),
                                     ("无记录", 0, None, None),
                                     ("旧等级", 180, {"revenue_to_date": None}, Decimal("30000"))):
        account = Account.objects.create(name=name, lifecycle_stage="churned")
        sub = new_subscription(account, dt.date(2024, 1, 1), "100.00")
        Subscription.objects.filter(pk=sub.pk).update(status="cancelled", cancelled_on=TODAY - dt.timedelta(days=days))
        if inputs is not None:
            CLVEstimate.objects.create(account=account, as_of=TODAY, method="sbg", value=1, historical_value=1,
                                       future_value=0, inputs=inputs)
        if tier is not None:
            TierAssignment.objects.create(account=account, as_of=TODAY - dt.timedelta(days=200), tier="t",
                                          tier_label="t", tenure_years=1, total_revenue=tier)
        rows[name] = account
    listed = {r.account.name: r for r in winback_lists.churned_list(admin_user, today=TODAY)}
    assert listed["有估计"].value == Decimal("48633.45")
    assert round(listed["有估计"].priority) == round(48633.45 * 0.5 ** (90 / 180))
    assert listed["无记录"].value == 0 and listed["旧等级"].value == Decimal("30000")
