"""Bulk loading for the simulator: explicit ids, COPY on PostgreSQL and executemany on SQLite,
and the way bulk loaders (pg_restore among them) keep it fast — foreign keys and secondary
indexes are set aside while the rows go in, then restored, which re-checks every row at once.

Also the wipe of all customer data: every model of the customer apps, and every model anywhere
that refers to one of them, emptied with one TRUNCATE (PostgreSQL) or DELETE per table (SQLite);
the configuration kept in those apps (CONFIGURATION) stays."""

from __future__ import annotations

import io
import json
from contextlib import closing, contextmanager

import numpy as np
import pandas as pd
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, models

from clm.core.models import AuditLog

CUSTOMER_APPS = ("customers", "commerce", "usage", "service", "sales", "demo")
# PostgreSQL column types COPY can take in binary straight from numpy (big-endian), and "text"
BINARY = {
    "bigint": ">i8",
    "integer": ">i4",
    "smallint": ">i2",
    "double precision": ">f8",
    "date": ">i4",
    "varchar": "text",
    "text": "text",
}
PG_EPOCH_DAY = 10957  # 2000-01-01, day 0 of PostgreSQL's binary dates


# Configuration an administrator writes, not the simulated company's records: a wipe keeps it. The
# sales process (pipelines, approval and assignment rules, ICPs, lead scoring), the survey and
# feedback set-up and the activation definitions live in the customer apps' tables but describe no
# customer; a row that points at a record the wipe removes (an activation definition for a product
# of the old catalogue) goes with it.
CONFIGURATION = (
    "sales.Pipeline", "sales.PipelineStage", "sales.ApprovalRule", "sales.AssignmentRule", "sales.AssignmentRule_reps",
    "sales.ICP", "sales.LeadScoring", "service.Survey", "service.FeedbackForm", "service.FeedbackRule",
    "success.ActivationDefinition", "success.ActivationMilestone",
)  # fmt: skip


def customer_models() -> list[type[models.Model]]:
    """The models a wipe empties: the customer apps' models (with their many-to-many tables) and,
    transitively, every model whose foreign keys point at one of them; not the CONFIGURATION."""
    every = [m for m in apps.get_models(include_auto_created=True) if m._meta.label not in CONFIGURATION]
    chosen = {m for m in every if m._meta.app_label in CUSTOMER_APPS}
    grew = True
    while grew:
        grew = False
        for m in every:
            if m in chosen:
                continue
            if any(f.related_model in chosen for f in m._meta.concrete_fields if f.is_relation):
                chosen.add(m)
                grew = True
    return sorted(chosen, key=lambda m: m._meta.db_table)


def wipe() -> int:
    """Empty every customer table (and the audit rows about them), keeping the CONFIGURATION but
    for its rows about removed records. Returns the tables emptied."""
    chosen = customer_models()
    kept = [apps.get_model(label) for label in CONFIGURATION]
    for model in kept:
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in chosen:
                model.objects.filter(**{f"{field.name}__isnull": False}).delete()
    # PostgreSQL refuses to TRUNCATE a table a kept one has a foreign key to: those are emptied
    # with DELETE, after the tables that point at them
    pointed_at = {f.related_model for m in kept for f in m._meta.concrete_fields if f.is_relation} & set(chosen)
    quote = connection.ops.quote_name
    truncated = [quote(m._meta.db_table) for m in chosen if m not in pointed_at]
    deleted = [quote(m._meta.db_table) for m in chosen if m in pointed_at]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(truncated)}")
        else:
            deleted = truncated + deleted
        for table in deleted:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 — names from model metadata
    AuditLog.objects.filter(model__in=[m._meta.label_lower for m in chosen]).delete()
    return len(chosen)


def next_id(model: type[models.Model]) -> int:
    """The first free primary key: rows are written with explicit ids, so foreign keys between
    the generated frames are known before anything is inserted."""
    current = model.objects.aggregate(top=models.Max("pk"))["top"]
    return (current or 0) + 1


def reset_sequences(chosen: list[type[models.Model]]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), chosen)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


@contextmanager
def relaxed_constraints(chosen: list[type[models.Model]]):
    """While loading: on PostgreSQL the foreign keys (checked per row by triggers) and secondary
    indexes of the given tables are dropped, and put back afterwards; re-adding a foreign key
    validates every row in one pass. On SQLite only the secondary indexes go (turning foreign keys
    off is the caller's job, outside the transaction: see Loader)."""
    restore: list[str] = []
    with connection.cursor() as cursor:
        for model in chosen:
            table = model._meta.db_table
            quoted = connection.ops.quote_name(table)
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
                    [table],
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}")
                    restore.append(
                        f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
                    )
                cursor.execute(
                    "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                    " WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary"
                    " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname",
                    [table],
                )
            else:
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
                    " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%' ORDER BY name",
                    [table],
                )
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                restore.insert(0, definition)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for sql in restore:
                cursor.execute(sql)


@contextmanager
def keys_built_after(chosen: list[type[models.Model]]):
    """On PostgreSQL, the primary keys and unique constraints of tables nothing refers to (the
    usage rollups) set aside while their rows go in and built after, by one sort each, as
    pg_restore does: maintaining a unique index row by row took most of the rollups' load (1.8
    million daily users: 24 s with their keys, 14 s without them and their build). The rows are
    the same; a duplicate fails the build, and the load, as it would have failed the insert."""
    restore: list[str] = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in chosen:
                quoted = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY contype, conname",
                    [model._meta.db_table],
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}")
                    restore.append(f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")
    yield
    if restore:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # index builds sort in memory
            for sql in restore:
                cursor.execute(sql)


def expand_daily_users(before: int, *, since: int = -1, accounts: list[int] | None = None) -> int:
    """The UsageDailyUser rows of every UsageDaily row dated before a day (a day number), and on or
    after ``since``, of the given accounts (all by default): its active users are u001, u002, … up
    to its active_users, made inside the database from the rollup itself — consistent by
    construction, and without shipping millions of rows over."""
    where, params = " WHERE d.day < %s AND d.day >= %s", [_iso(before), _iso(max(since, 0))]
    if accounts is not None:
        where += f" AND d.account_id IN ({', '.join(str(int(a)) for a in accounts) or 'NULL'})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "INSERT INTO usage_usagedailyuser (account_id, day, user_key)"
                " SELECT d.account_id, d.day, 'u' || CASE WHEN g < 1000 THEN lpad(g::text, 3, '0') ELSE g::text END"
                " FROM usage_usagedaily d CROSS JOIN LATERAL generate_series(1, d.active_users) AS g" + where,
                params,
            )
            return cursor.rowcount
        cursor.execute("CREATE TEMP TABLE clm_numbers (n INTEGER PRIMARY KEY)")
        cursor.execute("SELECT COALESCE(MAX(active_users), 0) FROM usage_usagedaily")
        top = cursor.fetchone()[0]
        cursor.execute(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s)"
            " INSERT INTO clm_numbers SELECT n FROM s",
            [max(top, 1)],
        )
        cursor.execute(
            "INSERT INTO usage_usagedailyuser (account_id, day, user_key)"
            " SELECT d.account_id, d.day, printf('u%%03d', n.n)"
            " FROM usage_usagedaily d JOIN clm_numbers n ON n.n <= d.active_users" + where,
            params,
        )
        rows = cursor.rowcount
        cursor.execute("DROP TABLE clm_numbers")
        return rows


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


class Loader:
    """Writes frames whose columns are a model's column names; converts each column by the
    field's type (dates from day numbers, datetimes from UTC seconds, decimals, JSON, booleans;
    -1 in a nullable date, datetime or foreign key column means NULL)."""

    def __init__(self):
        self.rows: dict[str, int] = {}

    def write(self, model: type[models.Model], frame: pd.DataFrame, chunk: int = 200_000) -> int:
        if frame.empty:
            return 0
        fields = {f.column: f for f in model._meta.concrete_fields}
        unknown = [c for c in frame.columns if c not in fields]
        if unknown:
            raise ValueError(f"{model._meta.label}: no columns {unknown}")
        columns = list(frame.columns)
        for start in range(0, len(frame), chunk):
            part = frame.iloc[start : start + chunk]
            if connection.vendor == "postgresql" and self._copy_binary(
                model, [fields[c] for c in columns], part
            ):
                continue
            values = [self._column(fields[c], part[c].to_numpy()) for c in columns]
            if connection.vendor == "postgresql":
                self._copy(model, columns, values)
            else:
                self._executemany(model, columns, values)
        label = model._meta.label
        self.rows[label] = self.rows.get(label, 0) + len(frame)
        return len(frame)

    def _column(self, field, data: np.ndarray) -> list:
        pg = connection.vendor == "postgresql"
        kind = field.get_internal_type()
        if kind == "DateField":
            data = data.astype(np.int64)
            known = data >= 0
            if not known.any():
                return [None] * len(data)
            lo, hi = data[known].min(), data[known].max()
            names = np.arange(lo, hi + 1).astype("datetime64[D]").astype(str).astype(object)
            out = np.full(len(data), None, dtype=object)
            out[known] = names[data[known] - lo]
            return out.tolist()
        if kind == "DateTimeField":
            data = data.astype(np.int64)
            text = np.char.replace(data.astype("datetime64[s]").astype(str), "T", " ")
            out = (np.char.add(text, "+00:00") if pg else text).astype(object)
            out[data < 0] = None
            return out.tolist()
        if kind == "DecimalField":
            return np.char.mod(f"%.{field.decimal_places}f", data.astype(float)).tolist()
        if kind == "BooleanField":
            data = data.astype(bool)
            return np.where(data, "true", "false").tolist() if pg else data.astype(int).tolist()
        if kind == "JSONField":
            return [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in data]
        if field.is_relation or (field.null and kind in ("PositiveSmallIntegerField", "IntegerField")):
            data = data.astype(np.int64)
            out = data.astype(object)
            out[data < 0] = None
            return out.tolist()
        if kind in ("FloatField",):
            return data.astype(float).tolist()
        if kind.endswith("IntegerField") or kind == "BigAutoField" or kind == "AutoField":
            return data.astype(np.int64).tolist()
        return data.tolist()

    def _executemany(self, model, columns, values):
        sql = (
            f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)}"
            f" ({', '.join(map(connection.ops.quote_name, columns))}) VALUES ({', '.join('?' * len(columns))})"
        )
        connection.ensure_connection()
        with closing(connection.connection.cursor()) as cursor:
            cursor.executemany(sql, zip(*values, strict=True))

    def _copy_binary(self, model, fields, frame: pd.DataFrame) -> bool:
        """COPY in PostgreSQL's binary format, each row laid out by a numpy structured dtype — no
        text formatting or parsing. Only for rows of fixed-width values without NULLs; text
        columns qualify when they take few values (the rows are sent in groups, one per value).
        Returns False, having sent nothing, when the frame does not qualify."""
        kinds = []
        for f in fields:
            db_type = f.rel_db_type(connection) if f.is_relation else f.db_type(connection)
            kind = BINARY.get(db_type.split("(")[0].strip())
            values = frame[f.column]
            if kind is None or values.isna().any() or (kind != "text" and f.null and (values < 0).any()):
                return False  # NULLs (None, or -1 in a nullable column) need the text format
            kinds.append(kind)
        texts = [f.column for f, k in zip(fields, kinds, strict=True) if k == "text"]
        if texts and frame[texts].drop_duplicates().shape[0] > 64:
            return False
        groups = frame.groupby(texts, sort=False) if texts else [((), frame)]
        payload = [b"PGCOPY\n\xff\r\n\x00", np.zeros(2, ">i4").tobytes()]
        for key, rows in groups:
            key = key if isinstance(key, tuple) else (key,)
            text = dict(zip(texts, key, strict=True))
            layout = [("n", ">i2")]
            for f, kind in zip(fields, kinds, strict=True):
                width = len(str(text[f.column]).encode()) if kind == "text" else np.dtype(kind).itemsize
                layout += [(f"{f.column}_len", ">i4"), (f.column, f"S{width}" if kind == "text" else kind)]
            out = np.empty(len(rows), dtype=layout)
            out["n"] = len(fields)
            for f, kind in zip(fields, kinds, strict=True):
                values = rows[f.column].to_numpy()
                if kind == "text":
                    out[f.column] = str(text[f.column]).encode()
                    out[f"{f.column}_len"] = len(str(text[f.column]).encode())
                    continue
                if f.get_internal_type() == "DateField":
                    values = values.astype(np.int64) - PG_EPOCH_DAY
                out[f.column] = values
                out[f"{f.column}_len"] = np.dtype(kind).itemsize
            payload.append(out.tobytes())
        payload.append(b"\xff\xff")
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN WITH (FORMAT binary)"
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write(b"".join(payload))
        return True

    def _copy(self, model, columns, values):
        buffer = io.StringIO()
        # a column holding NULLs stays object-typed, or pandas would write its integers as floats
        frame = pd.DataFrame(
            {k: pd.Series(v, dtype=object if None in v else None) for k, v in enumerate(values)}
        )
        frame.to_csv(buffer, header=False, index=False, na_rep="\\N")
        sql = (
            f"COPY {connection.ops.quote_name(model._meta.db_table)}"
            f" ({', '.join(map(connection.ops.quote_name, columns))}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        )
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write(buffer.getvalue())
