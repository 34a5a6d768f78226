"""Writing validated import rows in bulk.

Records are upserted by their key, and only those whose values differ from the database are
written, so importing a file twice changes nothing the second time (no updates, no audit rows, no
ledger entries). Customer records get audit rows (via="import") in bulk, then the same write rules
as one record saved through clm.core.services (ledger entries, stage history, status dates); orders
are written with their lines; usage events go through clm.usage.services.store_events and, being
telemetry, are not audited (the audit log records changes people make to customer records)."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection, models
from django.utils import timezone

from clm.commerce.models import OrderLine
from clm.commerce.services import order_totals
from clm.core import bulk, services
from clm.core.bulk import in_batches
from clm.core.models import AuditLog
from clm.io.kinds import PIPELINE, REF, TAGS, USER, Kind


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class WriteContext:
    kind: Kind
    actor: object
    via: str
    now: dt.datetime  # one timestamp for the whole import (created_at, updated_at, ledger dates)


# -- values as the database takes them ---------------------------------------------------------


def datetime_text(values: pd.Series) -> pd.Series:
    """UTC timestamps as Django writes them (no fraction when it is zero)."""
    utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
    text = utc.dt.strftime("%Y-%m-%d %H:%M:%S")
    micro = utc.dt.microsecond.fillna(0).astype("int64")
    text = text.where(micro == 0, text + "." + micro.astype(str).str.zfill(6))
    if connection.vendor == "postgresql":
        text = text + "+00:00"
    return text.astype(object).where(values.notna(), None)


def to_db(mf: models.Field, values: pd.Series) -> pd.Series:
    """Parsed values of one column in the form the driver is given (None where missing)."""
    internal = mf.get_internal_type()
    if internal == "DateField":
        out = values.dt.strftime("%Y-%m-%d")
    elif internal == "DateTimeField":
        return datetime_text(values).astype(object)
    elif internal == "DecimalField":
        places = mf.decimal_places
        out = values.map(lambda v: f"{v:.{places}f}", na_action="ignore")
    elif internal in ("CharField", "TextField", "EmailField", "SlugField", "URLField"):
        out = values.astype(object)
        if mf.null:
            out = out.where(out != "", None)
    elif internal == "JSONField":
        out = values.astype(object)
    else:
        return pd.Series(values.to_numpy(dtype=object, na_value=None), index=values.index, dtype=object)
    return out.astype(object).where(values.notna(), None)


def object_to_db(mf: models.Field, value):
    """A value read through the ORM in the same form as to_db gives, so the two compare."""
    if value is None:
        return None
    if isinstance(mf, models.DateTimeField):
        return datetime_value(value, connection.vendor == "postgresql")
    if isinstance(mf, models.DateField):
        return value.isoformat()
    if isinstance(mf, models.DecimalField):
        return f"{Decimal(value):.{mf.decimal_places}f}"
    if isinstance(mf, models.JSONField):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def datetime_value(value: dt.datetime, postgresql: bool) -> str:
    utc = value.astimezone(dt.UTC) if value.tzinfo else value
    text = f"{utc:%Y-%m-%d %H:%M:%S}" + (f".{utc.microsecond:06d}" if utc.microsecond else "")
    return text + "+00:00" if postgresql else text


def default_db(mf: models.Field, now: dt.datetime):
    """What a column holds when the file gives no value."""
    if mf.has_default():
        value = now if mf.default is timezone.now else mf.get_default()
        return object_to_db(mf, value)
    if getattr(mf, "auto_now", False) or getattr(mf, "auto_now_add", False):
        return object_to_db(mf, now)
    if mf.null:
        return None
    if mf.get_internal_type() in ("CharField", "TextField", "EmailField"):
        return ""
    return None


def audit_value(mf: models.Field, value):
    """A database-form value as the audit log records it (clm.core.audit.plain's forms)."""
    if value is None:
        return None
    if isinstance(mf, models.JSONField):
        return json.loads(value)
    if isinstance(mf, models.DateTimeField):
        text = value.replace(" ", "T", 1)
        return text if text.endswith("+00:00") else text + "+00:00"
    return value


json_text = json.encoder.encode_basestring  # a str as a JSON string, non-ASCII kept


def audit_rows(wc: WriteContext, action: str, records: list[tuple[int, str, dict | str]], meta=None) -> None:
    """Audit log rows for (pk, name, changes as a dict or JSON text) of written records, as clm.core.audit.entry makes
    them, inserted in bulk: an AuditLog instance per row would cost more than the import itself."""
    if not records or not wc.kind.audited:
        return
    meta = meta or wc.kind.model._meta
    at = object_to_db(AuditLog._meta.get_field("at"), wc.now)
    actor = wc.actor.pk if getattr(wc.actor, "pk", None) else None
    encode = json.JSONEncoder(ensure_ascii=False).encode
    model = meta.label_lower
    rows = [
        (at, actor, wc.via, action, model, str(pk), label[:200], changes if isinstance(changes, str) else encode(changes))
        for pk, label, changes in records
    ]
    bulk.insert(AuditLog, AUDIT_COLUMNS, rows)


AUDIT_COLUMNS = ["at", "actor_id", "via", "action", "model", "object_id", "object_repr", "changes"]


# -- the generic upsert -------------------------------------------------------------------------


def present_fields(kind: Kind, data: pd.DataFrame) -> list[tuple[models.Field, str]]:
    """(model field, data column) for every model column the file gives values for."""
    out = []
    for f in kind.fields:
        if f.virtual or f.line or f.type == TAGS or f.name not in data:
            continue
        mf = kind.model_field(f)
        column = f"{f.name}_id" if f.type in (REF, USER, PIPELINE) else f.name
        out.append((mf, column))
    return out


def column_values(mf: models.Field, values: pd.Series, now) -> list:
    out = to_db(mf, values)
    if not mf.null:
        out = out.where(out.notna(), default_db(mf, now))
    return out.tolist()


def upsert(wc: WriteContext, data: pd.DataFrame) -> Counts:
    kind = wc.kind
    if data.empty:
        return Counts()
    if "custom" in data or "custom_set" in data:
        merge_custom(wc, data)
    present = present_fields(kind, data)
    new_values = {mf.attname: column_values(mf, data[column], wc.now) for mf, column in present}
    label = data[kind.label].astype(str).tolist() if kind.label in data else [""] * len(data)
    is_new = data["pk"].isna().to_numpy()
    counts = Counts()
    created = insert_new(wc, data, present, new_values, is_new, label)
    counts.created = len(created)
    changed = update_changed(wc, data, present, new_values, is_new, label)
    counts.updated = len(changed)
    retagged = write_tags(wc, data, created, {pos for pos, _, _ in changed}, label)
    counts.updated += retagged
    counts.unchanged = int((~is_new).sum()) - counts.updated
    link_pending(wc, data)
    after_write(wc, data, created, changed)
    return counts


def write_tags(wc: WriteContext, data: pd.DataFrame, created: list[int], changed: set[int], label: list) -> int:
    """Make each record's tags those of the file (by the M2M table, in bulk); existing records
    whose tags change get an audit row (tag ids before and after, as the services record).
    Returns how many records not otherwise changed were re-tagged."""
    fields = [f for f in wc.kind.fields if f.type == TAGS and f.name in data]
    if not fields:
        return 0
    f = fields[0]
    m2m = wc.kind.model._meta.get_field(f.name)
    through = m2m.remote_field.through
    own, other = m2m.m2m_column_name(), m2m.m2m_reverse_name()
    pks = data["pk"].astype("int64").tolist()
    wanted = dict(zip(pks, data[f"{f.name}_ids"], strict=True))
    created = set(created)
    current: dict[int, dict[int, int]] = {}  # record -> {tag: row id in the M2M table}
    for batch in in_batches([pk for pos, pk in enumerate(pks) if pos not in created]):
        for row_id, pk, tag in through.objects.filter(**{f"{own}__in": batch}).values_list("id", own, other):
            current.setdefault(pk, {})[tag] = row_id
    gone, added, records, extra = [], [], [], 0
    for pos, pk in enumerate(pks):
        before, after = sorted(current.get(pk, {})), wanted[pk]
        if before == after:
            continue
        gone += [current[pk][t] for t in set(before) - set(after)]
        added += [(pk, t) for t in sorted(set(after) - set(before))]
        if pos not in created:
            records.append((pk, label[pos], {f.name: [before, after]}))
            extra += pos not in changed
    for batch in in_batches(gone):
        through.objects.filter(id__in=batch).delete()
    bulk.insert(through, [own, other], added)
    audit_rows(wc, "update", records)
    return extra


def merge_custom(wc: WriteContext, data: pd.DataFrame) -> None:
    """The custom attributes to store, as canonical JSON: the file's whole object ("Custom
    Attributes") or else the stored one, with the per-attribute columns' values set on top."""
    rows = len(data)
    whole = data["custom"].tolist() if "custom" in data else [None] * rows
    sets = data["custom_set"].tolist() if "custom_set" in data else [{}] * rows
    pks = [None if pd.isna(pk) else int(pk) for pk in data["pk"]]
    wanted = [pk for pk, obj in zip(pks, whole, strict=True) if pk is not None and obj is None]
    stored = {pk: json.loads(text or "{}") for pk, (text,) in fetch(wc.kind.model, wanted, ["custom"]).items()} if wanted else {}
    out = []
    for pk, obj, extra in zip(pks, whole, sets, strict=True):
        merged = dict(obj if obj is not None else stored.get(pk, {}))
        merged.update(extra)
        out.append(json.dumps(merged, ensure_ascii=False, sort_keys=True))
    data["custom"] = pd.Series(out, index=data.index, dtype=object)


def link_pending(wc: WriteContext, data: pd.DataFrame) -> None:
    """Set references to records of the same kind that were created with this chunk (an account
    whose parent account is further down the file)."""
    from clm.io.references import resolve_keys

    model = wc.kind.model
    for column in [c for c in data.columns if c.endswith("_pending")]:
        waiting = data[column].notna()
        if not waiting.any():
            continue
        name = column.removesuffix("_pending")
        ids, _ = resolve_keys(model, data["source"][waiting], data[column][waiting], by_name=True)
        rows = [model(pk=int(pk), **{f"{name}_id": int(target)}) for pk, target in zip(data["pk"][waiting], ids, strict=True)
                if not pd.isna(target)]
        model.objects.bulk_update(rows, [name], batch_size=1000)


def insert_new(wc, data, present, new_values, is_new, label) -> list[int]:
    """Insert the new rows, set their ids in data["pk"] and audit them; returns their positions.
    The audit row of a creation records the values the file gave."""
    kind, model = wc.kind, wc.kind.model
    if not is_new.any():
        return []
    positions = np.flatnonzero(is_new)
    everything = len(positions) == len(is_new)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns, lists = [], []
    for mf in fields:
        if mf.attname in new_values:
            full = new_values[mf.attname]
            values = full if everything else [full[i] for i in positions]
        else:
            default = default_db(mf, wc.now)
            if default is None and mf.null:
                continue  # the column's NULL needs no parameter
            values = [default] * len(positions)
        columns.append(mf.column)
        lists.append(values)
    if connection.vendor == "postgresql":  # ids drawn first, so the rows can be COPYed straight in
        ids = bulk.allocate_ids(model, len(positions))
        bulk.insert(model, ["id", *columns], zip(ids, *lists, strict=True))
    else:
        keys = [model._meta.get_field(k).column for k in kind.key]
        returned = bulk.insert(model, columns, zip(*lists, strict=True), returning=["id", *keys])
        key_lists = [lists[columns.index(k)] for k in keys]
        sent = list(zip(*key_lists, strict=True))
        if [row[1:] for row in returned] == sent:  # RETURNING in VALUES order, as SQLite gives it
            ids = [row[0] for row in returned]
        else:
            by_key = {"\x1f".join(_key_part(v) for v in row[1:]): row[0] for row in returned}
            ids = [by_key["\x1f".join(_key_part(v) for v in parts)] for parts in sent]
    data.iloc[positions, data.columns.get_loc("pk")] = ids
    if kind.audited:
        given = [creation_fragments(mf, lists[columns.index(mf.column)]) for mf, _ in present if mf.column in columns]
        changes = ["{" + ", ".join(f for f in parts if f) + "}" for parts in zip(*given, strict=True)]
        audit_rows(wc, "create", [(pk, label[pos], text) for pos, pk, text in zip(positions, ids, changes, strict=True)])
    return positions.tolist()


def creation_fragments(mf: models.Field, values: list) -> list[str]:
    """'"field": [null, value]' in JSON for each non-empty value ("" for empty ones): the audit
    changes of created records are joined from these, which is far cheaper than json.dumps of a
    dict per record."""
    head = f'"{mf.attname}": [null, '
    if isinstance(mf, models.JSONField):
        return ["" if v in (None, "[]", "{}") else head + v + "]" for v in values]
    if isinstance(mf, models.BooleanField):
        return ["" if v is None else head + ("true]" if v else "false]") for v in values]
    if isinstance(mf, models.IntegerField | models.ForeignKey | models.FloatField):
        return ["" if v is None else head + repr(v) + "]" for v in values]
    if isinstance(mf, models.DateTimeField):
        return ["" if not v else head + json_text(audit_value(mf, v)) + "]" for v in values]
    return ["" if not v else head + json_text(v) + "]" for v in values]


def _key_part(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def fetch(model, pks: list[int], attnames: list[str]) -> dict[int, tuple]:
    """{pk: values in database form} for the given columns, read with the driver's own cursor:
    the ORM's per-value converters cost more than the rest of a re-import."""
    fields = [next(f for f in model._meta.concrete_fields if f.attname == a) for a in attnames]
    convert = [reader(f) for f in fields]
    columns = ", ".join(["id", *(bulk.quote(f.column) for f in fields)])
    select = f"SELECT {columns} FROM {bulk.table(model)} WHERE id "
    postgresql = connection.vendor == "postgresql"
    out = {}
    connection.ensure_connection()
    with closing(connection.connection.cursor()) as cursor:
        for batch in [pks] if postgresql else in_batches(pks):
            if postgresql:
                cursor.execute(select + "= ANY(%s)", [batch])
            else:
                cursor.execute(select + f"IN ({', '.join('?' * len(batch))})", batch)
            for row in cursor.fetchall():
                out[row[0]] = tuple(c(v) for c, v in zip(convert, row[1:], strict=True))
    return out


def reader(mf: models.Field):
    """A function from what the driver returns for a column (SQLite's driver parses Django's
    date, datetime and bool columns; psycopg returns dates, Decimals, ...) to the form to_db gives."""

    def optional(fn):
        return lambda v: None if v is None else fn(v)

    if isinstance(mf, models.DateTimeField):
        postgresql = connection.vendor == "postgresql"
        return optional(lambda v: v if isinstance(v, str) else datetime_value(v, postgresql))
    if isinstance(mf, models.DateField):
        return optional(lambda v: v if isinstance(v, str) else v.isoformat())
    if isinstance(mf, models.DecimalField):
        places = mf.decimal_places
        return optional(lambda v: f"{v:.{places}f}")
    if isinstance(mf, models.BooleanField):
        return optional(bool)
    if isinstance(mf, models.JSONField):
        return optional(lambda v: json.dumps(json.loads(v) if isinstance(v, str) else v, ensure_ascii=False, sort_keys=True))
    return lambda v: v


def update_changed(wc, data, present, new_values, is_new, label):
    """Write the existing rows whose values differ and audit them; returns [(position, before,
    after)] with full rows in database form."""
    model = wc.kind.model
    positions = np.flatnonzero(~is_new)
    if not len(positions):
        return []
    writable = [mf for mf, _ in present if mf.attname not in ("source", "external_id")]
    names = [mf.attname for mf in writable]
    pks = data["pk"].to_numpy()[positions].astype(np.int64).tolist()
    old = fetch(model, pks, names)
    stamped = {wc.kind.model_field(f).attname for f in wc.kind.fields if f.stamped}
    keep = [i for i, name in enumerate(names) if name in stamped]  # an empty cell keeps the stored date
    changed = []
    for pos, pk in zip(positions, pks, strict=True):
        before = old[pk]
        after = tuple(new_values[name][pos] for name in names)
        if keep:
            after = tuple(before[i] if i in keep and value is None else value for i, value in enumerate(after))
        if before != after:
            changed.append((pos, pk, before, after))
    if not changed:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    all_names = [f.attname for f in fields]
    full = fetch(model, [pk for _, pk, _, _ in changed], all_names)
    stamp = [f for f in fields if getattr(f, "auto_now", False)]
    rows, result, records = [], [], []
    for pos, pk, before, after in changed:
        row = dict(zip(all_names, full[pk], strict=True))
        previous = dict(row)
        row.update(zip(names, after, strict=True))
        for f in stamp:
            row[f.attname] = object_to_db(f, wc.now)
        rows.append((pk, *(row[n] for n in all_names)))
        result.append((pos, previous, row))
        diff = {
            mf.attname: [audit_value(mf, b), audit_value(mf, a)]
            for mf, b, a in zip(writable, before, after, strict=True)
            if b != a
        }
        records.append((pk, label[pos], diff))
    update = [*names, *(f.attname for f in stamp)]
    bulk.insert(model, ["id", *(f.column for f in fields)], rows, conflict=["id"], update=[model._meta.get_field(n).column for n in update])
    audit_rows(wc, "update", records)
    return result


# -- what follows a write: the model's write rules, as for one record saved through the services


def after_write(wc: WriteContext, data: pd.DataFrame, created, changed) -> None:
    pks = data["pk"].to_numpy()
    services.apply_rules(
        services.Written(
            wc.kind.model,
            created=pks[np.asarray(created, dtype=np.int64)].astype(np.int64).tolist(),
            changed=[(int(pks[pos]), before, after) for pos, before, after in changed],
            actor=wc.actor,
            now=wc.now,
            via=wc.via,
        )
    )


# -- orders: one row per line -------------------------------------------------------------------

LINE_COLUMNS = ["line_no", "product_id", "quantity", "amount", "cost"]


def write_orders(wc: WriteContext, data: pd.DataFrame) -> Counts:
    """Orders with their lines: totals by clm.commerce.services.order_totals (the sums of the
    lines); an order whose lines or header changed gets its lines replaced; an unchanged order is
    not touched."""
    from clm.commerce.models import Order

    if data.empty:
        return Counts()
    lines = pd.DataFrame(index=data.index)
    line_fields = {f.name: OrderLine._meta.get_field(f.name) for f in wc.kind.fields if f.line}
    lines["line_no"] = data["line_no"].astype("int64")
    lines["product_id"] = data["product_id"] if "product_id" in data else pd.Series(pd.NA, index=data.index, dtype="Int64")
    quantity = data["quantity"] if "quantity" in data else pd.Series(np.nan, index=data.index)
    lines["quantity"] = quantity.fillna(1.0)
    lines["amount"] = data["amount"]
    lines["cost"] = (data["cost"] if "cost" in data else pd.Series(np.nan, index=data.index)).fillna(0.0)
    key = data["source"].astype(str) + "\x1f" + data["external_id"].astype(str)
    lines["key"] = key
    groups = lines.assign(ordered_on=data["ordered_on"], account_id=data["account_id"], pk=data["pk"], source=data["source"], external_id=data["external_id"])
    orders = groups.groupby("key", sort=False).agg(
        source=("source", "first"), external_id=("external_id", "first"), account_id=("account_id", "first"),
        ordered_on=("ordered_on", "first"), pk=("pk", "first"),
    )
    order_fields = {name: Order._meta.get_field(name) for name in ("ordered_on", "amount", "cost")}
    db_lines = pd.DataFrame({
        "key": lines["key"],
        "line_no": lines["line_no"].tolist(),
        "product_id": lines["product_id"].to_numpy(dtype=object, na_value=None).tolist(),
        "quantity": to_db(line_fields["quantity"], lines["quantity"]).tolist(),
        "amount": to_db(line_fields["amount"], lines["amount"]).tolist(),
        "cost": to_db(line_fields["cost"], lines["cost"]).tolist(),
    }, dtype=object).sort_values(["key", "line_no"], kind="stable")
    new_lines = {k: [tuple(r) for r in g[LINE_COLUMNS].itertuples(index=False)] for k, g in db_lines.groupby("key", sort=False)}
    totals = {key: order_totals({"amount": line[3], "cost": line[4]} for line in lines) for key, lines in new_lines.items()}
    places = {name: order_fields[name].decimal_places for name in ("amount", "cost")}
    header = dict(zip(orders.index, zip(
        orders["account_id"].astype("int64").tolist(),
        to_db(order_fields["ordered_on"], orders["ordered_on"]).tolist(),
        [f"{totals[key]['amount']:.{places['amount']}f}" for key in orders.index],
        [f"{totals[key]['cost']:.{places['cost']}f}" for key in orders.index],
        strict=True,
    ), strict=True))

    existing = orders[orders["pk"].notna()]
    old_header, old_lines = {}, {}
    if not existing.empty:
        pks = existing["pk"].astype("int64").tolist()
        old_header = fetch(Order, pks, ["account_id", "ordered_on", "amount", "cost"])
        qfields = [OrderLine._meta.get_field(n) for n in ("line_no", "product", "quantity", "amount", "cost")]
        for batch in in_batches(pks):
            for row in OrderLine.objects.filter(order_id__in=batch).order_by("order_id", "line_no").values_list(
                "order_id", "line_no", "product_id", "quantity", "amount", "cost"
            ):
                old_lines.setdefault(row[0], []).append(tuple(object_to_db(f, v) for f, v in zip(qfields, row[1:], strict=True)))

    counts = Counts()
    to_insert, to_update, replace, created, updated = [], [], [], [], []
    for key, order in orders.iterrows():
        values = header[key]
        if pd.isna(order["pk"]):
            to_insert.append((key, order["source"], order["external_id"], *values))
            continue
        pk = int(order["pk"])
        before, before_lines = old_header[pk], old_lines.get(pk, [])
        if before == values and before_lines == new_lines[key]:
            counts.unchanged += 1
            continue
        to_update.append((pk, order["source"], order["external_id"], *values))
        replace.append((pk, key))
        diff = {n: [b, a] for n, b, a in zip(("account_id", "ordered_on", "amount", "cost"), before, values, strict=True) if b != a}
        if before_lines != new_lines[key]:
            diff["lines"] = [len(before_lines), len(new_lines[key])]
        updated.append((pk, f"{order['external_id']} {values[1]}", diff))
    columns = ["source", "external_id", "account_id", "ordered_on", "amount", "cost"]
    ids = {}
    if to_insert:
        returned = bulk.insert(Order, columns, [row[1:] for row in to_insert], returning=["id", "source", "external_id"])
        by_key = {f"{s}\x1f{e}": pk for pk, s, e in returned}
        for row in to_insert:
            pk = by_key[row[0]]
            ids[row[0]] = pk
            changes = {n: [None, v] for n, v in zip(columns, row[1:], strict=True)}
            changes["lines"] = [None, len(new_lines[row[0]])]
            created.append((pk, f"{row[2]} {row[4]}", changes))
        counts.created = len(to_insert)
    if to_update:
        bulk.insert(Order, ["id", *columns], to_update, conflict=["id"], update=columns[2:])
        for batch in in_batches([pk for pk, _ in replace]):
            OrderLine.objects.filter(order_id__in=batch).delete()
        ids.update({key: pk for pk, key in replace})
        counts.updated = len(to_update)
    rows = [(ids[k], *line) for k in ids for line in new_lines[k]]
    bulk.insert(OrderLine, ["order_id", *LINE_COLUMNS], rows)
    audit_rows(wc, "create", created)
    audit_rows(wc, "update", updated)
    return counts


# -- usage events -------------------------------------------------------------------------------


def event_frame(data: pd.DataFrame) -> pd.DataFrame:
    """The columns store_events takes, with the defaults of absent or empty cells."""
    n = len(data)

    def text(name):
        return data[name].astype(object) if name in data else pd.Series([""] * n, index=data.index, dtype=object)

    def number(name, default):
        return data[name].fillna(default) if name in data else pd.Series(default, index=data.index, dtype="float64")

    return pd.DataFrame({
        "account_id": data["account_id"].astype("int64"),
        "contact_id": data["contact_id"] if "contact_id" in data else pd.Series(pd.NA, index=data.index, dtype="Int64"),
        "user_key": text("user_key"),
        "event": text("event"),
        "feature": text("feature"),
        "occurred_at": data["occurred_at"],
        "quantity": number("quantity", 1.0),
        "duration_seconds": number("duration_seconds", 0.0),
        "properties": data["properties"].astype(object) if "properties" in data else pd.Series(["{}"] * n, index=data.index, dtype=object),
        "idempotency_key": text("idempotency_key"),
    })
