"""`clm simulate --wipe` replaces the customer data and keeps the configuration an administrator
wrote in the same apps (clm.demo.writer.CONFIGURATION): the sales process, the survey and feedback
set-up, the activation definitions — but not one about a product of the catalogue it removed."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from clm.commerce.models import Product
from clm.core.models import User
from clm.customers.models import Account
from clm.sales.models import ICP, ApprovalRule, AssignmentRule, Pipeline, PipelineStage
from clm.service.models import FeedbackForm, FeedbackRule, Survey
from clm.success.models import ActivationDefinition, ActivationMilestone

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2025, 6, 30)


def simulate(*extra):
    call_command("simulate", "--accounts", "8", "--months", "3", "--as-of", AS_OF.isoformat(), *extra,
                 stdout=StringIO(), stderr=StringIO())


def test_a_wipe_keeps_the_sales_service_and_onboarding_configuration():
    simulate()
    boss = User.objects.create(username="boss")
    ApprovalRule.objects.create(name="discount over 20%", above_discount=Decimal("0.2"), approver=boss)
    AssignmentRule.objects.create(name="east", kind="round_robin").reps.add(boss)
    ICP.objects.create(key="east", name="华东", rules=[])
    Survey.objects.create(name="NPS", kind="nps", question_zh="您会推荐我们吗？")
    form = FeedbackForm.objects.create(key="ideas", title="建议", fields=[], owner=boss)
    FeedbackRule.objects.create(form=form, position=0, keyword="钉钉", owner=boss)
    everyone = ActivationDefinition.objects.create(name="everyone", name_zh="全部", position=0)
    ActivationMilestone.objects.create(definition=everyone, position=0, name="first use", name_zh="首次使用",
                                       kind="core_feature", days_allowed=14)
    ActivationDefinition.objects.create(name="old product", name_zh="旧产品", position=1,
                                        product=Product.objects.first())
    stages = PipelineStage.objects.count()

    simulate("--wipe", "--seed", "2")

    assert Account.objects.count() == 8
    assert list(ApprovalRule.objects.values_list("name", "approver__username")) == [("discount over 20%", "boss")]
    assert list(AssignmentRule.objects.get().reps.values_list("username", flat=True)) == ["boss"]
    assert ICP.objects.get().key == "east" and Survey.objects.get().name == "NPS"
    assert FeedbackRule.objects.get().form == FeedbackForm.objects.get(key="ideas")
    assert list(ActivationDefinition.objects.values_list("name", flat=True)) == ["everyone"]
    assert ActivationMilestone.objects.get().definition == everyone
    assert Pipeline.objects.exists() and PipelineStage.objects.count() == stages
