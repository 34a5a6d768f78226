"""REST resources for usage: batched event ingestion (POST /events; the engine is
clm.usage.ingest) and the feature catalogue."""

from typing import Annotated, Any

from django.db import transaction
from ninja import FilterLookup, FilterSchema, Router, Schema
from pydantic import Field

from clm.core.crud import Resource, Text, register, require
from clm.usage.ingest import MAX_REPORTED_ERRORS, ingest
from clm.usage.ingest.decode import FIELDS, MAX_EVENTS, parse_body
from clm.usage.models import Feature, UsageEvent

router = Router()


class EventIn(Schema):
    """One usage event (documentation of the body; the endpoint checks events column-wise)."""

    account: int | None = Field(None, description=FIELDS["account"])
    account_external_id: str | None = Field(None, max_length=100, description=FIELDS["account_external_id"])
    contact: int | None = Field(None, description=FIELDS["contact"])
    contact_external_id: str | None = Field(None, max_length=100, description=FIELDS["contact_external_id"])
    user_id: str | int | None = Field(None, description=FIELDS["user_id"])
    event: str = Field(..., min_length=1, max_length=100, description=FIELDS["event"])
    feature: str | None = Field(None, max_length=100, description=FIELDS["feature"])
    timestamp: str = Field(..., description=FIELDS["timestamp"], examples=["2024-03-01T09:30:00+08:00"])
    quantity: float = Field(1, ge=0, description=FIELDS["quantity"])
    duration_seconds: float = Field(0, ge=0, description=FIELDS["duration_seconds"])
    properties: dict[str, Any] | None = Field(None, description=FIELDS["properties"])
    idempotency_key: str | None = Field(None, max_length=100, description=FIELDS["idempotency_key"])


class EventError(Schema):
    index: int
    field: str | None
    message: str


class IngestResult(Schema):
    received: int = Field(description="events in the request")
    stored: int = Field(description="new events stored")
    duplicates: int = Field(description="valid events already stored (or repeated in the batch)")
    errors: list[EventError] = Field(description=f"the first {MAX_REPORTED_ERRORS} errors, by event index")
    errors_omitted: int = Field(description="errors beyond those listed")


EVENT_SCHEMA = EventIn.model_json_schema()
BATCH_SCHEMA = {"type": "array", "maxItems": MAX_EVENTS, "items": EVENT_SCHEMA}
BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        BATCH_SCHEMA,
                        {"type": "object", "required": ["events"], "properties": {"events": BATCH_SCHEMA}},
                    ]
                }
            }
        },
    }
}


@router.post(
    "/events", operation_id="ingest_events",
    response=IngestResult,
    tags=["usage"],
    summary="Ingest a batch of usage events",
    description=(
        f'Up to {MAX_EVENTS:,} events per request, as a JSON array (or {{"events": [...]}}). '
        "Invalid events are reported by index and field while the valid ones are stored (the first "
        f"{MAX_REPORTED_ERRORS} errors are listed, errors_omitted counts the rest); an event whose "
        "idempotency_key (or, without one, whose content) is already stored counts as a duplicate."
    ),
    openapi_extra=BODY_SCHEMA,
)
@transaction.non_atomic_requests  # batches are stored in groups, retried by store_alone
def ingest_events(request):
    require(request.user, "add", UsageEvent)
    events, plain = parse_body(request)
    return ingest(events, request.user, request.body, plain)


class FeatureFilters(FilterSchema):
    q: Annotated[Text | None, FilterLookup(["key__icontains", "name__icontains"])] = None
    is_core: Annotated[bool | None, FilterLookup("is_core")] = None


register(router, Resource(Feature, "features", FeatureFilters))
