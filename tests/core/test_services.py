"""The service layer: every change validated, audited, and followed by its model's ledger."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from clm.commerce.models import Subscription, SubscriptionChange
from clm.core import services
from clm.core.models import AuditLog, CustomField
from clm.customers.models import Account, Contact
from clm.customers.services import validate_custom
from clm.sales.models import Lead, Opportunity

pytestmark = pytest.mark.django_db


def test_create_update_delete_are_audited_with_old_and_new_values(owner):
    account = services.create(Account, {"name": "华星精密", "industry": "制造业"}, actor=owner, via="api")
    services.update(account, {"industry": "零售", "city": "深圳"}, actor=owner, via="ui")
    services.delete(account, actor=owner, via="ui")
    logs = list(AuditLog.objects.order_by("id"))
    assert [(log.action, log.via, log.actor) for log in logs] == [
        ("create", "api", owner), ("update", "ui", owner), ("delete", "ui", owner),
    ]
    assert logs[0].changes["name"] == [None, "华星精密"]
    assert logs[1].changes == {"industry": ["制造业", "零售"], "city": ["", "深圳"]}
    assert logs[2].changes["industry"] == ["零售", None]
    assert logs[2].object_repr == "华星精密"


def test_an_update_that_changes_nothing_writes_no_audit_row(owner):
    account = services.create(Account, {"name": "Acme"}, actor=owner)
    services.update(account, {"name": "Acme"}, actor=owner)
    assert AuditLog.objects.filter(action="update").count() == 0


def test_tag_changes_are_audited(owner):
    from clm.customers.models import Tag, TagCategory

    tag = Tag.objects.create(category=TagCategory.objects.create(name="产线自动化率"), value="高")
    account = services.create(Account, {"name": "Acme"}, actor=owner)
    services.update(account, {}, actor=owner, m2m={"tags": [tag]})
    assert AuditLog.objects.get(action="update").changes == {"tags": [[], [tag.pk]]}


def test_invalid_data_is_refused_and_nothing_is_written(owner):
    with pytest.raises(ValidationError) as exc:
        services.create(Contact, {"name": "x", "email": "not-an-email", "account_id": None}, actor=owner)
    fields = {m["field"] for m in services.validation_messages(exc.value)}
    assert {"email", "account"} <= fields
    assert Contact.objects.count() == 0 and AuditLog.objects.count() == 0


def test_a_subscription_keeps_its_mrr_ledger(owner):
    account = Account.objects.create(name="Acme")
    sub = services.create(
        Subscription,
        {"account": account, "start_date": dt.date(2024, 1, 1), "mrr": Decimal("1000"), "seats": 10},
        actor=owner,
    )
    sub = services.update(sub, {"mrr": Decimal("1500"), "seats": 15}, actor=owner)
    sub = services.update(sub, {"mrr": Decimal("1200")}, actor=owner)
    sub = services.update(sub, {"status": "cancelled", "cancelled_on": dt.date(2025, 1, 1)}, actor=owner)
    sub = services.update(sub, {"status": "active"}, actor=owner)
    changes = list(SubscriptionChange.objects.filter(subscription=sub).order_by("id"))
    assert [c.kind for c in changes] == ["new", "expansion", "contraction", "churn", "reactivation"]
    assert [c.mrr_delta for c in changes] == [1000, 500, -300, -1200, 1200]
    assert changes[0].effective_date == dt.date(2024, 1, 1)
    assert changes[3].effective_date == dt.date(2025, 1, 1)
    assert sum(c.mrr_delta for c in changes) == sub.mrr


def test_a_renewal_with_the_same_price_is_recorded_as_a_renewal(owner):
    account = Account.objects.create(name="Acme")
    sub = services.create(
        Subscription,
        {"account": account, "start_date": dt.date(2024, 1, 1), "mrr": 100, "renewal_date": dt.date(2025, 1, 1)},
    )
    services.update(sub, {"renewal_date": dt.date(2026, 1, 1)})
    assert list(SubscriptionChange.objects.values_list("kind", flat=True).order_by("id")) == ["new", "renewal"]


def test_a_negative_mrr_is_refused():
    account = Account.objects.create(name="Acme")
    with pytest.raises(ValidationError, match="subscription_mrr_not_negative"):
        services.create(Subscription, {"account": account, "start_date": dt.date(2024, 1, 1), "mrr": -5})


def test_an_opportunity_keeps_its_stage_history_and_close_date(owner):
    account = Account.objects.create(name="Acme")
    opp = services.create(Opportunity, {"account": account, "name": "Renewal 2025", "type": "renewal"}, actor=owner)
    opp = services.update(opp, {"stage": "proposal"}, actor=owner)
    opp = services.update(opp, {"stage": "won"}, actor=owner)
    history = list(opp.stage_history.values_list("from_stage", "to_stage", "changed_by"))
    assert history == [("", "qualify", owner.pk), ("qualify", "proposal", owner.pk), ("proposal", "won", owner.pk)]
    opp.refresh_from_db()
    assert opp.closed_on is not None


def test_a_lead_records_the_date_of_each_status():
    lead = services.create(Lead, {"name": "王芳", "company": "云帆"})
    lead = services.update(lead, {"status": "mql"})
    lead = services.update(lead, {"status": "sql"})
    lead.refresh_from_db()
    assert lead.mal_at <= lead.mql_at <= lead.sql_at
    assert lead.converted_at is None


def test_a_contact_who_leaves_is_dated():
    contact = services.create(Contact, {"account": Account.objects.create(name="Acme"), "name": "李雷"})
    services.update(contact, {"status": "left"})
    contact.refresh_from_db()
    assert contact.left_on is not None


def test_custom_attributes_are_checked_against_the_registry():
    CustomField.objects.create(target="account", key="erp", label="ERP", type="choice", choices=["SAP", "用友", "金蝶"])
    CustomField.objects.create(target="account", key="plants", label="工厂数", type="number", required=True)
    CustomField.objects.create(target="account", key="iso", label="ISO 9001", type="boolean")
    assert validate_custom("account", {"erp": "用友", "plants": "3", "iso": "是"}) == {"erp": "用友", "plants": 3.0, "iso": True}
    with pytest.raises(ValidationError) as exc, translation.override("en"):
        validate_custom("account", {"erp": "Oracle", "colour": "red", "iso": "maybe"})
    errors = exc.value.message_dict
    assert "'Oracle' is not one of SAP, 用友, 金蝶" in errors["custom.erp"][0]
    assert "unknown custom attribute 'colour'" in errors["custom.colour"][0]
    assert errors["custom.plants"] == ["is required"]
    assert "'maybe' is not yes/no" in errors["custom.iso"][0]
    with pytest.raises(ValidationError) as exc, translation.override("zh-hans"):
        validate_custom("account", {"erp": "Oracle", "colour": "red", "iso": "maybe", "plants": "3"})
    assert exc.value.message_dict == {
        "custom.erp": ["'Oracle' 不在可选值 SAP, 用友, 金蝶 中"],
        "custom.colour": ["未知的自定义属性 'colour'（已有：erp, iso, plants）"],
        "custom.iso": ["'maybe' 不是“是/否”"],
    }


def test_a_new_account_made_by_sales_or_csm_without_owner_becomes_theirs(owner, csm, admin_user):
    mine = services.create(Account, {"name": "A"}, actor=owner)
    assert (mine.sales_owner, mine.csm) == (owner, None)
    theirs = services.create(Account, {"name": "B", "sales_owner": admin_user}, actor=owner)
    assert theirs.sales_owner == admin_user
    looked_after = services.create(Account, {"name": "C"}, actor=csm)
    looked_after.refresh_from_db()
    assert (looked_after.sales_owner, looked_after.csm) == (None, csm)
    assert services.create(Account, {"name": "D"}, actor=admin_user).sales_owner is None
