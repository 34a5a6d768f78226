"""Plays follow the success programmes: a playbook triggered when a plan becomes stuck gives its
CSM a task, once; one on activation hears the onboarding's last milestone."""

import pytest

from clm.automation.models import Task
from clm.automation.playbooks import services as playbooks
from clm.success import onboarding, plans
from tests.automation.conftest import playbook_doc
from tests.factories import new_subscription
from tests.success.conftest import days_ago, make_definition

pytestmark = pytest.mark.django_db(transaction=True)

CALL = [{"id": "call", "type": "create_task", "title": {"zh": "高层通话：计划停滞", "en": "Executive call"},
         "assignee": "csm"}]


def test_a_stuck_plan_gives_the_csm_a_task_from_the_play(account, csm, admin_user):
    account.csm = csm
    account.save()
    playbooks.save_document(playbook_doc("plan-stuck", trigger={"type": "success_plan_status_changed", "to": ["stuck"]},
                                         steps=CALL), actor=admin_user)
    plan = plans.create_plan(None, account, title="计划", starts_on=days_ago(90))
    plans.add_milestone(None, plan, title="上线", due_on=days_ago(20))  # behind: no play
    assert not Task.objects.exists()
    plans.refresh_plans(days_ago(-15))  # 35 days late: stuck
    (task,) = Task.objects.all()
    assert (task.title, task.assignee, task.account) == ("高层通话：计划停滞", csm, account)
    plans.refresh_plans(days_ago(-16))  # still stuck: nothing new
    assert Task.objects.count() == 1


def test_a_play_hears_an_activation(account, csm, admin_user):
    account.csm = csm
    account.save()
    playbooks.save_document(playbook_doc("activated", trigger={"type": "onboarding_activated"}, steps=CALL),
                            actor=admin_user)
    make_definition("Everyone", [("Kick-off", "manual", "", 1, 7)])
    new_subscription(account, days_ago(3), 100)
    o = onboarding.start_onboarding(None, account)
    onboarding.complete_step(csm, o.steps.get())
    assert Task.objects.filter(account=account, assignee=csm).count() == 1


def test_a_bad_trigger_is_refused_with_its_reason(admin_user):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as bad:
        playbooks.save_document(playbook_doc("bad", trigger={"type": "success_plan_status_changed", "to": ["late"]}),
                                actor=admin_user)
    assert "late" in str(bad.value)
