"""Names that say nothing (spaces only) and text that reorders what a reader sees (bidirectional
controls, "Trojan Source") are refused (the importer's side: tests/io/test_import.py); right-to-left
text is not."""

import pytest

from clm.customers.models import Account, Contact
from tests.api.conftest import assert_error

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

