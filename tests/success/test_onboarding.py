"""Onboarding checklists: the definition that fits, milestones completed from stored usage and by
hand, activation, and one case per late milestone, closed when it is done."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clm.automation.models import Case
from clm.core import events
from clm.core.models import AuditLog
from clm.success import onboarding
from clm.success.models import Onboarding, OnboardingStep
from tests.factories import make_account, new_subscription
from tests.success.conftest import STANDARD, days_ago, make_definition, use

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def heard():
    got = []

    def listener(event):
        got.append((event.name, event.payload))

    events.listen("onboarding.milestone_completed", "onboarding.activated")(listener)
    yield got
    events.unlisten(listener)


def started(account, ago=20, definition=None):
    new_subscription(account, days_ago(ago), 1000)
    return onboarding.start_onboarding(None, account, definition=definition)


def steps(o):
    return {s.milestone.name: s for s in OnboardingStep.objects.filter(onboarding=o).select_related("milestone")}


def test_the_most_specific_definition_fits_and_the_checklist_counts_days_from_the_contract_start(account):
    make_definition("Everyone", STANDARD)
    manufacturing = make_definition("Manufacturing", STANDARD[:2], industry="制造业")
    account.industry = "制造业"
    account.save()
    o = started(account, ago=20)
    assert o.definition == manufacturing and o.started_on == days_ago(20)
    assert {name: s.due_on for name, s in steps(o).items()} == {
        "First core feature": days_ago(13), "Three users on one day": days_ago(6)}


def test_usage_completes_each_milestone_on_the_day_it_was_reached_and_activates(
        django_capture_on_commit_callbacks, account, core_feature, heard):
    make_definition("Everyone", STANDARD)
    o = started(account, ago=20)
    with django_capture_on_commit_callbacks(execute=True):
        use(account, [
            (22, "u1", "approval.submit", "approval_flow"),  # before the contract: not counted
            (18, "u1", "approval.submit", "approval_flow"),  # day 2: first value
            (17, "u1", "login", ""), (17, "u2", "login", ""),  # two users only
            (15, "u1", "login", ""), (15, "u2", "login", ""), (15, "u3", "login", ""),  # day 5: three
            (14, "u1", "integration.connected", ""),  # day 6
        ])
        result = onboarding.evaluate(days_ago(0))
    assert result["completed"] == 3 and result["activated"] == 1
    done = steps(o)
    assert done["First core feature"].completed_on == days_ago(18)
    assert done["Three users on one day"].completed_on == days_ago(15)
    assert done["Integration connected"].completed_on == days_ago(14)
    assert all(s.completed_via == "usage" and s.evidence for s in done.values())
    o.refresh_from_db()
    assert (o.status, o.activated_on, o.first_value_on) == ("activated", days_ago(14), days_ago(18))
    names = [n for n, _ in heard]
    assert names.count("onboarding.milestone_completed") == 3 and names.count("onboarding.activated") == 1
    assert [p["days"] for n, p in heard if n == "onboarding.activated"] == [6]
    assert AuditLog.objects.filter(model="success.onboardingstep", action="update").count() == 3


def test_a_late_milestone_opens_one_case_for_the_csm_and_reaching_it_closes_the_case(account, csm, core_feature):
    account.csm = csm
    account.save()
    make_definition("Everyone", STANDARD[:2])
    o = started(account, ago=10)
    onboarding.evaluate()
    onboarding.evaluate()  # a second run opens no second case
    cases = list(Case.objects.filter(account=account))
    assert len(cases) == 1
    case = cases[0]
    assert (case.type, case.owner, case.status) == ("onboarding", csm, "open")
    assert "First core feature" in case.reason
    assert steps(o)["First core feature"].case == case
    use(account, [(1, "u1", "approval.submit", "approval_flow")])
    onboarding.evaluate()
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "closed_success")
    assert steps(o)["First core feature"].completed_on == days_ago(1)


def test_a_milestone_confirmed_by_hand_records_who_and_when(account, csm):
    account.csm = csm
    account.save()
    make_definition("Everyone", [("Kick-off meeting", "manual", "", 1, 7, True)])
    o = started(account, ago=5)
    step = steps(o)["Kick-off meeting"]
    onboarding.complete_step(csm, step, on=days_ago(2), note="启动会已开")
    step.refresh_from_db()
    assert (step.completed_on, step.completed_by, step.completed_via, step.evidence) == (
        days_ago(2), csm, "hand", "启动会已开")
    o.refresh_from_db()
    assert o.status == "activated" and o.activated_on == days_ago(2)
    log = AuditLog.objects.get(model="success.onboardingstep", action="update")
    assert log.actor == csm


def test_hand_completion_refuses_bad_days_twice_and_strangers(account, csm, owner, team_visibility):
    account.csm = csm
    account.save()
    make_definition("Everyone", [("Kick-off meeting", "manual", "", 1, 7), ("Training", "manual", "", 1, 14)])
    o = started(account, ago=5)
    step = steps(o)["Kick-off meeting"]
    with pytest.raises(ValidationError) as future:
        onboarding.complete_step(csm, step, on=days_ago(-1))
    assert "future" in str(future.value)
    with pytest.raises(ValidationError) as early:
        onboarding.complete_step(csm, step, on=days_ago(9))
    assert "before the onboarding started" in str(early.value)
    with pytest.raises(PermissionDenied):
        onboarding.complete_step(owner, step)  # a rep of another team
    onboarding.complete_step(csm, step)
    with pytest.raises(ValidationError) as twice:
        onboarding.complete_step(csm, step)
    assert "already completed" in str(twice.value)
    assert Onboarding.objects.get(pk=o.pk).status == "in_progress"


def test_the_daily_run_starts_onboardings_for_new_customers_in_the_onboarding_stage(account):
    make_definition("Everyone", STANDARD)
    account.lifecycle_stage = "onboarding"
    account.save()
    new_subscription(account, days_ago(4), 800)
    old = make_account("老客户", lifecycle_stage="onboarding")
    new_subscription(old, days_ago(200), 800)  # its contract is too old for an onboarding
    growing = make_account("成长客户", lifecycle_stage="growth")
    new_subscription(growing, days_ago(4), 800)
    made = onboarding.start_new_onboardings(days_ago(0))
    assert [o.account for o in made] == [account]
    assert onboarding.start_new_onboardings(days_ago(0)) == []  # once
    assert OnboardingStep.objects.filter(onboarding=made[0]).count() == 3


def test_starting_an_onboarding_without_a_definition_or_contract_says_what_is_missing(account):
    with pytest.raises(ValidationError) as missing:
        onboarding.start_onboarding(None, account)
    assert set(missing.value.message_dict) == {"started_on", "definition"}
    assert not Onboarding.objects.exists()


def test_an_onboarding_not_done_within_90_days_lapses_and_its_case_closes_as_lost(account, csm):
    account.csm = csm
    account.save()
    make_definition("Everyone", [("Kick-off meeting", "manual", "", 1, 7)])
    o = started(account, ago=80)
    onboarding.evaluate()
    case = Case.objects.get(account=account)
    assert onboarding.lapse_old(days_ago(0)) == 0  # 80 days in: still onboarding
    assert onboarding.lapse_old(days_ago(-11)) == 1  # 91 days in
    o.refresh_from_db()
    case.refresh_from_db()
    assert o.status == "lapsed" and (case.status, case.outcome) == ("closed", "closed_lost")
    assert onboarding.evaluate(days_ago(-11))["cases_opened"] == 0
