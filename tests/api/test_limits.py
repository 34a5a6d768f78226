"""Bodies and JSON fields of a record's size: a request of millions of keys is refused at its first
excess (it once took 5 GB and answered with every key), and errors are listed up to a cap."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clm.api import MAX_DETAILS, MAX_JSON_BODY
from clm.core.schemas import MAX_JSON_CHARS, MAX_JSON_DEPTH, MAX_JSON_VALUES
from clm.customers.models import Account, Contact
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user, api_as):
    return api_as(admin_user)


@pytest.fixture
def account(db):
    return Account.objects.create(name="华为技术")


def keys(n: int) -> dict:
    return {f"k{i}": 1 for i in range(n)}


@pytest.mark.parametrize("path", ["/accounts", "/contacts"])
def test_custom_with_thousands_of_keys_is_refused_with_one_message(api, account, path):
    body = {"name": "big", "custom": keys(MAX_JSON_VALUES)}
    if path == "/contacts":
        body["account"] = account.pk
    response = api.post(path, body)
    error = assert_error(response, 422, "invalid_request")
    assert len(error["details"]) == 1
    assert error["details"][0]["loc"][-1] == "custom"
    assert f"at most {MAX_JSON_VALUES:,} keys and values" in error["details"][0]["message"]
    assert len(response.content) < 1000
    assert Account.objects.count() == 1 and not Contact.objects.exists()


def test_a_patch_of_custom_is_bounded_too(api, account):
    response = api.patch(f"/accounts/{account.pk}", {"custom": keys(5_000)})
    assert_error(response, 422, "invalid_request")
    account.refresh_from_db()
    assert account.custom == {}


def test_a_json_body_over_the_limit_is_a_413_before_it_is_parsed(api):
    body = json.dumps({"name": "big", "custom": keys(100_000)})
    assert len(body) > MAX_JSON_BODY
    error = assert_error(api.post("/accounts", raw=body), 413, "too_large")
    assert "1,024 KB" in error["message"]
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    "value, words",
    [
        ("nested", f"at most {MAX_JSON_DEPTH} levels"),
        (["x" * 1000] * 70, f"at most {MAX_JSON_CHARS:,} characters"),
        ([[]] * (MAX_JSON_VALUES + 1), f"at most {MAX_JSON_VALUES:,} keys and values"),
    ],
    ids=["too-deep", "too-many-characters", "too-many-items"],
)
def test_json_fields_are_bounded_in_depth_characters_and_items(api, value, words):
    if value == "nested":
        value = []
        for _ in range(MAX_JSON_DEPTH + 1):
            value = [value]
    error = assert_error(api.post("/accounts", {"name": "x", "pain_points": value}), 422, "invalid_request")
    assert words in error["details"][0]["message"]
    assert not Account.objects.exists()


def test_json_fields_within_the_bounds_are_stored(api):
    nested = ["deep"]
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    response = api.post("/accounts", {"name": "x", "pain_points": nested, "value_drivers": ["y" * 1000] * 60})
    assert response.status_code == 201, response.content
    assert Account.objects.get().pain_points == nested


def test_errors_are_listed_up_to_a_cap_with_the_count_of_the_rest(api):
    error = assert_error(api.post("/accounts", {"name": "x", "tags": ["not an id"] * 120}), 422, "invalid_request")
    assert len(error["details"]) == MAX_DETAILS
    assert error["details_omitted"] == 120 - MAX_DETAILS


def test_form_data_over_the_upload_limit_is_a_413_not_a_500(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    upload = SimpleUploadedFile("accounts.csv", b"Name\nx\n", content_type="text/csv")
    response = api.client.post(
        "/api/v1/imports/accounts",
        {"file": upload, "columns": "x" * (2 * 1024 * 1024)},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    response.json_body = response.json()
    error = assert_error(response, 413, "too_large")
    assert "at most 1 MB" in error["message"]
    assert not Account.objects.exists()


def test_a_workspace_form_over_the_upload_limit_is_a_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    form = {"username": "x" * (2 * 1024 * 1024), "password": "y"}
    response = client.post("/login/", form, headers={"Accept-Language": "en"})
    assert response.status_code == 413
    assert "at most 1 MB of form data" in response.content.decode()
    response = client.post("/login/", form, headers={"Accept-Language": "zh-hans"})
    assert "表单数据最多 1 MB" in response.content.decode()
