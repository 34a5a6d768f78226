"""Which accounts and contacts the events of a batch are about: one query for each kind of
reference, among the records the sender can see."""

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models.expressions import RawSQL

from clm.core.access import visible_accounts
from clm.customers.models import Contact
from clm.usage.ingest.checks import Batch


def id_list(ids: np.ndarray) -> RawSQL:
    """A subquery of these ids, for `pk__in`: one text parameter however many there are (Django
    binds and converts each id of a list, and psycopg adapting a list as an array costs more
    than PostgreSQL parsing the array's text)."""
    text = ",".join(map(str, ids.tolist()))
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", ["{" + text + "}"])
    return RawSQL("SELECT value FROM json_each(%s)", ["[" + text + "]"])


def resolve_accounts(batch: Batch, user, ids: np.ndarray, external: list) -> np.ndarray:
    """Account ids of the events, by id or by external id, among the accounts the user can see:
    an invisible account is as unknown as a missing one. One query for each kind of reference.
    An external id that is itself invalid (a lone surrogate...) is not looked up: no driver sends it."""
    has_external = np.fromiter((v is not None for v in external), dtype=bool, count=batch.n)
    both = (ids > 0) & has_external
    batch.fail(both, "account", "send account or account_external_id, not both")
    batch.fail((ids == 0) & ~has_external, "account", "is required (account or account_external_id)")
    wanted = np.unique(ids[ids > 0])
    if len(wanted):
        visible = visible_accounts(user).filter(pk__in=id_list(wanted)).order_by()
        known = np.fromiter(visible.values_list("pk", flat=True), np.int64)
        batch.fail((ids > 0) & ~both & ~np.isin(ids, known), "account", "unknown account")
    resolved = ids.copy()
    by_external = np.flatnonzero(has_external & ~both & ~batch.failed("account_external_id"))
    if len(by_external):
        keys = list(dict.fromkeys(external[i] for i in by_external))
        pks: dict[str, int] = {}
        ambiguous = set()
        for key, pk in visible_accounts(user).filter(external_id__in=keys).values_list("external_id", "pk"):
            if key in pks:
                ambiguous.add(key)
            pks[key] = pk
        several = np.zeros(batch.n, dtype=bool)
        unknown = np.zeros(batch.n, dtype=bool)
        for i in by_external.tolist():
            key = external[i]
            if key in ambiguous:
                several[i] = True
            elif key in pks:
                resolved[i] = pks[key]
            else:
                unknown[i] = True
        batch.fail(
            several,
            "account_external_id",
            "names accounts of several source systems; send account (the id in CLM)",
        )
        batch.fail(unknown & ~batch.bad, "account_external_id", "unknown account")
    return resolved


def resolve_contacts(batch: Batch, accounts: np.ndarray, ids: np.ndarray, external: list) -> np.ndarray:
    """Contact ids of the events (0 where absent); a contact must belong to the event's account,
    so it is visible exactly when the account is. One query for each kind of reference."""
    contact = np.zeros(batch.n, dtype=np.int64)
    has_external = np.fromiter((v is not None for v in external), dtype=bool, count=batch.n)
    if not ids.any() and not has_external.any():
        return contact
    has_id = ids > 0
    batch.fail(has_id & has_external, "contact", "send contact or contact_external_id, not both")
    if has_id.any():
        rows = Contact.objects.filter(pk__in=np.unique(ids[has_id]).tolist()).values_list("pk", "account_id")
        owners = pd.Series(ids).map(pd.Series(dict(rows), dtype="Int64")).fillna(0).to_numpy(dtype=np.int64)
        batch.fail(has_id & (owners != accounts) & ~batch.bad, "contact", "unknown contact of this account")
        contact[has_id] = ids[has_id]
    by_external = np.flatnonzero(has_external & ~has_id & ~batch.failed("contact_external_id"))
    if len(by_external):
        rows = Contact.objects.filter(
            account_id__in=np.unique(accounts[by_external]).tolist(),
            external_id__in=list(dict.fromkeys(external[i] for i in by_external)),
        ).values_list("account_id", "external_id", "pk")
        pks: dict[tuple[int, str], int] = {}
        ambiguous = set()
        for account, key, pk in rows:
            if (account, key) in pks:
                ambiguous.add((account, key))
            pks[account, key] = pk
        missing = np.zeros(batch.n, dtype=bool)
        for i in by_external.tolist():
            pk = pks.get((int(accounts[i]), external[i]))
            if pk is None or (int(accounts[i]), external[i]) in ambiguous:
                missing[i] = True
            else:
                contact[i] = pk
        batch.fail(missing & ~batch.bad, "contact_external_id", "unknown contact of this account")
    return contact
