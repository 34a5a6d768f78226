"""Quotes in the workspace: a rep writes one from a deal (a bad line is named, nothing saved),
submits it, the manager approves it from the quote's page, the rep sends it and records the
customer's acceptance; the printable copy reads in the quote's language; another team sees nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clm.commerce.models import Product, Subscription
from clm.core import services
from clm.core.models import Role
from clm.sales.models import ApprovalRule, Opportunity, Quote
from clm.sales.pipelines import install_built_in
from tests.factories import make_account, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(owner, team_a, team_visibility):
    install_built_in()
    make_user("lead", Role.MANAGER, team_a)
    ApprovalRule.objects.create(name="15%+", above_discount=Decimal("0.15"), approver_role=Role.MANAGER)
    Product.objects.create(name="专业版（席位/月）", list_price=Decimal(260), is_recurring=True)
    Product.objects.create(name="实施服务包", list_price=Decimal(18000), is_recurring=False)
    account = make_account("华星精密", sales_owner=owner)
    return services.create(Opportunity, {"account": account, "name": "年度订阅", "owner": owner})


def form_data(lines, **fields):
    data = {"term_months": 12, "tax_rate": 6, "language": "zh-hans", "line-TOTAL_FORMS": 6, "line-INITIAL_FORMS": 0}
    for i, (product, quantity, discount) in enumerate(lines):
        data |= {f"line-{i}-product": product, f"line-{i}-quantity": quantity, f"line-{i}-discount": discount}
    return data | fields


def test_a_quote_from_form_to_acceptance(client, owner, deal):
    plan, service = Product.objects.order_by("pk")
    client.force_login(owner)
    page = client.get(reverse("web:quote_new", args=[deal.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "专业版" in page.content.decode()
    answer = client.post(reverse("web:quote_new", args=[deal.pk]), form_data([(plan.pk, 0, 20)]), HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 422 and "quantity must be above 0" in answer.content.decode()
    assert not Quote.objects.exists()
    answer = client.post(reverse("web:quote_new", args=[deal.pk]), form_data([(plan.pk, 12, 20), (service.pk, 1, 0)]))
    quote = Quote.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("web:quote", args=[quote.pk])
    assert quote.monthly == Decimal("2496.00")  # 12 × 260 × 0.8
    answer = client.post(reverse("web:quote_action", args=[quote.pk, "send"]), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "needs approval" in answer.content.decode()  # 20% off waits for the manager
    client.post(reverse("web:quote_action", args=[quote.pk, "submit"]))
    quote.refresh_from_db()
    assert quote.status == "pending"

    client.force_login(make_user_manager := quote.approvals.get().approver)
    page = client.get(reverse("web:quote", args=[quote.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-testid="approve"' in page.content.decode()
    client.post(reverse("web:approval_decide", args=[quote.approvals.get().pk]), {"decision": "approve"})
    quote.refresh_from_db()
    assert quote.status == "approved" and make_user_manager.username == "lead"

    client.force_login(owner)
    client.post(reverse("web:quote_action", args=[quote.pk, "send"]))
    client.post(reverse("web:quote_action", args=[quote.pk, "accept"]), {"start": "2027-01-01"})
    quote.refresh_from_db()
    assert quote.status == "accepted"
    assert Subscription.objects.get(account=deal.account).start_date == dt.date(2027, 1, 1)


def test_the_printable_copy_reads_in_the_quotes_language(client, owner, deal):
    plan = Product.objects.order_by("pk").first()
    client.force_login(owner)
    client.post(reverse("web:quote_new", args=[deal.pk]), form_data([(plan.pk, 5, 0)], language="en"))
    quote = Quote.objects.get()
    text = client.get(reverse("web:quote_print", args=[quote.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Quotation" in text and "Total" in text and "报价" not in text


def test_a_rejection_without_a_comment_is_refused_with_a_message(client, owner, deal):
    plan = Product.objects.order_by("pk").first()
    client.force_login(owner)
    client.post(reverse("web:quote_new", args=[deal.pk]), form_data([(plan.pk, 5, 30)]))
    quote = Quote.objects.get()
    client.post(reverse("web:quote_action", args=[quote.pk, "submit"]))
    approval = quote.approvals.get()
    client.force_login(approval.approver)
    answer = client.post(reverse("web:approval_decide", args=[approval.pk]), {"decision": "reject"}, follow=True,
                         HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert "Say why the quote is rejected." in answer.content.decode()
    assert "Quotes awaiting my approval" in client.get(reverse("web:approvals"), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_another_team_sees_no_quote(client, owner, outsider, deal):
    plan = Product.objects.order_by("pk").first()
    client.force_login(owner)
    client.post(reverse("web:quote_new", args=[deal.pk]), form_data([(plan.pk, 5, 0)]))
    quote = Quote.objects.get()
    client.force_login(outsider)
    assert client.get(reverse("web:quote", args=[quote.pk])).status_code == 404
    assert client.get(reverse("web:quote_print", args=[quote.pk])).status_code == 404
    assert client.get(reverse("web:quote_new", args=[deal.pk])).status_code == 404
    assert client.post(reverse("web:quote_action", args=[quote.pk, "send"])).status_code == 404
