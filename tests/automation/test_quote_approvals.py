"""Approvers hear of a quote waiting for them (a task on the account, an email in their language
through a real SMTP server), and the quote's author hears the decision."""

from decimal import Decimal

import pytest
from django.utils import translation

from clm.automation.models import Task
from clm.commerce.models import Product
from clm.core import services
from clm.core.models import Role
from clm.sales import quotes
from clm.sales.models import ApprovalRule, Opportunity
from clm.sales.pipelines import install_built_in
from tests.factories import make_account, make_user

pytestmark = pytest.mark.django_db


def test_the_approver_gets_a_task_and_an_email_and_the_author_hears_the_decision(
    smtp, owner, team_a, django_capture_on_commit_callbacks
):
    install_built_in()
    owner.email, owner.language = "rep@example.com", "en"
    owner.save()
    approver = make_user("lead", Role.MANAGER, team_a, email="lead@example.com", language="zh-hans")
    ApprovalRule.objects.create(name="15%+", above_discount=Decimal("0.15"), approver_role=Role.MANAGER)
    plan = Product.objects.create(name="专业版", list_price=Decimal(260))
    account = make_account("华星精密", sales_owner=owner)
    deal = services.create(Opportunity, {"account": account, "name": "年度订阅", "owner": owner})
    with django_capture_on_commit_callbacks(execute=True):
        quote = quotes.create_quote(owner, deal, [{"product": plan.pk, "quantity": 10, "discount": "0.2"}])
        quote = quotes.submit(owner, quote)
    task = Task.objects.get(assignee=approver)
    assert task.account == account and "审批报价" in task.title and quote.number in task.title
    with translation.override("zh-hans"):
        assert task.source == Task.Source.APPROVAL and task.get_source_display() == "审批请求"
    assert [m["To"] for m in smtp.messages] == ["lead@example.com"]
    assert "审批报价" in smtp.messages[0]["Subject"]
    assert f"/quotes/{quote.pk}/" in smtp.messages[0].get_content()
    with django_capture_on_commit_callbacks(execute=True):
        quotes.decide(approver, quote.approvals.get(), approve=False, comment="折扣过高")
    assert smtp.messages[-1]["To"] == "rep@example.com"
    assert "was rejected" in smtp.messages[-1]["Subject"] and "折扣过高" in smtp.messages[-1].get_content()
