"""Reading the body of POST /events: msgspec first (straight into TypedEvents when every field
has an expected type), json as the reference when msgspec refuses; the batch's shape and size."""

import json
from typing import Any

import msgspec
from django.core.exceptions import RequestDataTooBig

from clm.core.crud import ApiError

MAX_EVENTS = 10_000
FIELDS = {
    "account": "the account's id in CLM",
    "account_external_id": "or the account's id in your system",
    "contact": "optional: the contact's id in CLM",
    "contact_external_id": "optional: or the contact's id in your system",
    "user_id": "the product's id of the user (string or integer)",
    "event": "the event name, e.g. login",
    "feature": "the product feature used",
    "timestamp": "ISO 8601; without an offset it is in the workspace's time zone",
    "quantity": "a number, default 1",
    "duration_seconds": "a number, default 0",
    "properties": "an object of anything else: at most 32 KB as JSON, 5 levels deep, 255 keys per object",
    "idempotency_key": "an event sent twice with the same key is stored once",
}


class TypedEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An event whose every field has one of the types the checks accept (absent or null: None).
    Not tracked by the garbage collector: a batch of these costs it nothing."""

    account: int | None = None
    account_external_id: str | None = None
    contact: int | None = None
    contact_external_id: str | None = None
    user_id: str | int | None = None
    event: str | None = None
    feature: str | None = None
    timestamp: str | None = None
    quantity: float | None = None
    duration_seconds: float | None = None
    properties: dict[str, Any] | None = None
    idempotency_key: str | None = None


class TypedBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[TypedEvent]


assert TypedEvent.__struct_fields__ == tuple(FIELDS)
decode_typed = msgspec.json.Decoder(list[TypedEvent] | TypedBatch).decode
decode_plain = msgspec.json.Decoder().decode
encode_plain = msgspec.json.Encoder().encode
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def decode_body(body: bytes) -> tuple[Any, bool]:
    """The body's JSON value, and whether it is plain: read by msgspec, which gives what json
    gives but reads only UTF-8 and refuses NaN, Infinity, numbers beyond a double and lone
    surrogates (escaped or encoded). Anything else is read by json, the reference: its errors
    are the client's (ValueError, RecursionError). A batch of well-typed events (the usual case)
    is read straight into TypedEvents; any other value is read as plain JSON."""
    try:
        return decode_typed(body), True
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        pass
    try:
        return decode_plain(body), True
    except (ValueError, RecursionError):
        return json.loads(body), False


def parse_body(request) -> tuple[list, bool]:
    try:
        body = request.body
    except RequestDataTooBig:
        raise ApiError(
            413, "too_large", f"The body is too large; send at most {MAX_EVENTS:,} events per request."
        ) from None
    try:
        data, plain = decode_body(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "bad_request", f"The body is not valid JSON: {exc}") from None
    if isinstance(data, TypedBatch):
        data = data.events
    elif isinstance(data, dict) and set(data) == {"events"}:
        data = data["events"]
    if not isinstance(data, list):
        raise ApiError(
            422,
            "invalid_request",
            'The body must be a JSON array of events (or {"events": [...]}).',
            [{"loc": ["body"], "message": f"got {type(data).__name__ if data is not None else 'null'}"}],
        )
    if len(data) > MAX_EVENTS:
        raise ApiError(
            413, "too_large", f"At most {MAX_EVENTS:,} events per request; this one has {len(data):,}."
        )
    return data, plain
