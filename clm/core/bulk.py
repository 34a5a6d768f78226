"""INSERT ... ON CONFLICT for the bulk paths (imports, event ingestion): multi-row VALUES on
SQLite, COPY into a staging table on PostgreSQL. SQL is built from model metadata and column names, never from user values."""

import zlib
from collections.abc import Iterable, Sequence
from contextlib import closing
from itertools import chain

from django.db import connection, models, transaction
from psycopg.errors import UniqueViolation

# SQLite allows 32,766 bound variables per statement (since 3.32).
MAX_VARIABLES = 32000
IN_BATCH = 10_000  # keys per IN (...) list


def in_batches(values: list, size: int = IN_BATCH):
    """``values`` in slices short enough for an IN (...) list on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# PostgreSQL keeps 64 subtransactions per session in shared memory; past that, every session's
# visibility checks slow down. Direct COPY attempts (one savepoint each) stop well before.
DIRECT_COPY_SAVEPOINTS = 48


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    add: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert rows; on a conflict on `conflict` columns, do nothing, or set `update` columns to the
    new values and increase `add` columns by them. Returns the `returning` columns of the rows
    actually inserted or updated (with do-nothing, only the new ones)."""
    return _insert(model, columns, rows, conflict, update, add, returning)[0]


def insert_count(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    add: Sequence[str] = (),
) -> int:
    """As insert, returning only how many rows were inserted or updated (cheaper than RETURNING)."""
    return _insert(model, columns, rows, conflict, update, add, ())[1]


def _insert(model, columns, rows, conflict, update, add, returning) -> tuple[list[tuple], int]:
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return [], 0
    # The driver's own cursors below: its errors become Django's (DatabaseError and kin), as
    # through Django's cursors, so callers catch one kind.
    with connection.wrap_database_errors:
        return _insert_rows(model, columns, rows, conflict, update, add, returning)


def _insert_rows(model, columns, rows, conflict, update, add, returning) -> tuple[list[tuple], int]:
    if connection.vendor == "postgresql":
        return _insert_by_copy(model, columns, rows, conflict, update, add, returning)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    sql = f"INSERT INTO {table(model)} ({', '.join(map(quote, columns))}) VALUES "
    tail = _on_conflict(model, conflict, update, add, returning)
    per_statement = max(1, MAX_VARIABLES // len(columns))
    out: list[tuple] = []
    count = 0
    connection.ensure_connection()
    # The driver's own cursor: Django's wrapper would rewrite every placeholder of every statement.
    with closing(connection.connection.cursor()) as cursor:
        full = None
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            if len(chunk) < per_statement or full is None:
                statement = sql + ", ".join([one] * len(chunk)) + tail
                if len(chunk) == per_statement:
                    full = statement
            else:
                statement = full
            cursor.execute(statement, list(chain.from_iterable(chunk)))
            if returning:
                out.extend(cursor.fetchall())
            else:
                count += cursor.rowcount
    return out, len(out) if returning else count


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """PostgreSQL: `count` new ids from the table's id sequence, for rows inserted with their id."""
    with closing(connection.connection.cursor()) as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _on_conflict(model, conflict, update, add, returning) -> str:
    tail = ""
    if conflict:
        target = ", ".join(map(quote, conflict))
        sets = [f"{quote(c)} = excluded.{quote(c)}" for c in update]
        sets += [f"{quote(c)} = {table(model)}.{quote(c)} + excluded.{quote(c)}" for c in add]
        tail = f" ON CONFLICT ({target}) " + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING")
    if returning:
        tail += " RETURNING " + ", ".join(map(quote, returning))
    return tail


def _insert_by_copy(model, columns, rows, conflict, update, add, returning) -> tuple[list[tuple], int]:
    """PostgreSQL: COPY, which costs far less than binding tens of thousands of parameters. Rows
    go straight into the table when nothing can conflict, or, when conflicts are to be ignored,
    first straight in under a savepoint (most batches are all new) and, if one conflicts, through
    a temporary table and one INSERT ... SELECT ... ON CONFLICT."""
    names = ", ".join(map(quote, columns))
    known = set(returning) <= set(columns)  # what RETURNING would give is in the rows
    positions = [list(columns).index(c) for c in returning] if known else []
    # atomic without a savepoint: the temporary table needs a transaction; a savepoint per call
    # would give a long import hundreds of subtransactions, which slows every other session.
    with transaction.atomic(savepoint=False), closing(connection.connection.cursor()) as cursor:
        if not conflict and known:
            _copy(cursor, table(model), names, rows)
            return [tuple(row[i] for i in positions) for row in rows] if returning else [], len(rows)
        if (
            conflict
            and not update
            and not add
            and known
            and connection.savepoint_state < DIRECT_COPY_SAVEPOINTS
            and not _first_row_exists(cursor, model, columns, conflict, rows[0])  # a re-sent batch
        ):
            try:
                with transaction.atomic():
                    _copy(cursor, table(model), names, rows)
            except UniqueViolation:
                pass
            else:
                return [tuple(row[i] for i in positions) for row in rows] if returning else [], len(rows)
        # One staging table per column list: a transaction may insert the same model with other columns.
        staging = quote(f"_bulk_{model._meta.db_table}_{zlib.crc32(names.encode()):08x}")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
            f"SELECT {names} FROM {table(model)} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {staging}")
        _copy(cursor, staging, names, rows)
        cursor.execute(
            f"INSERT INTO {table(model)} ({names}) SELECT {names} FROM {staging}"
            + _on_conflict(model, conflict, update, add, returning)
        )
        if returning:
            out = cursor.fetchall()
            return out, len(out)
        return [], cursor.rowcount


def _first_row_exists(cursor, model, columns, conflict, row) -> bool:
    where = " AND ".join(f"{quote(c)} = %s" for c in conflict)
    cursor.execute(
        f"SELECT 1 FROM {table(model)} WHERE {where} LIMIT 1", [row[list(columns).index(c)] for c in conflict]
    )
    return cursor.fetchone() is not None


def _copy(cursor, target: str, names: str, rows: list) -> None:
    with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
