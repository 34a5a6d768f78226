"""POST /events: batched usage-event ingestion. Valid events are stored and rolled up, invalid ones
are reported by index and field, known idempotency keys are ignored, and no body is a 500."""

import datetime as dt
import json

import pandas as pd
import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clm.customers.models import Account, Contact
from clm.usage.ingest import MAX_REPORTED_ERRORS
from clm.usage.ingest.decode import MAX_EVENTS
from clm.usage.models import UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily
from clm.usage.services import (
    PROPERTIES_TOO_DEEP,
    PROPERTIES_TOO_LARGE,
    PROPERTIES_TOO_WIDE,
    roll_up_pending,
)
from tests.api.conftest import assert_error
from tests.factories import make_account

pytestmark = pytest.mark.django_db

RECENT = (timezone.now() - dt.timedelta(days=2)).replace(microsecond=0)
WHEN = RECENT.isoformat()


@pytest.fixture
def account(owner, csm):
    return make_account(sales_owner=owner, csm=csm, external_id="SF-1", source="salesforce")


@pytest.fixture
def api(csm, api_as):
    return api_as(csm)


def event(account, **extra):
    return {"account": account.pk, "user_id": "u1", "event": "login", "timestamp": WHEN, **extra}


def rollups():
    """The rollups once the pending events are counted (the API leaves that to the task queue)."""
    roll_up_pending()
    return (
        list(
            UsageDaily.objects.order_by("account_id", "day").values_list(
                "account_id", "day", "events", "active_users", "minutes"
            )
        ),
        list(UsageFeatureDaily.objects.order_by("feature").values_list("feature", "events", "minutes")),
    )


def test_valid_events_are_stored_with_their_rollups(api, account):
    events = [
        event(
            account, feature="reports", duration_seconds=120, properties={"plan": "pro"}, idempotency_key="e1"
        ),
        event(account, user_id=42, feature="reports", duration_seconds=60, idempotency_key="e2"),
        event(account, user_id="u1", event="export", quantity=3, idempotency_key="e3"),
    ]
    result = api.post("/events", events)
    assert result.status_code == 200, result.content
    assert result.json_body == {"received": 3, "stored": 3, "duplicates": 0, "errors": [], "errors_omitted": 0}
    stored = UsageEvent.objects.get(idempotency_key="e1")
    assert (stored.account, stored.user_key, stored.feature, stored.properties) == (
        account,
        "u1",
        "reports",
        {"plan": "pro"},
    )
    assert stored.occurred_at == RECENT
    assert UsageEvent.objects.get(idempotency_key="e2").user_key == "42"
    assert UsageEvent.objects.get(idempotency_key="e3").quantity == 3
    day = timezone.localtime(RECENT).date()
    assert rollups() == ([(account.pk, day, 3, 2, 3.0)], [("reports", 2, 3.0)])


def test_invalid_events_are_reported_by_index_and_field_while_the_valid_ones_are_stored(api, account):
    events = [
        event(account, idempotency_key="ok-1"),
        event(account, timestamp="yesterday"),
        event(account, idempotency_key="ok-2"),
        {"account": account.pk, "timestamp": WHEN},
        event(account, quantity=-1),
        "not an event",
    ]
    result = api.post("/events", events).json_body
    assert (result["received"], result["stored"], result["duplicates"]) == (6, 2, 0)
    assert [(e["index"], e["field"]) for e in result["errors"]] == [
        (1, "timestamp"),
        (3, "event"),
        (4, "quantity"),
        (5, None),
    ]
    assert result["errors"][2]["message"] == "is negative"
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"ok-1", "ok-2"}


def test_sending_the_same_batch_twice_stores_nothing_new_and_leaves_rollups_unchanged(api, account):
    events = [
        event(account, user_id=f"u{i % 3}", feature="reports", duration_seconds=30, idempotency_key=f"k{i}")
        for i in range(20)
    ]
    first = api.post("/events", events).json_body
    before = rollups()
    second = api.post("/events", events).json_body
    assert (first["stored"], first["duplicates"]) == (20, 0)
    assert (second["stored"], second["duplicates"], second["errors"]) == (0, 20, [])
    assert UsageEvent.objects.count() == 20
    assert rollups() == before


def test_a_key_repeated_within_a_batch_counts_as_a_duplicate(api, account):
    result = api.post("/events", [event(account, idempotency_key="same")] * 3).json_body
    assert (result["stored"], result["duplicates"]) == (1, 2)


def test_events_without_keys_are_deduplicated_by_their_content(api, account):
    events = [event(account, feature="a"), event(account, feature="b")]
    assert api.post("/events", events).json_body["stored"] == 2
    assert api.post("/events", events).json_body == {
        "received": 2,
        "stored": 0,
        "duplicates": 2,
        "errors": [],
        "errors_omitted": 0,
    }


def test_users_active_in_two_batches_of_one_day_count_once(api, account):
    api.post("/events", [event(account, user_id="u1", idempotency_key="a")])
    roll_up_pending()
    api.post(
        "/events",
        [
            event(account, user_id="u1", idempotency_key="b"),
            event(account, user_id="u2", idempotency_key="c"),
        ],
    )
    roll_up_pending()
    assert UsageDaily.objects.get().active_users == 2
    assert UsageDailyUser.objects.count() == 2


def test_accounts_and_contacts_can_be_named_by_their_external_ids(api, account):
    contact = Contact.objects.create(account=account, name="张伟", external_id="C-9")
    result = api.post(
        "/events",
        [{"account_external_id": "SF-1", "contact_external_id": "C-9", "event": "login", "timestamp": WHEN}],
    )
    assert result.json_body["stored"] == 1
    stored = UsageEvent.objects.get()
    assert (stored.account_id, stored.contact_id) == (account.pk, contact.pk)


def test_a_contact_must_belong_to_the_events_account(api, account):
    other = Contact.objects.create(account=Account.objects.create(name="Other"), name="x")
    mine = Contact.objects.create(account=account, name="y")
    result = api.post(
        "/events",
        [
            event(account, contact=other.pk),
            event(account, contact=mine.pk),
            event(account, contact_external_id="nope"),
        ],
    )
    assert [(e["index"], e["field"], e["message"]) for e in result.json_body["errors"]] == [
        (0, "contact", "unknown contact of this account"),
        (2, "contact_external_id", "unknown contact of this account"),
    ]
    assert UsageEvent.objects.get().contact == mine


def test_an_external_id_used_by_two_source_systems_is_ambiguous(api, account):
    Account.objects.create(name="Twin", external_id="SF-1", source="hubspot")
    result = api.post(
        "/events", [{"account_external_id": "SF-1", "event": "login", "timestamp": WHEN}]
    ).json_body
    assert result["errors"][0]["field"] == "account_external_id"
    assert "several source systems" in result["errors"][0]["message"]


def test_an_event_for_an_account_the_user_cannot_see_is_an_unknown_account(
    account, team_visibility, admin_user, api_as
):
    from tests.conftest import make_user

    stranger = make_user("stranger-csm", "CSM")  # no team, looks after nothing
    hidden = (
        api_as(stranger).post("/events", [event(account), {**event(account), "account": 999999}]).json_body
    )
    assert [(e["index"], e["field"], e["message"]) for e in hidden["errors"]] == [
        (0, "account", "unknown account"),
        (1, "account", "unknown account"),
    ]
    assert not UsageEvent.objects.exists()
    assert api_as(admin_user).post("/events", [event(account)]).json_body["stored"] == 1


def test_naive_timestamps_are_in_the_workspace_time_zone(api, account, settings):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    local = timezone.localtime(RECENT).replace(hour=7, minute=30, tzinfo=None)
    api.post("/events", [event(account, timestamp=local.isoformat())])
    stored = UsageEvent.objects.get()
    assert stored.occurred_at.astimezone(dt.UTC).replace(tzinfo=None) == local - dt.timedelta(hours=8)
    roll_up_pending()
    assert UsageDaily.objects.get().day == local.date()  # 07:30 in Shanghai: the UTC day is the day before


def test_offsets_and_z_are_honoured(api, account):
    utc = RECENT.astimezone(dt.UTC).replace(tzinfo=None)
    api.post(
        "/events",
        [
            event(account, timestamp=utc.isoformat() + "Z", idempotency_key="z"),
            event(
                account,
                timestamp=(RECENT.astimezone(dt.timezone(dt.timedelta(hours=-5)))).isoformat(),
                idempotency_key="minus5",
            ),
        ],
    )
    assert {e.occurred_at for e in UsageEvent.objects.all()} == {RECENT}


def test_a_z_followed_by_spaces_is_still_utc(api, account):
    utc = RECENT.astimezone(dt.UTC).replace(tzinfo=None)
    result = api.post("/events", [event(account, timestamp=utc.isoformat() + "Z  ")])
    assert result.status_code == 200, result.content
    assert UsageEvent.objects.get().occurred_at == RECENT


def test_the_batch_may_come_wrapped_in_an_object(api, account):
    assert api.post("/events", {"events": [event(account)]}).json_body["stored"] == 1


def test_an_empty_batch_is_fine(api):
    assert api.post("/events", []).json_body == {
        "received": 0,
        "stored": 0,
        "duplicates": 0,
        "errors": [],
        "errors_omitted": 0,
    }


@pytest.mark.parametrize("user", ["viewer", "owner"])
def test_only_users_who_may_add_usage_events_can_send_them(request, user, account, api_as):
    assert_error(api_as(request.getfixturevalue(user)).post("/events", [event(account)]), 403, "forbidden")
    assert not UsageEvent.objects.exists()


def test_more_than_ten_thousand_events_is_refused_as_a_whole(api, account):
    error = assert_error(
        api.post("/events", [event(account, idempotency_key=str(i)) for i in range(MAX_EVENTS + 1)]),
        413,
        "too_large",
    )
    assert "10,000" in error["message"]
    assert not UsageEvent.objects.exists()


def test_ten_thousand_events_are_fine(api, account):
    result = api.post(
        "/events", [event(account, idempotency_key=str(i), user_id=i % 50) for i in range(MAX_EVENTS)]
    ).json_body
    assert (result["stored"], result["errors"]) == (MAX_EVENTS, [])
    roll_up_pending()
    assert UsageDaily.objects.aggregate(n=Sum("events"))["n"] == MAX_EVENTS


@pytest.mark.parametrize(
    "raw, status",
    [
        ("not json", 400),
        ('[{"account": 1,', 400),
        (b"\xff\xfe", 400),
        ("[" * 100_000 + "]" * 100_000, 400),
        ("1" * 5000, 400),  # past Python's limit on digits in an integer
        ("{}", 422),
        ('{"events": 5}', 422),
        ('{"evnts": []}', 422),
        ("null", 422),
        ("5", 422),
        ('"events"', 422),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_in_the_error_format(api, raw, status):
    assert_error(api.post("/events", raw=raw), status)


BAD_EVENTS = [
    ({"account": "1"}, "account", "positive integer id"),
    ({"account": 10**30}, "account", "positive integer id"),
    ({"account": -4}, "account", "positive integer id"),
    ({"account": True}, "account", "positive integer id"),
    ({"account": None}, "account", "is required"),
    ({"contact": "x"}, "contact", "positive integer id"),
    ({"timestamp": 1709251200}, "timestamp", "must be a string"),
    ({"timestamp": "yesterday"}, "timestamp", "ISO 8601"),
    ({"timestamp": "2024-02-30T10:00:00"}, "timestamp", "ISO 8601"),
    ({"timestamp": "now"}, "timestamp", "ISO 8601"),
    ({"timestamp": "2024-03-01T10:00:00+99:00"}, "timestamp", "ISO 8601"),
    ({"timestamp": None}, "timestamp", "is required"),
    ({"timestamp": "2001-01-01T00:00:00Z"}, "timestamp", "retention"),
    ({"timestamp": "2999-01-01T00:00:00Z"}, "timestamp", "future"),
    ({"event": None}, "event", "is required"),
    ({"event": ""}, "event", "is required"),
    ({"event": 5}, "event", "must be a string"),
    ({"event": "x" * 101}, "event", "longer than 100"),
    ({"event": "a\x00b"}, "event", "NUL"),
    ({"feature": ["a"]}, "feature", "must be a string"),
    ({"user_id": {"id": 1}}, "user_id", "string or an integer"),
    ({"user_id": 10**30}, "user_id", "string or an integer"),
    ({"idempotency_key": 5}, "idempotency_key", "must be a string"),
    ({"quantity": "lots"}, "quantity", "must be a number"),
    ({"quantity": True}, "quantity", "must be a number"),
    ({"quantity": 10**400}, "quantity", "too large"),
    ({"quantity": -1}, "quantity", "negative"),
    ({"duration_seconds": -5}, "duration_seconds", "negative"),
    ({"properties": ["a"]}, "properties", "must be an object"),
    ({"properties": {"k": "a\x00"}}, "properties", "NUL"),
    ({"acount": 1}, "acount", "unknown field"),
]


@pytest.mark.parametrize(
    "change, field, words", BAD_EVENTS, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(BAD_EVENTS)]
)
def test_a_bad_event_is_reported_by_index_and_field_and_the_rest_are_stored(
    api, account, change, field, words
):
    events = [event(account, idempotency_key="good"), {**event(account, idempotency_key="bad"), **change}]
    result = api.post("/events", events)
    assert result.status_code == 200, result.content
    errors = result.json_body["errors"]
    assert [e["index"] for e in errors] == [1], errors
    assert errors[0]["field"] == field and words in errors[0]["message"], errors
    assert result.json_body["stored"] == 1
    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["good"]


@pytest.mark.parametrize(
    "raw_event, field",
    [
        ('"quantity": NaN', "quantity"),
        ('"quantity": Infinity', "quantity"),
        ('"quantity": 1e999', "quantity"),
        ('"properties": {"x": NaN}', "properties"),
        ('"event": "\\ud800"', "event"),
        ('"user_id": "\\udfff"', "user_id"),
        ('"properties": {"x": "\\ud83d"}', "properties"),
        ('"properties": {"\\u0000": 1}', "properties"),
    ],
)
def test_values_no_database_stores_are_per_event_errors(api, account, raw_event, field):
    good = json.dumps(event(account, idempotency_key="good"))
    bad = json.dumps(event(account, idempotency_key="bad"))[:-1] + ", " + raw_event + "}"
    result = api.post("/events", raw=f"[{good}, {bad}]")
    assert result.status_code == 200, result.content
    assert [(e["index"], e["field"]) for e in result.json_body["errors"]] == [(1, field)]
    assert result.json_body["stored"] == 1


def test_an_emoji_escaped_as_a_surrogate_pair_is_fine(api, account):
    bad = json.dumps(event(account, properties={"mood": "😀"}))  # json.dumps escapes it as \ud83d\ude00
    assert "\\ud83d" in bad
    assert api.post("/events", raw=f"[{bad}]").json_body["stored"] == 1
    assert UsageEvent.objects.get().properties == {"mood": "😀"}


def test_a_surrogate_encoded_in_utf8_bytes_is_an_error_of_its_event(api, account):
    # json reads UTF-8 with "surrogatepass": these three bytes are a lone surrogate, no escape needed.
    good = json.dumps(event(account, idempotency_key="good")).encode()
    bad = json.dumps(event(account, idempotency_key="bad", event="@")).encode().replace(b"@", b"\xed\xa0\x80")
    result = api.post("/events", raw=b"[" + good + b", " + bad + b"]")
    assert result.status_code == 200, result.content
    assert [(e["index"], e["field"]) for e in result.json_body["errors"]] == [(1, "event")]
    assert result.json_body["stored"] == 1


def test_timestamps_finer_than_microseconds_are_truncated(api, account):
    api.post("/events", [event(account, timestamp=RECENT.isoformat().replace("+", ".123456789+", 1))])
    assert UsageEvent.objects.get().occurred_at == RECENT + dt.timedelta(microseconds=123456)


def test_a_utf16_body_is_read_and_checked_like_any_other(api, account):
    body = json.dumps([event(account, idempotency_key="ok"), event(account, event="a\x00")]).encode("utf-16")
    result = api.post("/events", raw=body).json_body
    assert result["stored"] == 1
    assert [(e["index"], e["field"]) for e in result["errors"]] == [(1, "event")]


# Values no database stores (lone UTF-16 surrogates, NUL) are per-event errors naming the field,
# whatever backs pandas' strings: Python objects, or Arrow when pyarrow is installed (pandas 3 then
# makes every inferred string column Arrow-backed, and Arrow cannot hold a lone surrogate).


@pytest.fixture(params=["python", "pyarrow"])
def string_storage(request):
    if request.param == "pyarrow":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pytest.skip("pyarrow is not installed here, so Arrow-backed strings cannot be tested")
    options = ["mode.string_storage", request.param]
    if int(pd.__version__.split(".")[0]) < 3:  # pandas 3 infers str columns by default
        options += ["future.infer_string", True]
    with pd.option_context(*options):
        assert pd.Series(["x"]).dtype == "str"
        yield request.param


BAD_TEXT = {"lone surrogate": "\\ud800", "NUL": "\\u0000"}
STRING_FIELDS = [
    "account_external_id",
    "contact_external_id",
    "user_id",
    "event",
    "feature",
    "idempotency_key",
    "timestamp",
]


def post_raw(api, good: dict, bad: dict, field: str, escaped: str):
    """POST [good, bad] where bad[field] is a JSON string holding the escape `escaped`."""
    bad_text = json.dumps(bad)[:-1] + f', "{field}": "a{escaped}b"}}'
    return api.post("/events", raw=f"[{json.dumps(good)}, {bad_text}]")


@pytest.mark.parametrize("what", BAD_TEXT)
@pytest.mark.parametrize("field", STRING_FIELDS)
def test_a_value_no_database_stores_is_an_error_of_its_event_and_field(
    api, account, string_storage, field, what
):
    bad = event(account, idempotency_key="bad")
    bad.pop(field, None)
    if field == "account_external_id":
        bad.pop("account")
    result = post_raw(api, event(account, idempotency_key="good"), bad, field, BAD_TEXT[what])
    assert result.status_code == 200, result.content
    errors = result.json_body["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, field)], errors
    assert result.json_body["stored"] == 1
    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["good"]


@pytest.mark.parametrize("raw", ['{"x": "\\ud83d"}', '{"\\ud800": 1}', '{"x": ["\\u0000"]}'])
def test_properties_no_database_stores_are_an_error_of_their_event(api, account, string_storage, raw):
    good = json.dumps(event(account, idempotency_key="good"))
    bad = json.dumps(event(account, idempotency_key="bad"))[:-1] + f', "properties": {raw}}}'
    result = api.post("/events", raw=f"[{good}, {bad}]")
    assert result.status_code == 200, result.content
    assert [(e["index"], e["field"]) for e in result.json_body["errors"]] == [(1, "properties")]
    assert result.json_body["stored"] == 1


def test_valid_text_is_stored_as_sent(api, account, string_storage):
    sent = event(account, user_id="用户😀", feature="报表", idempotency_key="键", properties={"情绪": "😀"})
    result = api.post("/events", raw=json.dumps([sent]))  # ASCII escapes, with a surrogate pair
    assert result.json_body["stored"] == 1, result.content
    stored = UsageEvent.objects.get()
    assert (stored.user_key, stored.feature, stored.idempotency_key, stored.properties) == (
        "用户😀",
        "报表",
        "键",
        {"情绪": "😀"},
    )


def test_a_batch_costs_the_same_queries_however_many_accounts_and_contacts_it_names(csm, api):
    accounts = Account.objects.bulk_create(
        [Account(name=f"a{i}", csm=csm, external_id=f"X-{i}") for i in range(60)]
    )
    contacts = Contact.objects.bulk_create(
        [Contact(account=a, name="c", external_id=f"C-{a.pk}") for a in accounts]
    )

    def batch(size, tag):
        return [
            {
                **event(accounts[i], idempotency_key=f"{tag}{i}"),
                **(
                    {
                        "account": None,
                        "account_external_id": f"X-{i}",
                        "contact_external_id": f"C-{accounts[i].pk}",
                    }
                    if i % 2
                    else {"contact": contacts[i].pk}
                ),
            }
            for i in range(size)
        ]

    api.post("/events", batch(2, "warm-up"))  # the token's last use is recorded once a minute
    counts = []
    for size, tag in [(4, "small"), (60, "large")]:
        with CaptureQueriesContext(connection) as queries:
            result = api.post("/events", batch(size, tag)).json_body
        assert (result["stored"], result["errors"]) == (size, [])
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_properties_past_their_bounds_are_an_error_of_their_event_and_the_others_are_stored(api, account):
    deep = {"a": [{"b": [{"c": [1]}]}]}  # six levels, the properties object included
    events = [
        event(account, idempotency_key="ok-1", properties={"a": [{"b": [1]}]}),
        event(account, idempotency_key="big", properties={"items": list(range(800_000))}),  # issue 14: 4 MB
        event(account, idempotency_key="deep", properties=deep),
        event(account, idempotency_key="wide", properties={f"k{i}": i for i in range(256)}),
        event(account, idempotency_key="ok-2", properties={f"k{i}": i for i in range(255)}),
    ]
    result = api.post("/events", events).json_body
    assert (result["received"], result["stored"], result["errors_omitted"]) == (5, 2, 0)
    assert result["errors"] == [
        {"index": 1, "field": "properties", "message": PROPERTIES_TOO_LARGE.removeprefix("properties ")},
        {"index": 2, "field": "properties", "message": PROPERTIES_TOO_DEEP.removeprefix("properties ")},
        {"index": 3, "field": "properties", "message": PROPERTIES_TOO_WIDE.removeprefix("properties ")},
    ]
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"ok-1", "ok-2"}


def test_the_errors_listed_are_the_first_hundred_and_the_rest_are_counted(api, account):
    events = [event(account, idempotency_key=f"k{i}") for i in range(300)]
    for i in range(0, 300, 2):  # 150 bad events, two errors each
        events[i] = event(account, event="", timestamp="yesterday")
    result = api.post("/events", events).json_body
    assert (result["stored"], len(result["errors"]), result["errors_omitted"]) == (150, MAX_REPORTED_ERRORS, 200)
    assert [(e["index"], e["field"]) for e in result["errors"][:4]] == [
        (0, "event"),
        (0, "timestamp"),
        (2, "event"),
        (2, "timestamp"),
    ]
    assert result["errors"][-1]["index"] == 98
