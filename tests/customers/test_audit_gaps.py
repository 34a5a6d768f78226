"""Issue 14, finding 11: contacts edited inline on the admin's account page are audited like any
other edit, and an interaction cannot be logged or handed over in someone else's name through
the API unless the actor's role may reassign (the accounts' rule)."""

import pytest
from django.test import Client

from clm.core import services
from clm.core.models import AuditLog
from clm.customers.models import Account, Contact, Interaction
from tests.api.conftest import ApiClient, assert_error
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(team_a):
    return make_user("manager", "Manager", team_a)


@pytest.fixture
def mine(owner):
    return services.create(Account, {"name": "华为", "sales_owner": owner})


def admin_form(response) -> dict:
    """The admin change form's data as the page shows it, inline formsets included."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management[name].value()
        for sub in formset.forms:
            for name in sub.fields:
                value = sub[name].value()
                if value not in (None, False):
                    data[sub.add_prefix(name)] = value
    return data


def test_contacts_edited_inline_on_the_admins_account_page_are_audited(admin_user):
    account = Account.objects.create(name="长安汽车")
    kept = Contact.objects.create(account=account, name="王芳", title="采购")
    gone = Contact.objects.create(account=account, name="李雷")
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/customers/account/{account.pk}/change/"
    data = admin_form(client.get(url))
    rows = {data[f"contacts-{i}-id"]: i for i in range(2)}
    data[f"contacts-{rows[kept.pk]}-title"] = "采购总监"
    data[f"contacts-{rows[gone.pk]}-DELETE"] = "on"
    data["contacts-TOTAL_FORMS"] = "3"
    data.update({"contacts-2-name": "赵敏", "contacts-2-role": "influencer", "contacts-2-status": "active"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]

    added = Contact.objects.get(account=account, name="赵敏")
    logged = {
        (log.action, log.object_id): log
        for log in AuditLog.objects.filter(model="customers.contact", actor=admin_user, via="admin")
    }
    assert logged[("update", str(kept.pk))].changes["title"] == ["采购", "采购总监"]
    assert logged[("delete", str(gone.pk))].changes["name"] == ["李雷", None]
    assert logged[("create", str(added.pk))].changes["name"] == [None, "赵敏"]


def interaction(account, **extra):
    return {"account": account.pk, "type": "call", "occurred_at": "2026-11-02T10:00:00+08:00", "summary": "回访", **extra}


def test_a_rep_cannot_log_an_interaction_in_a_colleagues_name_through_the_api(owner, teammate, mine):
    error = assert_error(
        ApiClient(owner, language="zh-hans").post("/interactions", interaction(mine, owner=teammate.pk)), 403
    )
    assert "经理" in error["message"]  # a manager, in the language the client asked for
    assert not Interaction.objects.exists()
    assert not AuditLog.objects.filter(model="customers.interaction").exists()


def test_an_interaction_logged_through_the_api_without_an_owner_is_the_loggers(owner, mine):
    created = ApiClient(owner).post("/interactions", interaction(mine))
    assert created.status_code == 201, created.json_body
    assert created.json_body["owner"] == owner.pk
    assert ApiClient(owner).post("/interactions", interaction(mine, owner=owner.pk)).status_code == 201


def test_a_rep_cannot_hand_someone_elses_interaction_to_themselves(owner, teammate, mine):
    theirs = Interaction.objects.create(account=mine, type="call", summary="x", owner=teammate)
    assert_error(ApiClient(owner).patch(f"/interactions/{theirs.pk}", {"owner": owner.pk}), 403)
    theirs.refresh_from_db()
    assert theirs.owner == teammate


def test_the_owner_may_hand_their_interaction_over_and_a_manager_may_give_any(owner, teammate, manager, mine):
    ours = Interaction.objects.create(account=mine, type="call", summary="x", owner=owner)
    assert ApiClient(owner).patch(f"/interactions/{ours.pk}", {"owner": teammate.pk}).status_code == 200
    created = ApiClient(manager).post("/interactions", interaction(mine, owner=owner.pk))
    assert created.status_code == 201 and created.json_body["owner"] == owner.pk
    log = AuditLog.objects.get(model="customers.interaction", object_id=str(created.json_body["id"]))
    assert log.actor == manager and log.changes["owner_id"] == [None, owner.pk]
