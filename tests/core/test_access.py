"""Record visibility: one restricting queryset decides what each user sees."""

import pytest

from clm.core.access import restrict, visible_accounts
from clm.customers.models import Account, Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(owner, outsider, csm):
    return {
        "mine": Account.objects.create(name="华为", sales_owner=owner),
        "theirs": Account.objects.create(name="Acme", sales_owner=outsider),
        "csm_only": Account.objects.create(name="Beta", csm=csm),
        "nobody": Account.objects.create(name="Gamma"),
    }


def names(qs):
    return sorted(a.name for a in qs)


def test_everyone_with_a_role_sees_all_accounts_by_default(accounts, owner, viewer):
    assert names(visible_accounts(owner)) == ["Acme", "Beta", "Gamma", "华为"]
    assert names(visible_accounts(viewer)) == ["Acme", "Beta", "Gamma", "华为"]


def test_sales_sees_own_and_team_accounts_when_restricted(accounts, team_visibility, owner, teammate, outsider):
    assert names(visible_accounts(owner)) == ["华为"]
    assert names(visible_accounts(teammate)) == ["华为"]
    assert names(visible_accounts(outsider)) == ["Acme", "Beta"]  # the CSM is on the outsider's team


def test_csm_sees_accounts_they_look_after(accounts, team_visibility, csm):
    assert names(visible_accounts(csm)) == ["Acme", "Beta"]


def test_viewers_and_admins_are_not_restricted(accounts, team_visibility, viewer, admin_user):
    assert len(visible_accounts(viewer)) == 4
    assert len(visible_accounts(admin_user)) == 4


def test_a_user_without_a_role_sees_nothing(accounts, db):
    from tests.conftest import make_user

    assert names(visible_accounts(make_user("nobody", None))) == []


def test_restrict_limits_records_that_belong_to_accounts(accounts, team_visibility, owner):
    Contact.objects.create(account=accounts["mine"], name="张伟")
    Contact.objects.create(account=accounts["theirs"], name="John")
    assert [c.name for c in restrict(Contact.objects.all(), owner)] == ["张伟"]


def test_restricted_sales_see_their_own_team_and_unassigned_leads(accounts, team_visibility, owner, teammate, outsider):
    from clm.core.access import visible_records
    from clm.sales.models import Lead

    Lead.objects.create(name="a", company="x", owner=owner)
    Lead.objects.create(name="b", company="x", owner=outsider)
    Lead.objects.create(name="c", company="x")  # the unassigned pool
    Lead.objects.create(name="d", company="x", owner=outsider, account=accounts["mine"])
    assert sorted(lead.name for lead in visible_records(Lead, teammate)) == ["a", "c", "d"]
    assert sorted(lead.name for lead in visible_records(Lead, outsider)) == ["b", "c", "d"]  # d: they own it


def test_records_without_an_account_are_not_restricted(accounts, team_visibility, owner):
    from clm.commerce.models import Product
    from clm.core.access import visible_records

    Product.objects.create(name="云帆工作台")
    assert visible_records(Product, owner).count() == 1


def test_records_that_belong_to_an_account_follow_it(accounts, team_visibility, owner, csm):
    from clm.core.access import visible_records

    Contact.objects.create(account=accounts["mine"], name="张伟")
    Contact.objects.create(account=accounts["csm_only"], name="Li")
    assert [c.name for c in visible_records(Contact, owner)] == ["张伟"]
    assert [c.name for c in visible_records(Contact, csm)] == ["Li"]


def test_every_model_that_belongs_to_an_account_is_restricted(accounts, team_visibility, owner):
    """A new model joins by having an `account` key (or its own visible_to_restricted), with no
    central list to edit: each one shows a restricted user only what their accounts own."""
    from django.apps import apps

    from clm.core.access import account_path, is_scoped, visibility

    owned = [m for m in apps.get_models() if account_path(m)]
    assert len(owned) > 10
    for model in owned:
        assert is_scoped(model)
        condition = visibility(model, owner)
        assert condition, model  # a restricting condition, neither everything nor nothing
        assert model._default_manager.filter(condition).count() == 0, model  # the lookups exist
