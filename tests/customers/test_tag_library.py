"""Issue 14, finding 9: the shared tag library is kept by admins, managers and marketing (the
permission to change tags), not by every sales or CSM user, who still tag their accounts; a tag
renamed or deleted changes every account carrying it, so each of those accounts gets an audit row."""

import pytest
from django.test import Client

from clm.core.models import AuditLog
from clm.customers.models import Account, Tag, TagCategory
from tests.api.conftest import ApiClient, assert_error
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(team_a):
    return make_user("manager", "Manager", team_a)


@pytest.fixture
def library(owner, outsider):
    """One category with two tags; the owner's account and the outsider's carry 制造."""
    category = TagCategory.objects.create(name="行业")
    made = Tag.objects.create(category=category, value="制造")
    retail = Tag.objects.create(category=category, value="零售")
    mine = Account.objects.create(name="华为", sales_owner=owner)
    theirs = Account.objects.create(name="长安", sales_owner=outsider)
    mine.tags.set([made, retail])
    theirs.tags.set([made])
    return category, made, retail, mine, theirs


@pytest.mark.parametrize("user", ["owner", "csm"])
def test_sales_and_csm_users_cannot_create_rename_or_delete_tags(request, user, library):
    category, made, _retail, _mine, theirs = library
    api = ApiClient(request.getfixturevalue(user))
    assert_error(api.post("/tags", {"category": category.pk, "value": "能源"}), 403, "forbidden")
    assert_error(api.patch(f"/tags/{made.pk}", {"value": "智能制造"}), 403, "forbidden")
    assert_error(api.delete(f"/tags/{made.pk}"), 403, "forbidden")
    assert_error(api.post("/tag-categories", {"name": "规模"}), 403, "forbidden")
    assert_error(api.delete(f"/tag-categories/{category.pk}"), 403, "forbidden")
    assert list(theirs.tags.all()) == [made] and Tag.objects.count() == 2


def test_a_rep_still_tags_their_own_accounts(owner, library):
    _category, _made, retail, _mine, _theirs = library
    fresh = Account.objects.create(name="美的", sales_owner=owner)
    api = ApiClient(owner)
    assert api.post("/accounts/tag", {"ids": [fresh.pk], "tag": retail.pk}).json_body == {"changed": 1}
    assert api.patch(f"/accounts/{fresh.pk}", {"tags": []}).status_code == 200


def test_deleting_a_tag_audits_its_removal_from_every_account(manager, library):
    _category, made, retail, mine, theirs = library
    assert ApiClient(manager).delete(f"/tags/{made.pk}").status_code == 204
    rows = {
        int(log.object_id): log
        for log in AuditLog.objects.filter(model="customers.account", actor=manager, via="api")
    }
    assert rows[mine.pk].changes == {"tags": [sorted([made.pk, retail.pk]), [retail.pk]]}
    assert rows[theirs.pk].changes == {"tags": [[made.pk], []]}


def test_deleting_a_category_audits_each_account_losing_its_tags(manager, library):
    category, made, retail, mine, theirs = library
    assert ApiClient(manager).delete(f"/tag-categories/{category.pk}").status_code == 204
    rows = {int(log.object_id): log.changes for log in AuditLog.objects.filter(model="customers.account")}
    assert rows == {
        mine.pk: {"tags": [sorted([made.pk, retail.pk]), []]},
        theirs.pk: {"tags": [[made.pk], []]},
    }


def test_renaming_a_tag_or_its_category_audits_every_account_carrying_it(manager, library):
    category, made, _retail, mine, theirs = library
    assert ApiClient(manager).patch(f"/tags/{made.pk}", {"value": "智能制造"}).status_code == 200
    rows = {int(log.object_id): log for log in AuditLog.objects.filter(model="customers.account")}
    assert set(rows) == {mine.pk, theirs.pk}
    assert rows[theirs.pk].changes == {"tags_renamed": [["行业:制造"], ["行业:智能制造"]]}
    assert (rows[theirs.pk].actor, rows[theirs.pk].via) == (manager, "api")

    AuditLog.objects.all().delete()
    assert ApiClient(manager).patch(f"/tag-categories/{category.pk}", {"name": "行业大类"}).status_code == 200
    rows = {int(log.object_id): log.changes for log in AuditLog.objects.filter(model="customers.account")}
    assert rows[mine.pk] == {"tags_renamed": [["行业:智能制造", "行业:零售"], ["行业大类:智能制造", "行业大类:零售"]]}


def test_a_tag_deleted_in_the_admin_is_audited_per_account(admin_user, library):
    _category, made, _retail, mine, theirs = library
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/admin/customers/tag/{made.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert set(
        AuditLog.objects.filter(model="customers.account", via="admin").values_list("object_id", flat=True)
    ) == {str(mine.pk), str(theirs.pk)}
