"""The five roles and what each may change (every role may view customer data)."""

import pytest
from django.contrib.auth.models import Group

from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_the_five_roles_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Admin", "Sales", "CSM", "Marketing", "Viewer"}


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("Viewer", ["customers.view_account", "service.view_ticket"], ["customers.change_account", "sales.add_lead"]),
        ("Sales", ["customers.change_account", "sales.change_opportunity", "commerce.add_subscription"],
         ["service.change_ticket", "sales.change_channelspend", "core.view_auditlog"]),
        ("CSM", ["customers.change_contact", "service.change_ticket", "usage.add_usageevent"],
         ["sales.change_opportunity", "commerce.change_subscription"]),
        ("Marketing", ["sales.add_lead", "sales.change_channelspend", "customers.view_account"],
         ["customers.change_account", "commerce.change_order"]),
        ("Admin", ["customers.delete_account", "core.view_auditlog", "commerce.change_payment"], []),
    ],
)
def test_each_role_holds_its_permissions(role, allowed, refused):
    user = make_user(f"u-{role}", role)
    assert all(user.has_perm(p) for p in allowed), [p for p in allowed if not user.has_perm(p)]
    assert not any(user.has_perm(p) for p in refused), [p for p in refused if user.has_perm(p)]


def test_the_site_root_leads_to_the_web_app(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
