"""Creating and editing accounts, contacts, tickets, subscriptions and interactions in the
workspace: through clm.core.records (permissions, visibility, validation, audit), messages beside
the field in the user's language, nothing written on an error."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clm.commerce.models import Product, Subscription, SubscriptionChange
from clm.core.models import AuditLog
from clm.customers.models import Account, Contact, Interaction
from clm.service.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, owner):
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    return client


@pytest.fixture
def as_csm(client, csm):
    csm.language = "en"
    csm.save()
    client.force_login(csm)
    return client


def new(kind, account=None):
    url = reverse("web:record_new", args=[kind])
    return f"{url}?account={account.pk}" if account else url


def test_a_sales_user_creates_an_account_that_is_theirs_and_audited(signed_in, owner):
    response = signed_in.post(new("accounts"), {"name": "比亚迪股份", "industry": "汽车", "sales_owner": owner.pk})
    account = Account.objects.get(name="比亚迪股份")
    assert response.status_code == 302 and response["Location"] == reverse("web:account", args=[account.pk])
    assert account.sales_owner == owner and account.search_key.startswith("biyadi")
    log = AuditLog.objects.get(model="customers.account", object_id=str(account.pk))
    assert (log.via, log.action, log.actor) == ("ui", "create", owner)


def test_a_blank_name_comes_back_filled_with_the_message_beside_the_field(signed_in):
    response = signed_in.post(new("accounts"), {"name": "\u3000 ", "industry": "电子", "employee_count": "-3"})
    assert response.status_code == 422
    form = response.context["form"]
    assert form["name"].errors == ["This field is required."]
    assert form["employee_count"].errors == ["Ensure this value is greater than or equal to 0."]
    html = response.content.decode()
    assert 'value="电子"' in html and 'data-field="name"' in html
    assert not Account.objects.exists()


def test_messages_and_labels_follow_the_users_language(client, owner):
    owner.language = "zh-hans"
    owner.save()
    client.force_login(owner)
    response = client.post(new("accounts"), {"name": "", "employee_count": "很多"})
    html = response.content.decode()
    assert response.status_code == 422
    assert "公司名称" in html and "这个字段是必填项。" in html and "输入整数。" in html
    assert "Company name" not in html


def test_a_contact_is_created_on_the_account_and_edited(signed_in, owner, huawei):
    response = signed_in.post(new("contacts", huawei), {
        "account": huawei.pk, "name": "赵敏", "email": "zhao.min@example.cn", "role": "influencer", "status": "active",
    })
    contact = Contact.objects.get(name="赵敏")
    assert response.status_code == 302 and contact.account == huawei
    edit = reverse("web:record_edit", args=["contacts", contact.pk])
    response = signed_in.post(edit, {"account": huawei.pk, "name": "赵敏", "status": "left"})
    contact.refresh_from_db()
    assert response.status_code == 302 and contact.status == "left" and contact.left_on is not None  # dated by its rule
    assert AuditLog.objects.filter(model="customers.contact", object_id=str(contact.pk), action="update", via="ui").exists()


def test_a_bad_email_is_refused_beside_the_field(signed_in, huawei):
    response = signed_in.post(new("contacts", huawei), {"account": huawei.pk, "name": "钱七", "email": "not-an-email",
                                                        "status": "active"})
    assert response.status_code == 422
    assert response.context["form"]["email"].errors == ["Enter a valid email address."]
    assert not Contact.objects.filter(name="钱七").exists()


def test_a_ticket_needs_a_contact_of_its_own_account(as_csm, csm, huawei):
    other = Account.objects.create(name="小米", csm=csm)
    stranger = Contact.objects.create(account=other, name="雷军")
    response = as_csm.post(new("tickets"), {
        "account": huawei.pk, "contact": stranger.pk, "subject": "导出失败", "priority": "high", "status": "open",
    })
    assert response.status_code == 422
    assert response.context["form"]["contact"].errors  # not among huawei's people
    assert not Ticket.objects.filter(subject="导出失败").exists()


def test_a_ticket_is_opened_now_by_default_and_checks_its_dates_and_csat(as_csm, huawei):
    contact = huawei.contacts.first()
    bad = as_csm.post(new("tickets", huawei), {
        "account": huawei.pk, "subject": "登录慢", "priority": "urgent", "status": "open", "csat": 9,
        "opened_at": "2026-11-02T10:00", "resolved_at": "2026-11-01T10:00",
    })
    form = bad.context["form"]
    assert bad.status_code == 422
    assert form["csat"].errors and form["resolved_at"].errors == ["This is before the ticket was opened."]
    ok = as_csm.post(new("tickets", huawei), {
        "account": huawei.pk, "contact": contact.pk, "subject": "登录慢", "priority": "urgent", "status": "open",
    })
    ticket = Ticket.objects.get(subject="登录慢")
    assert ok.status_code == 302 and ticket.opened_at is not None and ticket.contact == contact


def test_a_subscription_goes_through_its_ledger_rule(client, admin_user, huawei):
    admin_user.language = "en"
    admin_user.save()
    client.force_login(admin_user)
    product = Product.objects.get(name="CLM Cloud")
    response = client.post(new("subscriptions", huawei), {
        "account": huawei.pk, "product": product.pk, "status": "active", "start_date": "2026-12-01",
        "seats": 20, "mrr": "3000",
    })
    subscription = Subscription.objects.get(account=huawei, mrr=Decimal("3000"))
    assert response.status_code == 302
    assert SubscriptionChange.objects.filter(subscription=subscription, kind="new").exists()
    refused = client.post(new("subscriptions", huawei), {
        "account": huawei.pk, "status": "active", "start_date": "2026-12-01", "end_date": "2026-01-01",
        "seats": 1, "mrr": "-5",
    })
    assert refused.status_code == 422
    assert refused.context["form"]["end_date"].errors == ["This is before the start date."]
    assert refused.context["form"]["mrr"].errors


def test_an_interaction_is_edited_by_whoever_may_change_interactions(signed_in, huawei):
    interaction = Interaction.objects.filter(account=huawei).first()
    url = reverse("web:record_edit", args=["interactions", interaction.pk])
    form = signed_in.get(url).context["form"]
    assert form["account"].value() == huawei.pk
    response = signed_in.post(url, {"account": huawei.pk, "type": "meeting", "occurred_at": "2026-11-30T15:00",
                                    "summary": "QBR 准备会"})
    interaction.refresh_from_db()
    assert response.status_code == 302 and (interaction.type, interaction.summary) == ("meeting", "QBR 准备会")


def test_a_new_interaction_belongs_to_who_logs_it(signed_in, owner, huawei):
    signed_in.post(new("interactions", huawei), {"account": huawei.pk, "type": "call", "summary": "续约电话",
                                                 "occurred_at": "2026-12-01T09:30"})
    assert Interaction.objects.get(summary="续约电话").owner == owner


def test_someone_elses_account_is_not_there_for_a_restricted_user(signed_in, team_visibility, theirs):
    assert signed_in.get(reverse("web:record_edit", args=["accounts", theirs.pk])).status_code == 404
    response = signed_in.post(new("contacts"), {"account": theirs.pk, "name": "偷偷", "status": "active"})
    assert response.status_code == 422 and response.context["form"]["account"].errors
    assert not Contact.objects.filter(name="偷偷").exists()


def test_a_viewer_may_not_create_or_change(client, viewer, huawei):
    client.force_login(viewer)
    assert client.get(new("accounts")).status_code == 403
    assert client.post(reverse("web:record_edit", args=["accounts", huawei.pk]), {"name": "改名"}).status_code == 403
    huawei.refresh_from_db()
    assert huawei.name == "华为技术有限公司"


def test_a_sales_user_may_not_hand_an_account_to_someone_else(signed_in, owner, huawei, teammate):
    huawei.sales_owner = teammate
    huawei.save()
    url = reverse("web:record_edit", args=["accounts", huawei.pk])
    response = signed_in.post(url, {"name": huawei.name, "sales_owner": owner.pk})
    assert response.status_code == 422
    assert "not yours to reassign" in response.content.decode()
    huawei.refresh_from_db()
    assert huawei.sales_owner == teammate


def test_the_contact_list_follows_the_account_chosen(signed_in, huawei):
    response = signed_in.get(reverse("web:record_contacts"), {"account": huawei.pk})
    html = response.content.decode()
    assert "王芳" in html and "李雷" in html
    assert signed_in.get(reverse("web:record_contacts"), {"account": "x"}).content.decode().count("<option") == 1


def test_an_unknown_kind_is_a_404(signed_in):
    assert signed_in.get("/records/payments/new/").status_code == 404


def test_pages_link_to_the_forms(signed_in, huawei):
    html = signed_in.get(reverse("web:account", args=[huawei.pk])).content.decode()
    for kind in ("contacts", "subscriptions"):  # a sales user: tickets are the CSMs'
        assert f"/records/{kind}/new/?account={huawei.pk}" in html
    assert "/records/tickets/new/" not in html
    assert reverse("web:record_edit", args=["accounts", huawei.pk]) in html
    assert reverse("web:record_new", args=["accounts"]) in signed_in.get(reverse("web:accounts")).content.decode()


def test_dates_in_the_future_are_accepted_as_typed(signed_in, huawei):
    day = dt.date(2027, 3, 1)
    signed_in.post(reverse("web:record_edit", args=["accounts", huawei.pk]), {
        "name": huawei.name, "customer_since": day.isoformat(), "sales_owner": huawei.sales_owner_id,
        "csm": huawei.csm_id,
    })
    huawei.refresh_from_db()
    assert huawei.customer_since == day
