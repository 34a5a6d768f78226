"""Named account actions: who may give an account to whom (issue 14, finding 14: with visibility
"all", a rep could reassign any account to themselves), tags added and taken off with audit rows
and events, interactions owned by who logs them; the same rules through the API and a PATCH."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from clm.core import events, services
from clm.core.models import AuditLog
from clm.customers import actions
from clm.customers.models import Account, Tag, TagCategory
from tests.api.conftest import ApiClient
from tests.conftest import make_user


@pytest.fixture
def manager(team_a):
    return make_user("manager", "Manager", team_a)


@pytest.fixture
def mine(owner, csm):
    return services.create(Account, {"name": "华为", "sales_owner": owner, "csm": csm})


@pytest.fixture
def others(outsider):
    return services.create(Account, {"name": "长安", "sales_owner": outsider})


@pytest.fixture
def pool(db):
    return services.create(Account, {"name": "无主客户"})


@pytest.fixture
def tag(db):
    return Tag.objects.create(category=TagCategory.objects.create(name="行业"), value="制造")


def test_a_rep_may_not_take_another_reps_account_even_when_everyone_sees_everything(owner, others):
    audited = AuditLog.objects.count()
    with pytest.raises(PermissionDenied, match="不归您分配"):
        actions.assign_accounts(owner, [others.pk], "owner", owner.pk)
    others.refresh_from_db()
    assert others.sales_owner_id != owner.pk and AuditLog.objects.count() == audited


def test_one_refused_account_refuses_the_whole_change(owner, mine, others, teammate):
    with pytest.raises(PermissionDenied):
        actions.assign_accounts(owner, [mine.pk, others.pk], "owner", teammate.pk)
    mine.refresh_from_db()
    assert mine.sales_owner_id == owner.pk


def test_the_owner_hands_over_and_a_manager_gives_out_anything(owner, teammate, manager, mine, others):
    assert actions.assign_accounts(owner, [mine.pk], "owner", teammate.pk) == 1
    assert actions.assign_accounts(manager, [others.pk, mine.pk], "owner", owner.pk) == 2
    assert set(Account.objects.filter(pk__in=[mine.pk, others.pk]).values_list("sales_owner", flat=True)) == {
        owner.pk
    }
    row = AuditLog.objects.filter(object_id=str(others.pk), action="update").latest("pk")
    assert row.actor == manager and list(row.changes) == ["sales_owner_id"]


def test_an_account_nobody_holds_may_be_claimed_only_by_oneself(owner, teammate, pool):
    with pytest.raises(PermissionDenied):
        actions.assign_accounts(owner, [pool.pk], "owner", teammate.pk)
    assert actions.assign_accounts(owner, [pool.pk], "owner", owner.pk) == 1


def test_the_sales_owner_may_choose_the_csm(owner, mine, csm):
    assert actions.assign_accounts(owner, [mine.pk], "csm", None) == 1


def test_accounts_go_only_to_people_who_can_hold_them(manager, mine, viewer, csm):
    with pytest.raises(ValidationError, match="不能把客户"):
        actions.assign_accounts(manager, [mine.pk], "owner", viewer.pk)
    with pytest.raises(ValidationError):
        actions.assign_accounts(manager, [mine.pk], "owner", csm.pk)  # a CSM is no sales owner


def test_the_same_rule_holds_for_a_patch_through_the_api(owner, others, mine, teammate):
    api = ApiClient(owner)
    refused = api.request("patch", f"/accounts/{others.pk}", {"sales_owner": owner.pk})
    assert refused.status_code == 403
    assert api.request("patch", f"/accounts/{mine.pk}", {"sales_owner": teammate.pk}).status_code == 200


def test_the_api_assigns_and_tags_through_the_actions(manager, owner, outsider, mine, others, tag):
    api = ApiClient(manager)
    response = api.post("/accounts/assign", {"ids": [mine.pk, others.pk], "role": "owner", "user": owner.pk})
    assert response.status_code == 200 and response.json_body == {"changed": 1}
    assert api.post("/accounts/tag", {"ids": [mine.pk], "tag": tag.pk}).json_body == {"changed": 1}
    assert api.post("/accounts/tag", {"ids": [mine.pk], "tag": tag.pk, "remove": True}).json_body == {
        "changed": 1
    }
    taken_back = {"ids": [others.pk], "role": "owner", "user": outsider.pk}  # the manager gave it to owner
    assert ApiClient(outsider).post("/accounts/assign", taken_back).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_tags_added_and_removed_are_audited_and_announced(manager, mine, others, tag):
    heard = []
    listener = events.listen("account.tagged", "account.untagged")(heard.append)
    try:
        assert actions.tag_accounts(manager, [mine.pk, others.pk], tag) == 2
        assert actions.tag_accounts(manager, [mine.pk], tag) == 0  # has it already
        assert actions.untag_accounts(manager, [others.pk], tag) == 1
    finally:
        events.unlisten(listener)
    assert list(mine.tags.all()) == [tag] and not others.tags.exists()
    removal = AuditLog.objects.filter(object_id=str(others.pk)).latest("pk")
    assert removal.changes == {"tags": [[tag.pk], []]}
    assert [(e.name, e.payload["account_id"]) for e in heard] == [
        ("account.tagged", mine.pk),
        ("account.tagged", others.pk),
        ("account.untagged", others.pk),
    ]


@pytest.mark.django_db(transaction=True)
def test_an_assignment_is_announced_only_once_committed(manager, mine, owner, teammate):
    heard = []
    listener = events.listen("account.assigned")(heard.append)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            actions.assign_accounts(manager, [mine.pk], "owner", teammate.pk)
            raise RuntimeError
        assert heard == []
        actions.assign_accounts(manager, [mine.pk], "owner", teammate.pk)
    finally:
        events.unlisten(listener)
    assert [e.payload for e in heard] == [
        {"account_id": mine.pk, "role": "owner", "before": owner.pk, "after": teammate.pk}
    ]


def test_an_interaction_belongs_to_who_logs_it(owner, mine, teammate):
    note = actions.log_interaction(owner, mine, {"type": "note", "summary": "续约意向强", "owner": teammate})
    assert note.owner == owner


def test_a_viewer_logs_nothing(viewer, mine):
    with pytest.raises(PermissionDenied):
        actions.log_interaction(viewer, mine, {"type": "note", "summary": "x"})
