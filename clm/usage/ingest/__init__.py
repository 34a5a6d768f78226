"""Usage event ingestion, built for throughput: the body is parsed once (decode: msgspec, with json
as the reference), checked column by column (checks), accounts and contacts resolved with one
query each per batch (resolve), and the valid events stored by clm.usage.services.store_events,
concurrent batches in one transaction (writer.GroupWriter). Invalid events are reported by index
and field while the valid ones are stored; known idempotency keys count as duplicates."""

import numpy as np
import pandas as pd

from clm.usage.ingest.checks import Batch
from clm.usage.ingest.decode import FIELDS
from clm.usage.ingest.resolve import resolve_accounts, resolve_contacts
from clm.usage.ingest.writer import store
from clm.usage.services import EVENT_COLUMNS, announce_ingested, event_problems

MAX_REPORTED_ERRORS = 100  # a batch of 10,000 bad events would answer with megabytes of errors


def ingest(events: list, user, raw: bytes | None = None, plain: bool = False) -> dict:
    """Check a batch of decoded events and store the valid ones; the answer of POST /events."""
    frame, batch = check_events(events, user, raw, plain)
    stored = store(frame) if len(frame) else 0
    # store() returns once the group holding this batch has committed: announced after the commit,
    # in this request's thread, not under the writer's lock.
    announce_ingested(frame, stored, actor=user)
    errors = batch.report(MAX_REPORTED_ERRORS)
    return {
        "received": batch.n,
        "stored": stored,
        "duplicates": len(frame) - stored,
        "errors": errors,
        "errors_omitted": batch.error_count - len(errors),
    }


def check_events(
    events: list, user, raw: bytes | None = None, plain: bool = False
) -> tuple[pd.DataFrame, Batch]:
    """The valid events as a frame for store_events, and the batch holding the errors of the rest
    (raw and plain: see Batch)."""
    batch = Batch(events, raw, plain)
    if batch.n == 0:
        return pd.DataFrame(columns=EVENT_COLUMNS), batch
    account_ids = batch.ids("account")
    account_external = batch.strings("account_external_id")
    contact_ids = batch.ids("contact")
    contact_external = batch.strings("contact_external_id")
    user_key = batch.strings("user_id", integers=True)
    event = batch.strings("event", required=True)
    feature = batch.strings("feature")
    key = batch.strings("idempotency_key")
    occurred = batch.timestamps("timestamp")
    quantity = batch.numbers("quantity", 1.0)
    duration = batch.numbers("duration_seconds", 0.0)
    properties = batch.properties()
    accounts = resolve_accounts(batch, user, account_ids, account_external)
    contacts = resolve_contacts(batch, accounts, contact_ids, contact_external)
    # Only valid events go into the frame: pandas may back its strings with Arrow, which cannot
    # hold what the checks refused (a lone surrogate).
    good = ~batch.bad
    if not good.any():
        return pd.DataFrame(columns=EVENT_COLUMNS), batch
    pick = slice(None) if good.all() else good

    def column(values: list, missing: str | None = None) -> np.ndarray:
        picked = np.fromiter(values, dtype=object, count=batch.n)[pick]
        if missing is not None and None in values:
            picked[picked == None] = missing  # noqa: E711 (elementwise)
        return picked

    frame = pd.DataFrame(
        {
            "account_id": accounts[pick],
            "contact_id": pd.arrays.IntegerArray(contacts[pick], contacts[pick] == 0),  # NA where absent
            "user_key": column(user_key, ""),
            "event": column(event, ""),
            "feature": column(feature, ""),
            "occurred_at": occurred.array[pick],
            "quantity": quantity[pick],
            "duration_seconds": duration[pick],
            "properties": column(properties),
            "idempotency_key": column(key),
        },
        columns=EVENT_COLUMNS,
        copy=False,
    )
    problems = event_problems(frame).to_numpy()
    refused = problems != ""
    if refused.any():
        refuse(batch, np.flatnonzero(good)[refused], problems[refused])
        frame = frame[~refused]
    return frame, batch


def refuse(batch: Batch, indexes: np.ndarray, reasons: np.ndarray) -> None:
    """Record event_problems' reasons, which start with the column they are about."""
    groups: dict[tuple, list[int]] = {}
    for i, reason in zip(indexes.tolist(), reasons.tolist(), strict=True):
        column, _, rest = reason.partition(" ")
        field = "timestamp" if column == "occurred_at" else column if column in FIELDS else None
        groups.setdefault((field, rest if field else reason), []).append(i)
    for (field, message), where in groups.items():
        mask = np.zeros(batch.n, dtype=bool)
        mask[where] = True
        batch.fail(mask, field, message)
