"""Who an import may give records to, refused row by row with the column named: an unknown or
inactive user for everyone; for a rep, an interaction is their own, an account's owner changes by
the reassignment rule, and under team visibility only people of their own team."""

import pytest
from django.utils import translation

from clm.customers.models import Account, Interaction
from tests.conftest import make_user
from tests.io.conftest import run, snapshot

pytestmark = pytest.mark.django_db

INTERACTION = ["Interaction ID", "Account", "Type", "Occurred At", "Owner", "Summary"]
NOT_YOURS = "you may not give this record to this user; ask a manager"


@pytest.fixture
def gone(team_a):
    user = make_user("gone", "Sales", team_a)
    user.is_active = False
    user.save()
    return user


@pytest.fixture
def mine(owner):
    return Account.objects.create(name="Mine", source="import", external_id="M1", sales_owner=owner)


def reasons(report) -> dict:
    return {e["row"]: (e["column"], e["value"], e["reason"]) for e in report.errors}


def test_a_reps_interactions_are_their_own_and_other_owners_are_refused_per_row(
    files, owner, teammate, outsider, gone, mine, team_visibility
):
    rows = [INTERACTION,
            ["I1", "M1", "call", "2024-03-01 11:00", "owner", "mine"],
            ["I2", "M1", "call", "2024-03-01 11:00", "", "no owner: mine"],
            ["I3", "M1", "call", "2024-03-01 11:00", "teammate", "a teammate's"],
            ["I4", "M1", "call", "2024-03-01 11:00", "outsider", "another team's"],
            ["I5", "M1", "call", "2024-03-01 11:00", "gone", "a leaver's"],
            ["I6", "M1", "call", "2024-03-01 11:00", "nobody", "no such user"]]
    before = snapshot()
    refused = run("interactions", files.csv("i.csv", rows), user=owner)
    assert refused.status == "invalid"
    assert reasons(refused) == {
        4: ("Owner", "teammate", NOT_YOURS),
        5: ("Owner", "outsider", NOT_YOURS),
        6: ("Owner", "gone", "this user is no longer active in CLM"),
        7: ("Owner", "nobody", "no CLM user with this username, email or name"),
    }
    assert snapshot() == before
    report = run("interactions", files.csv("i.csv", rows), user=owner, skip_invalid=True)
    assert (report.status, report.created, report.rejected) == ("done", 2, 4)
    assert set(Interaction.objects.values_list("external_id", "owner__username")) == {("I1", "owner"), ("I2", "owner")}


def test_an_existing_interaction_keeps_its_owner_but_a_rep_cannot_take_a_colleagues(files, owner, teammate, mine):
    Interaction.objects.create(account=mine, source="import", external_id="I1", type="call", summary="theirs",
                               occurred_at="2024-03-01T03:00:00Z", owner=teammate)
    same = [INTERACTION, ["I1", "M1", "call", "2024-03-01 11:00", "teammate", "theirs, edited"]]
    assert run("interactions", files.csv("a.csv", same), user=owner).status == "done"
    taken = [INTERACTION, ["I1", "M1", "call", "2024-03-01 11:00", "owner", "now mine"]]
    assert reasons(run("interactions", files.csv("b.csv", taken), user=owner)) == {2: ("Owner", "owner", NOT_YOURS)}
    assert Interaction.objects.get().owner == teammate


def test_under_team_visibility_a_rep_gives_new_accounts_only_to_their_own_team(
    files, owner, teammate, outsider, team_visibility
):
    rows = [["Account ID", "Account Name", "Owner", "CSM"],
            ["A1", "For a teammate", "teammate", ""],
            ["A2", "For another team", "outsider", ""],
            ["A3", "With another team's CSM", "", "csm"]]
    make_user("csm", "CSM", outsider.team)
    report = run("accounts", files.csv("a.csv", rows), user=owner)
    assert reasons(report) == {3: ("Owner", "outsider", NOT_YOURS), 4: ("CSM", "csm", NOT_YOURS)}
    assert not Account.objects.exists()


def test_a_rep_cannot_take_a_colleagues_account_by_import_but_may_hand_over_their_own(files, owner, teammate):
    Account.objects.create(name="Theirs", source="import", external_id="T1", sales_owner=teammate)
    Account.objects.create(name="Mine", source="import", external_id="M1", sales_owner=owner)
    rows = [["Account ID", "Account Name", "Owner"], ["T1", "Theirs", "owner"], ["M1", "Mine", "teammate"]]
    report = run("accounts", files.csv("a.csv", rows), user=owner)
    assert reasons(report) == {2: ("Owner", "owner", NOT_YOURS)}
    assert run("accounts", files.csv("b.csv", [rows[0], rows[2]]), user=owner).status == "done"
    assert Account.objects.get(external_id="M1").sales_owner == teammate


def test_managers_and_admins_give_records_to_anyone_active(files, admin_user, owner, outsider, gone, mine, team_visibility):
    rows = [INTERACTION,
            ["I1", "M1", "call", "2024-03-01 11:00", "outsider", "given"],
            ["I2", "M1", "call", "2024-03-01 11:00", "gone", "a leaver's"]]
    report = run("interactions", files.csv("i.csv", rows), user=admin_user, skip_invalid=True)
    assert reasons(report) == {3: ("Owner", "gone", "this user is no longer active in CLM")}
    assert Interaction.objects.get().owner == outsider


def test_the_reasons_are_in_the_importers_language(files, owner, outsider, gone, mine):
    rows = [INTERACTION,
            ["I1", "M1", "call", "2024-03-01 11:00", "outsider", "x"],
            ["I2", "M1", "call", "2024-03-01 11:00", "gone", "y"]]
    with translation.override("zh-hans"):
        report = run("interactions", files.csv("i.csv", rows), user=owner)
    chinese = [reason for _, _, reason in reasons(report).values()]
    assert chinese == ["您不能把这条记录交给此用户；请找经理处理", "此用户已不再是 CLM 的在职用户"]
