"""The event endpoint reads bodies with msgspec and falls back on json, the reference: whatever
msgspec reads must be exactly what json reads, and what it reads must be "plain" (valid Unicode,
finite numbers), since the checks skip the surrogate and NaN searches for plain batches."""

import datetime as dt
import json
import math

import hypothesis
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from clm.customers.models import Account
from clm.usage.ingest import check_events
from clm.usage.ingest.decode import FIELDS, TypedBatch, TypedEvent, decode_body, decode_plain, encode_plain

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()  # includes lone surrogates
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def plain(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(plain(k) and plain(v) for k, v in value.items())
    return True


@settings(max_examples=500, deadline=None)
@given(documents, st.booleans(), st.data())
@example('["\\ud800"]', True, None)
@example({"x": 10**30, "y": -(2**64)}, True, None)
@example([1e308 * 10, -0.0], True, None)
def test_what_msgspec_reads_is_what_json_reads_and_plain(document, ascii, data):
    body = json.dumps(document, ensure_ascii=ascii).encode("utf-8", "surrogatepass")
    if data is not None and data.draw(st.booleans()):  # and some damaged bodies
        at = data.draw(st.integers(0, len(body)))
        body = body[:at] + data.draw(st.binary(max_size=3)) + body[at + 1 :]
    try:
        expected = json.loads(body)
    except (ValueError, RecursionError):
        expected = ValueError
    try:
        got = decode_plain(body)
    except (ValueError, RecursionError):
        got = ValueError
    if got is not ValueError:
        assert expected is not ValueError, body
        assert same(got, expected), body
        assert plain(got), body
    if expected is ValueError:
        assert got is ValueError, body
    else:
        assert decode_body(body)[1] == (got is not ValueError)  # plain


event_values = {
    "account": st.none() | st.integers() | st.floats() | st.booleans() | st.text(max_size=3),
    "account_external_id": st.none() | st.text(max_size=3) | st.integers(),
    "user_id": st.none() | st.text(max_size=3) | st.integers(min_value=-(2**65), max_value=2**65),
    "timestamp": st.none() | st.text(max_size=3) | st.just("2024-03-01T10:00:00Z"),
    "quantity": st.none() | st.integers() | st.floats() | st.booleans() | st.text(max_size=2),
    "properties": st.none()
    | st.dictionaries(st.text(max_size=3), scalars, max_size=2)
    | st.lists(scalars, max_size=2),
    "acount": st.integers(),
}
batches = st.lists(
    st.fixed_dictionaries({}, optional=event_values) | scalars,
    max_size=4,
).flatmap(lambda events: st.sampled_from([events, {"events": events}, {"events": events, "x": 1}]))


@settings(max_examples=500, deadline=None)
@given(batches)
def test_a_batch_read_as_typed_events_holds_what_json_reads(batch):
    """decode_body reads a batch of well-typed events into TypedEvents (for speed): each field is
    then what json reads (None when absent; a float field's integer as a float)."""
    body = json.dumps(batch).encode("utf-8", "surrogatepass")
    decoded, is_plain = decode_body(body)
    expected = json.loads(body)
    if isinstance(decoded, TypedBatch):
        decoded, expected = decoded.events, expected["events"]
        assert set(json.loads(body)) == {"events"}
    if decoded and isinstance(decoded, list) and isinstance(decoded[0], TypedEvent):
        assert is_plain and isinstance(expected, list) and len(decoded) == len(expected)
        for typed, raw in zip(decoded, expected, strict=True):
            assert set(raw) <= set(FIELDS)
            for name in FIELDS:
                value, sent = getattr(typed, name), raw.get(name)
                if name in ("quantity", "duration_seconds") and type(sent) is int:
                    assert type(value) is float and value == sent
                else:
                    assert same(value, sent), (name, value, sent)
    else:
        assert same(decoded, expected)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), documents, max_size=4))
def test_plain_properties_are_written_as_json_reads_them(properties):
    if not plain(properties):
        return
    assert same(json.loads(encode_plain(properties)), properties)


RECENT = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(microsecond=0)
checked_values = {
    "account": st.sampled_from([None, 0, -1, 999_999, 2**63, 2**64, True, 1.0, "1", "ACCOUNT"]),
    "account_external_id": st.sampled_from([None, "EXT-1", "nope", "", 5, "x" * 101]),
    "contact": st.sampled_from([None, 0, 999_999, "c"]),
    "user_id": st.none() | st.text(max_size=3) | st.integers(min_value=-(2**65), max_value=2**65),
    "event": st.sampled_from([None, "", "login", "x" * 101, 5, "a\x00b"]),
    "feature": st.none() | st.text(max_size=3) | st.sampled_from([[], "\ud800x"]),
    "timestamp": st.sampled_from(
        [None, "", "now", 5, RECENT.isoformat(), RECENT.isoformat()[:19], "2024-02-30T10:00:00Z"]
    ),
    "quantity": st.none() | st.integers() | st.floats() | st.booleans() | st.just("2"),
    "duration_seconds": st.none() | st.integers(-5, 5) | st.floats(-5, 5),
    "properties": st.none() | st.dictionaries(st.text(max_size=3), scalars, max_size=2) | st.just([1]),
    "idempotency_key": st.none() | st.text(max_size=3) | st.integers(0, 3),
}


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({}, optional=checked_values), min_size=1, max_size=6))
@example([{"account": "ACCOUNT", "event": "login", "timestamp": RECENT.isoformat(), "quantity": 2}])
def test_events_are_checked_alike_however_they_were_read(admin_user, events):
    """check_events gives the same errors and frame for a batch read by decode_body (as
    TypedEvents, or plain JSON) as for the same batch read by json with every check on."""
    account = Account.objects.get_or_create(name="Checked", defaults={"external_id": "EXT-1"})[0]
    for e in events:
        if e.get("account") == "ACCOUNT":
            e["account"] = account.pk
    body = json.dumps(events).encode("utf-8", "surrogatepass")
    decoded, plain = decode_body(body)
    hypothesis.event("typed" if isinstance(decoded[0], TypedEvent) else "plain" if plain else "json")
    fast = check_events(decoded, admin_user, body, plain)
    reference = check_events(json.loads(body), admin_user, body, False)
    assert fast[1].report() == reference[1].report()
    pd.testing.assert_frame_equal(fast[0].reset_index(drop=True), reference[0].reset_index(drop=True))
