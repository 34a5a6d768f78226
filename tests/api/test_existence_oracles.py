"""Issue 14, finding 10: an external id is unique per source system, so a record that takes one
already held is refused, but the answer is the same whether the holder is a record the caller
may see or one hidden from them, and it names nothing of the holder (no name, id or owner): the
API's 409 and the importer's row error say only that the id is not available."""

import pytest
from django.utils import translation

from clm.core.text import EXTERNAL_ID_UNAVAILABLE
from clm.customers.models import Account, Contact
from tests.api.conftest import ApiClient, assert_error
from tests.io.conftest import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(owner, outsider, team_visibility):
    """An account and a contact the owner sees (external ids M1, MC1), and one hidden from them
    (T1, TC1), all of source "crm"."""
    mine = Account.objects.create(name="Mine", source="crm", external_id="M1", sales_owner=owner)
    theirs = Account.objects.create(name="长安机密客户", source="crm", external_id="T1", sales_owner=outsider)
    Contact.objects.create(account=mine, name="a", source="crm", external_id="MC1")
    Contact.objects.create(account=theirs, name="机密联系人", source="crm", external_id="TC1")
    return mine, theirs


def bodies(api, path, visible: dict, hidden: dict):
    answers = [api.post(path, visible), api.post(path, hidden)]
    for answer in answers:
        assert_error(answer, 409, "conflict")
    return [a.json_body for a in answers]


def test_creating_an_account_with_a_taken_external_id_answers_alike_for_visible_and_hidden(owner, held):
    seen, unseen = bodies(
        ApiClient(owner, language="zh-Hans"),
        "/accounts",
        {"name": "x", "source": "crm", "external_id": "M1"},
        {"name": "x", "source": "crm", "external_id": "T1"},
    )
    assert seen == unseen
    with translation.override("zh-hans"):  # the language the client asked for
        assert seen["error"]["message"] == translation.gettext(EXTERNAL_ID_UNAVAILABLE).capitalize() + "."
        assert "外部编号" in seen["error"]["message"]
    assert "长安" not in str(unseen) and str(held[1].pk) not in str(unseen["error"]["details"])
    assert Account.objects.filter(external_id__in=["M1", "T1"]).count() == 2


def test_creating_a_contact_with_a_taken_external_id_answers_alike_for_visible_and_hidden(owner, held):
    mine, _ = held
    seen, unseen = bodies(
        ApiClient(owner),
        "/contacts",
        {"account": mine.pk, "name": "x", "source": "crm", "external_id": "MC1"},
        {"account": mine.pk, "name": "x", "source": "crm", "external_id": "TC1"},
    )
    assert seen == unseen
    assert "机密" not in str(unseen)


def test_the_importer_answers_a_hidden_holder_as_the_api_does_without_describing_it(tmp_path, owner, held):
    path = tmp_path / "a.csv"
    path.write_text("Account ID,Account Name\nT1,Hijacked\n", encoding="utf-8")
    report = run("accounts", path, user=owner, source="crm")
    neutral = translation.gettext(EXTERNAL_ID_UNAVAILABLE)  # in the importer's language, as every reason
    assert report.errors == [{"row": 2, "column": "Account ID", "value": "T1", "reason": neutral}]
    assert "cannot see" not in str(report.errors) and "看不到" not in str(report.errors)
    assert Account.objects.get(external_id="T1").name == "长安机密客户"
