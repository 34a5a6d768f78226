"""Names that say nothing (spaces only) and text that reorders what a reader sees (bidirectional
controls, "Trojan Source") are refused by the API and the importer; right-to-left text is not."""

import pytest

from clm.customers.models import Account, Contact
from tests.api.conftest import assert_error
from tests.io.conftest import files, run  # noqa: F401 (files: a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user, api_as):
    return api_as(admin_user)


def message(error, field):
    return next(d["message"] for d in error["details"] if d["loc"][-1] == field)


@pytest.mark.parametrize("name", ["   ", "\u3000\u3000", "\t\n"])
def test_a_name_of_spaces_only_is_refused(api, name):
    error = assert_error(api.post("/accounts", {"name": name}), 422)
    assert "must not be blank" in message(error, "name")
    assert not Account.objects.exists()


def test_a_contacts_name_of_spaces_only_is_refused(api):
    account = Account.objects.create(name="Acme")
    error = assert_error(api.post("/contacts", {"account": account.pk, "name": "  "}), 422)
    assert "must not be blank" in message(error, "name")
    error = assert_error(api.patch(f"/accounts/{account.pk}", {"name": " "}), 422)
    assert Account.objects.get().name == "Acme" and not Contact.objects.exists()


@pytest.mark.parametrize("control", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_bidirectional_controls_are_refused_in_names_and_notes(api, control):
    error = assert_error(api.post("/accounts", {"name": f"Acme{control}gnp.exe"}), 422)
    assert "bidirectional control" in message(error, "name")
    error = assert_error(api.post("/tag-categories", {"name": "Size", "description": f"big {control}or small"}), 422)
    assert "bidirectional control" in message(error, "description")


def test_right_to_left_text_and_optional_blank_fields_are_fine(api):
    response = api.post("/accounts", {"name": "شركة الاتصالات", "industry": ""})
    assert response.status_code == 201, response.content


def test_the_importer_refuses_bidirectional_controls(files):
    rows = [["Account ID", "Account Name"], ["A1", "Fine"], ["A2", "Acme\u202egnp.exe"]]
    report = run("accounts", files.csv("a.csv", rows))
    assert report.errors == [{"row": 3, "column": "Account Name", "value": "Acme\u202egnp.exe",
                              "reason": "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069)"}]
    assert not Account.objects.exists()
