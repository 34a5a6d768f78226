"""References in an import resolved in bulk: rows' keys to the ids of existing records (by source
and external id, "clm:<id>" or a unique name), references to other records and users, and which
rows update an existing record. A few queries per chunk, never one per row."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _

from clm.core import parsers
from clm.core.access import restrict
from clm.core.bulk import in_batches
from clm.core.text import EXTERNAL_ID_UNAVAILABLE
from clm.io.kinds import CLM_ID_PREFIX, KINDS, Field, Kind

if TYPE_CHECKING:
    from clm.io.validate import Context, Problems


def is_missing(values: pd.Series) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        return values.isna() | ~parsers.nonempty(values)
    return values.isna()


def key_text(kind: Kind, data: pd.DataFrame) -> pd.Series:
    """The record key as one string per row (None where a part is missing)."""
    parts = []
    for name in kind.key:
        values = data[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        parts.append(values.astype(object).where(~is_missing(values), None))
    key = parts[0].astype(object)
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key.where(pd.concat(parts, axis=1).notna().all(axis=1), None)


def resolve_keys(model, sources: pd.Series, keys: pd.Series, *, by_name: bool = False, restrict_to=None):
    """Ids of records named by (source, external id), by "clm:<id>", or (by_name) by a name that
    is unique. Returns (ids: Int64 per row, reasons: per row, "" unless the name is ambiguous)."""
    ids = pd.Series(pd.NA, index=keys.index, dtype="Int64")
    reasons = pd.Series("", index=keys.index, dtype=object)
    filled = keys.notna() & (keys != "")
    if not filled.any():
        return ids, reasons
    # Work on distinct (source, key) pairs: a million events name a few thousand accounts.
    single_source = sources[filled].nunique() == 1
    wanted = keys[filled].astype(str) if single_source else sources[filled].astype(str) + "\x1f" + keys[filled].astype(str)
    codes, distinct = pd.factorize(wanted.to_numpy(dtype=object))
    firsts = pd.Series(np.arange(len(codes)), dtype="int64").groupby(codes).first().to_numpy()
    pairs = pd.DataFrame({
        "source": sources[filled].to_numpy(dtype=object)[firsts],
        "key": keys[filled].to_numpy(dtype=object)[firsts],
    })
    pairs["both"] = pairs["source"].astype(str) + "\x1f" + pairs["key"].astype(str)
    found: dict[str, int] = {}
    clm = pairs["key"].str.startswith(CLM_ID_PREFIX)
    numbers = pd.to_numeric(pairs.loc[clm, "key"].str.slice(len(CLM_ID_PREFIX)), errors="coerce")
    candidates = sorted({int(n) for n in numbers.dropna() if float(n).is_integer()})
    present = set()
    for batch in in_batches(candidates):
        present.update(model.objects.filter(pk__in=batch).values_list("pk", flat=True))
    for both, number in zip(pairs.loc[clm, "both"], numbers, strict=True):
        if number == number and int(number) in present:
            found[both] = int(number)
    external = pairs[~clm]
    for source, group in external.groupby("source", sort=False):
        for external_id, pk in external_ids(model, source, group["key"].tolist()):
            found[f"{source}\x1f{external_id}"] = pk
    ambiguous: set[str] = set()
    if by_name:
        unresolved = external[~external["both"].isin(found)]
        names: dict[str, list[int]] = {}
        for batch in in_batches(sorted(set(unresolved["key"]))):
            for name, pk in model.objects.filter(name__in=batch).values_list("name", "pk"):
                names.setdefault(name, []).append(pk)
        for both, key in zip(unresolved["both"], unresolved["key"], strict=True):
            if len(names.get(key, ())) == 1:
                found[both] = names[key][0]
            elif key in names:
                ambiguous.add(both)
    if restrict_to is not None:
        found = {both: pk for both, pk in found.items() if pk in restrict_to}
    resolved = pairs["both"].map(found).astype("Int64").array.take(codes)
    ids[filled] = resolved
    if ambiguous:
        unclear = pairs["both"].isin(ambiguous).to_numpy()[codes]
        reasons[filled] = np.where(unclear, _("names several records: use the external id"), "")
    return ids, reasons


def external_ids(model, source: str, keys: list[str]) -> list[tuple[str, int]]:
    """(external id, pk) of the records of `source` among `keys`: one query on PostgreSQL (an
    array parameter), IN lists of IN_BATCH keys on SQLite."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id, id FROM {connection.ops.quote_name(model._meta.db_table)}"
                " WHERE source = %s AND external_id = ANY(%s)",
                [source, keys],
            )
            return cursor.fetchall()
    out = []
    for batch in in_batches(keys):
        out.extend(model.objects.filter(source=source, external_id__in=batch).values_list("external_id", "pk"))
    return out


def resolve_reference(ctx: Context, f: Field, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    target = KINDS[f.ref]
    sources = data["source"] if "source" in data else pd.Series(ctx.source, index=data.index, dtype=object)
    restrict_to = ctx.visible_account_ids() if target.name == "accounts" and ctx.restricted else None

    def resolve(sources: pd.Series, keys: pd.Series):
        by_name = target.name in ("accounts", "products")
        return resolve_keys(target.model, sources, keys, by_name=by_name, restrict_to=restrict_to)

    if target is ctx.kind:  # records this import writes: ask again each chunk
        ids, reasons = resolve(sources, data[f.name])
    else:
        ids, reasons = ctx.remembered(f.name, sources, data[f.name], resolve)
    column = ctx.mapping.column_name(f.name)
    if target.account_path:  # a contact, an order: the rules the API applies to its references
        owners = owning_accounts(ctx, target, ids)
        if ctx.restricted:  # on an account the user cannot see: as if it did not exist
            ids = ids.mask(ids.notna() & ~owners.isin(ctx.visible_account_ids()))
        if ctx.kind.account_path == "account" and "account_id" in data:
            elsewhere = ids.notna() & data["account_id"].notna() & (owners != data["account_id"]).fillna(False)
            reason = _("this %(record)s belongs to another account than the row's") % {"record": target.model._meta.verbose_name}
            problems.add(elsewhere, column, texts[f.name], reason)
    unknown = ids.isna() & parsers.nonempty(data[f.name]) & ~parsers.nonempty(reasons)
    if target is ctx.kind:
        # A parent defined earlier in the file or in this chunk: linked once it is written.
        here = set(data["external_id"].dropna()) | (set(data["name"]) if "name" in data else set())
        pending = unknown & data[f.name].isin(here | ctx.earlier)
        data[f"{f.name}_pending"] = data[f.name].where(pending, None)
        unknown &= ~pending
    reason = _("no %(record)s with this id or name") % {"record": target.model._meta.verbose_name}
    problems.add(unknown, column, texts[f.name], reason)
    problems.add(parsers.nonempty(reasons), column, texts[f.name], reasons)
    data[f"{f.name}_id"] = ids


def owning_accounts(ctx: Context, target: Kind, ids: pd.Series) -> pd.Series:
    """Per row, the id of the account the referenced record belongs to (<NA> where none)."""
    wanted = ids.dropna().astype("int64").unique().tolist()
    found: dict[int, int] = {}
    if wanted:
        for batch in in_batches(wanted):
            found.update(target.model.objects.filter(pk__in=batch).values_list("pk", target.account_path))
    return ids.map(found).astype("Int64")


def resolve_user(ctx: Context, f: Field, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    names = data[f.name].str.lower()
    ids = names.map(ctx.user_ids()).astype("Int64")
    column = ctx.mapping.column_name(f.name)
    unknown = ids.isna() & (names != "")
    inactive = unknown & names.isin(ctx.user_ids(active=False).keys())
    problems.add(inactive, column, texts[f.name], _("this user is no longer active in CLM"))
    problems.add(unknown & ~inactive, column, texts[f.name], _("no CLM user with this username, email or name"))
    data[f"{f.name}_id"] = ids


# The people an import gives records to, checked per row by the rules every other way of writing
# them follows (clm.customers.services: check_reassignments, check_interaction_owners), and
# whether a new record may name someone else than the importer (an account may; an interaction
# is its author's).
ASSIGNED = {"accounts": (("sales_owner", "csm"), True), "interactions": (("owner",), False)}


def check_assignments(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    """A user who does not manage accounts may keep an existing record's owner or CSM, hand it
    over as its holder (may_reassign), and name anyone as a new account's (only themselves as a
    new interaction's); under team visibility, only people of their own team. Other rows are
    refused, naming the column."""
    from clm.customers.services import manages_accounts, may_reassign

    names, new_to_others = ASSIGNED.get(ctx.kind.name, ((), False))
    fields = [name for name in names if f"{name}_id" in data]
    actor = ctx.user
    if not fields or actor is None or manages_accounts(actor):
        return
    attnames = [ctx.kind.model._meta.get_field(name).attname for name in names]
    existing = data["pk"].dropna().astype("int64").unique().tolist() if "pk" in data else []
    before: dict[int, dict] = {}
    for batch in in_batches(existing):
        for pk, *values in ctx.kind.model.objects.filter(pk__in=batch).values_list("pk", *attnames):
            before[pk] = dict(zip(attnames, values, strict=True))
    teams = ctx.user_teams() if ctx.restricted else None
    for name in fields:
        attname = ctx.kind.model._meta.get_field(name).attname
        assignees = data[f"{name}_id"]
        pks = data["pk"] if "pk" in data else pd.Series(pd.NA, index=data.index, dtype="Int64")

        def refused(assignee, pk, attname=attname) -> bool:
            if pd.isna(assignee):
                return False
            assignee = int(assignee)
            held = before.get(int(pk), {}) if not pd.isna(pk) else None
            if held is not None and held.get(attname) == assignee:
                return False  # unchanged
            if assignee != actor.pk and teams is not None and (teams.get(assignee) is None or teams[assignee] != actor.team_id):
                return True
            if held is None:
                return assignee != actor.pk and not new_to_others
            return not may_reassign(actor, attname, held, assignee)

        mask = pd.Series([refused(a, pk) for a, pk in zip(assignees, pks, strict=True)], index=data.index, dtype=bool)
        problems.add(mask, ctx.mapping.column_name(name), texts[name],
                     _("you may not give this record to this user; ask a manager"))


def find_existing(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    """The id of the record each row updates (<NA>: a new record); a "clm:<id>" key must exist,
    and a restricted user may not update records of accounts they cannot see."""
    kind = ctx.kind
    if kind.imported:
        keys = data["external_id"].astype(object).where(~is_missing(data["external_id"]), "")
        pks, _reasons = resolve_keys(kind.model, data["source"], keys)
        column = ctx.mapping.column_name("external_id")
        missing_clm = keys.str.startswith(CLM_ID_PREFIX) & pks.isna()
        problems.add(missing_clm, column, keys, _("no record with this CLM id"))
    else:
        pks = natural_key_ids(kind, data)
    data["pk"] = pks
    if ctx.restricted and kind.account_path is not None and pks.notna().any():
        ids = pks.dropna().astype("int64").unique().tolist()
        visible = set()
        for batch in in_batches(ids):
            visible.update(restrict(kind.model.objects.filter(pk__in=batch), ctx.user, kind.account_path).values_list("pk", flat=True))
        hidden = pks.notna() & ~pks.isin(visible)
        column = ctx.mapping.column_name("external_id") if kind.imported else kind.key[0]
        problems.add(hidden, column, data.get("external_id", ""), _(EXTERNAL_ID_UNAVAILABLE))


def natural_key_ids(kind: Kind, data: pd.DataFrame) -> pd.Series:
    """Ids of existing records keyed by their own fields (channel spend: channel and month)."""
    keys = key_text(kind, data)
    ids = pd.Series(pd.NA, index=data.index, dtype="Int64")
    if keys.dropna().empty:
        return ids
    condition = Q()
    for name in kind.key:
        values = data[name].dropna().unique().tolist()
        condition &= Q(**{f"{name}__in": values})
    found = {}
    for row in kind.model.objects.filter(condition).values_list("pk", *kind.key):
        found["\x1f".join(v.isoformat() if hasattr(v, "isoformat") else str(v) for v in row[1:])] = row[0]
    return keys.map(found).astype("Int64")
