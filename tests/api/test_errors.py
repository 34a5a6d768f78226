"""Bad input on the CRUD endpoints: always the one error format, a message naming the field, never
a 500 and never a partial write."""

import json

import pytest

from clm.commerce.models import Product, Subscription
from clm.customers.models import Account, Contact, Tag, TagCategory
from clm.sales.models import ChannelSpend
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user, api_as):
    return api_as(admin_user)


def detail(error, field):
    """The message of the detail about `field` (the last part of its loc)."""
    found = [d["message"] for d in error["details"] if d["loc"] and d["loc"][-1] == field]
    assert found, error
    return found[0]


@pytest.mark.parametrize(
    "raw",
    [
        "{bad json",
        '{"name": "x"',
        b"\xff\xfe\x00",
        "[" * 50_000 + "]" * 50_000,
    ],
    ids=["broken", "truncated", "not-utf8", "nested-too-deep"],
)
def test_a_body_that_is_not_json_is_a_400(api, raw):
    assert_error(api.post("/accounts", raw=raw), 400, "bad_request")
    assert not Account.objects.exists()


@pytest.mark.parametrize("raw", ["[]", '"name"', "null", "42"])
def test_a_body_that_is_not_an_object_is_a_422(api, raw):
    assert_error(api.post("/accounts", raw=raw), 422, "invalid_request")


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"name": 5}, "name", "string"),
        ({"name": "x" * 201}, "name", "200"),
        ({"name": "a\x00b"}, "name", "NUL"),
        ({"name": "ok", "employee_count": "many"}, "employee_count", "integer"),
        ({"name": "ok", "employee_count": 10**12}, "employee_count", "2147483647"),
        ({"name": "ok", "employee_count": -3}, "employee_count", "0"),
        ({"name": "ok", "annual_revenue": "1e400"}, "annual_revenue", "16 digits"),
        ({"name": "ok", "annual_revenue": "Infinity"}, "annual_revenue", "finite"),
        ({"name": "ok", "annual_revenue": "12345678901234567.5"}, "annual_revenue", "digits"),
        (
            {"name": "ok", "development_stage": "unicorn"},
            "development_stage",
            "'startup', 'growth', 'mature', 'transformation'",
        ),
        ({"name": "ok", "customer_since": "2024-02-30"}, "customer_since", "date"),
        ({"name": "ok", "sales_owner": 10**30}, "sales_owner", "9223372036854775807"),
        ({"name": "ok", "tags": "vip"}, "tags", "list"),
        ({"name": "ok", "custom": ["x"]}, "custom", "dictionary"),
        ({"name": "ok", "custom": {"k": "\x00"}}, "custom", "NUL"),
        ({"name": "ok", "nmae": "typo"}, "nmae", "Extra inputs are not permitted"),
    ],
)
def test_wrong_values_are_refused_naming_the_field_and_the_reason(api, body, field, words):
    error = assert_error(api.post("/accounts", body), 422, "invalid_request")
    assert words in detail(error, field)
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    "raw, field",
    [
        ('{"name": "ok", "annual_revenue": NaN}', "annual_revenue"),
        ('{"name": "ok", "custom": {"x": Infinity}}', "custom"),
        ('{"name": "\\ud800"}', "name"),
        ('{"name": "ok", "custom": {"x": "\\udfff"}}', "custom"),
        ('{"name": "ok", "custom": {"x": 1e999}}', "custom"),
    ],
)
def test_json_that_no_database_stores_is_refused(api, raw, field):
    error = assert_error(api.post("/accounts", raw=raw), 422, "invalid_request")
    detail(error, field)


def test_a_date_time_out_of_range_in_utc_is_refused(api, account):
    body = {"account": account.pk, "subject": "x", "opened_at": "9999-12-31T23:00:00-12:00"}
    error = assert_error(api.post("/tickets", body), 422, "invalid_request")
    assert "out of range" in detail(error, "opened_at")


def test_offsets_python_takes_and_postgresql_refuses_are_taken_as_their_utc_instant(api, account):
    # Found by the fuzz test: PostgreSQL refuses offsets beyond ±15:59, Python takes up to ±23:59.
    body = {"account": account.pk, "subject": "x", "opened_at": "2024-03-01T23:30:00+16:43"}
    assert api.post("/tickets", body).status_code == 201
    assert api.get("/interactions?since=0405-09-29T19:37:11%2B16:43").status_code == 200
    opened = api.get(f"/tickets?account={account.pk}").json()["items"][0]["opened_at"]
    assert opened.startswith("2024-03-01T06:47:00")


@pytest.mark.parametrize(
    "method, path, body, field",
    [  # found by the fuzz test: PostgreSQL refuses NUL in text, which made these 500s
        ("post", "/tickets", {"account_external_id": "A\x00", "subject": "x"}, "account_external_id"),
        ("post", "/tickets", {"account_external_id": "A", "account_source": "\x00", "subject": "x"}, "account_source"),
        ("get", "/lifecycle/signals", {"kind": "usage\x00"}, "kind"),
    ],
)
def test_nul_in_a_lookup_is_refused_by_name(api, method, path, body, field):
    response = api.get(path, **body) if method == "get" else api.post(path, body)
    assert "NUL" in detail(assert_error(response, 422, "invalid_request"), field)


def test_unknown_foreign_keys_are_named(api, account):
    error = assert_error(api.post("/contacts", {"account": 999999, "name": "x"}), 422, "invalid_data")
    assert error["details"] == [{"loc": ["account"], "message": "unknown account 999999"}]
    body = {"account": account.pk, "start_date": "2024-01-01", "mrr": 1, "product": 424242}
    error = assert_error(api.post("/subscriptions", body), 422, "invalid_data")
    assert detail(error, "product") == "unknown product 424242"
    error = assert_error(api.post("/accounts", {"name": "x", "tags": [777]}), 422, "invalid_data")
    assert detail(error, "tags") == "unknown tag 777"


def test_a_contact_of_another_account_is_refused(api, account):
    other = Contact.objects.create(account=Account.objects.create(name="Other"), name="x")
    body = {"account": account.pk, "contact": other.pk, "type": "call", "summary": "s"}
    error = assert_error(api.post("/interactions", body), 422, "invalid_data")
    assert detail(error, "contact") == f"contact {other.pk} belongs to another account"


def test_moving_a_record_to_another_account_checks_what_it_refers_to(api, account):
    from clm.service.models import Ticket

    contact = Contact.objects.create(account=account, name="x")
    ticket = Ticket.objects.create(
        account=account, contact=contact, subject="s", opened_at="2024-03-01T00:00:00Z"
    )
    other = Account.objects.create(name="Other")
    error = assert_error(api.patch(f"/tickets/{ticket.pk}", {"account": other.pk}), 422, "invalid_data")
    assert detail(error, "contact") == f"contact {contact.pk} belongs to another account"
    assert api.patch(f"/tickets/{ticket.pk}", {"account": other.pk, "contact": None}).status_code == 200


def test_model_rules_are_reported_per_field(api, account):
    error = assert_error(
        api.post(
            "/survey-responses",
            {"account": account.pk, "kind": "csat", "score": 9, "responded_at": "2024-03-01T10:00:00"},
        ),
        422,
        "invalid_data",
    )
    assert error["details"]


def test_a_duplicate_external_id_is_a_conflict(api):
    Account.objects.create(name="A", source="crm", external_id="X-1")
    error = assert_error(
        api.post("/accounts", {"name": "B", "source": "crm", "external_id": "X-1"}), 409, "conflict"
    )
    assert error["details"][0]["loc"] == ["body", "source", "external_id"]
    assert Account.objects.count() == 1
    assert api.post("/accounts", {"name": "C", "source": "erp", "external_id": "X-1"}).status_code == 201


def test_changing_an_external_id_to_a_taken_one_is_a_conflict(api):
    Account.objects.create(name="A", external_id="X-1")
    b = Account.objects.create(name="B", external_id="X-2")
    assert_error(api.patch(f"/accounts/{b.pk}", {"external_id": "X-1"}), 409, "conflict")
    b.refresh_from_db()
    assert b.external_id == "X-2"


def test_other_uniqueness_rules_are_conflicts_too(api):
    category = TagCategory.objects.create(name="规模")
    Tag.objects.create(category=category, value="大")
    assert_error(api.post("/tags", {"category": category.pk, "value": "大"}), 409, "conflict")
    ChannelSpend.objects.create(channel="百度", month="2024-03-01", amount=1)
    assert_error(
        api.post("/channel-spend", {"channel": "百度", "month": "2024-03-01", "amount": 2}), 409, "conflict"
    )


def test_channel_spend_is_per_month(api):
    error = assert_error(
        api.post("/channel-spend", {"channel": "百度", "month": "2024-03-15", "amount": 2}), 422
    )
    assert detail(error, "month") == "2024-03-15 is not the first day of a month (send 2024-03-01)"


def test_a_null_for_a_required_field_is_refused_on_patch(api, account):
    error = assert_error(api.patch(f"/accounts/{account.pk}", {"name": None}), 422, "invalid_request")
    detail(error, "name")


def test_deleting_a_record_still_in_use_is_a_conflict(api, account):
    product = Product.objects.create(name="Pro")
    Subscription.objects.create(account=account, product=product, start_date="2024-01-01", mrr=1)
    error = assert_error(api.delete(f"/products/{product.pk}"), 409, "conflict")
    assert "subscriptions" in error["message"]
    assert Product.objects.filter(pk=product.pk).exists()


@pytest.mark.parametrize("path", ["/accounts/0", "/accounts/999999", "/accounts/99999999999999999999999999"])
def test_unknown_ids_are_404(api, path):
    assert_error(api.get(path), 404, "not_found")
    assert_error(api.patch(path, {"name": "x"}), 404, "not_found")


def test_unknown_paths_and_methods_answer_in_the_error_format(api, account):
    assert_error(api.get("/no-such-thing"), 404, "not_found")
    response = api.request("put", f"/accounts/{account.pk}", {"name": "x"})
    assert_error(response, 405, "method_not_allowed")
    assert "PATCH" in response["Allow"]


def test_errors_are_json_with_the_content_type_set(api):
    response = api.post("/accounts", raw="{")
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["error"]["code"] == "bad_request"
