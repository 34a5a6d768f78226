"""The event endpoint reads bodies with msgspec and falls back on json, the reference: whatever
msgspec reads must be exactly what json reads, and what it reads must be "plain" (valid Unicode,
finite numbers), since the checks skip the surrogate and NaN searches for plain batches."""

import json
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from clm.usage.api import decode_body, decode_plain, encode_plain

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
    decoded, is_plain = decode_body(body) if expected is not ValueError else (None, None)
    if expected is not ValueError:
        assert same(decoded, expected) and is_plain == (got is not ValueError)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), documents, max_size=4))
def test_plain_properties_are_written_as_json_reads_them(properties):
    if not plain(properties):
        return
    assert same(json.loads(encode_plain(properties)), properties)
