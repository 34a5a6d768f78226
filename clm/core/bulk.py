"""INSERT ... ON CONFLICT for the bulk paths (imports, event ingestion): multi-row VALUES on
SQLite, COPY on PostgreSQL. SQL is built from model metadata and column names, never from user
values.

Not Django's bulk_create(update_conflicts=True): it needs a model instance per row, cannot add to
a column on conflict (the rollups' counters), returns nothing of rows that conflicted, and binds
every value; on the same 100,000 rows it takes about 9× as long to insert and 13× to upsert
(bench/bench_bulk.py, SQLite; 3–7× on PostgreSQL)."""

import zlib
from collections.abc import Iterable, Sequence
from contextlib import closing
from itertools import chain
from operator import itemgetter

from django.db import connection, models, transaction

# SQLite allows 32,766 bound variables per statement (since 3.32).
MAX_VARIABLES = 32000
IN_BATCH = 10_000  # keys per IN (...) list


def in_batches(values: list, size: int = IN_BATCH):
    """``values`` in slices short enough for an IN (...) list on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# PostgreSQL keeps 64 subtransactions per session in shared memory; past that, every session's
# visibility checks slow down. Straight-in attempts (one savepoint each) stop well before.
DIRECT_COPY_SAVEPOINTS = 48


class Columns:
    """Rows given as one list per column, as pandas hands them over: the writers take them without
    a tuple per row (building a million tuples costs more than binding their values)."""

    def __init__(self, lists: Sequence[list]):
        self.lists = list(lists)

    def __len__(self) -> int:
        return len(self.lists[0]) if self.lists else 0

    def __getitem__(self, i: int) -> tuple:
        return tuple(column[i] for column in self.lists)

    def __iter__(self):
        return zip(*self.lists, strict=True)

    def flat(self) -> list:
        """The values row after row, as one list."""
        width = len(self.lists)
        out = [None] * (len(self) * width)
        for i, column in enumerate(self.lists):
            out[i::width] = column
        return out


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
    out, _ = _insert(model, columns, rows, conflict, update, add, returning)
    if out is ALL:
        return _echo(rows, [list(columns).index(c) for c in returning])
    return out


def insert_new(
    model: type[models.Model],
    columns: Sequence[str],
    rows: list | Columns,
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[tuple] | None:
    """Insert rows, ignoring those that conflict on `conflict` columns; returns the `returning`
    columns of the rows inserted, or None when every row was (known only when `returning` is
    among `columns`): most batches are all new, and their caller needs no row-by-row answer."""
    out, _ = _insert(model, columns, rows, conflict, (), (), returning)
    return None if out is ALL else out


# What _insert gives for "every row went in" in place of the rows RETURNING would have given.
ALL = object()


def _insert(model, columns, rows, conflict, update, add, returning) -> tuple[list[tuple] | object, int]:
    rows = rows if isinstance(rows, list | Columns) else list(rows)
    if not len(rows):
        return [], 0
    # The driver's own cursors below: its errors become Django's (DatabaseError and kin), as
    # through Django's cursors, so callers catch one kind.
    with connection.wrap_database_errors:
        return _insert_rows(model, columns, rows, conflict, update, add, returning)


def _insert_rows(model, columns, rows, conflict, update, add, returning) -> tuple[list[tuple] | object, int]:
    """Rows go straight in when nothing can conflict, or else first straight in under a savepoint
    (most batches are all new: no conflict handling, nothing to fetch back) and, if one conflicts,
    again with ON CONFLICT (on PostgreSQL through a temporary table and one INSERT ... SELECT)."""
    known = set(returning) <= set(columns)  # what RETURNING would give is in the rows
    connection.ensure_connection()
    # atomic without a savepoint: PostgreSQL's temporary table needs a transaction; a savepoint per
    # call would give a long import hundreds of subtransactions, which slows every other session.
    # The driver's own cursor: Django's wrapper would rewrite every placeholder of every statement.
    with transaction.atomic(savepoint=False), closing(connection.connection.cursor()) as cursor:
        if known and not conflict:
            _write(cursor, model, columns, rows)
            done = True
        else:
            # All new, the rows need no conflict handling, whatever it would have been.
            done = known and _straight_in(cursor, model, columns, conflict, rows)
        if done:
            return ALL if returning else [], len(rows)
        return _write(cursor, model, columns, rows, _on_conflict(model, conflict, update, add, returning), returning)


def _echo(rows: list | Columns, positions: list[int]) -> list[tuple]:
    """What RETURNING would have given for rows that all went in: the columns at `positions`."""
    if isinstance(rows, Columns):
        return list(zip(*(rows.lists[i] for i in positions), strict=True))
    if len(positions) == 1:
        return [(row[positions[0]],) for row in rows]
    return list(map(itemgetter(*positions), rows))


def _straight_in(cursor, model, columns, conflict, rows) -> bool:
    """Insert rows without conflict handling under a savepoint; False, with nothing inserted, if
    one conflicts (or breaks another rule: the careful path then says which)."""
    if _first_row_exists(cursor, model, columns, conflict, rows[0]):  # a re-sent batch
        return False
    if not _savepoint_to_spare(cursor):
        return False
    try:
        with transaction.atomic():
            _write(cursor, model, columns, rows)
    except connection.Database.IntegrityError:
        return False
    return True


def _savepoint_to_spare(cursor) -> bool:
    """Whether this transaction may take one more straight-in savepoint, which it is then charged.
    Counted per PostgreSQL transaction id: Django's savepoint counter runs for the connection's
    whole life, so a long-lived server or worker would stop going straight in for good."""
    if connection.vendor != "postgresql":
        return True
    cursor.execute("SELECT pg_current_xact_id()::text")  # assigns one: the rows come next anyway
    xid = cursor.fetchone()[0]
    spent_in, spent = getattr(connection, "clm_straight_in_savepoints", (None, 0))
    spent = spent if spent_in == xid else 0
    if spent >= DIRECT_COPY_SAVEPOINTS:
        return False
    connection.clm_straight_in_savepoints = (xid, spent + 1)
    return True


def _write(cursor, model, columns, rows, tail: str = "", returning=()) -> tuple[list[tuple], int]:
    """INSERT the rows, ending each statement with `tail` (ON CONFLICT ..., RETURNING ...): on
    SQLite as multi-row VALUES, on PostgreSQL by COPY (through a temporary table when there is a
    tail), which costs far less than binding tens of thousands of parameters."""
    names = ", ".join(map(quote, columns))
    if connection.vendor == "postgresql":
        if not tail:
            _copy(cursor, table(model), names, rows)
            return [], len(rows)
        # One staging table per column list: a transaction may insert the same model with other columns.
        staging = quote(f"_bulk_{model._meta.db_table}_{zlib.crc32(names.encode()):08x}")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
            f"SELECT {names} FROM {table(model)} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {staging}")
        _copy(cursor, staging, names, rows)
        cursor.execute(f"INSERT INTO {table(model)} ({names}) SELECT {names} FROM {staging}" + tail)
        if returning:
            out = cursor.fetchall()
            return out, len(out)
        return [], cursor.rowcount
    one = "(" + ", ".join("?" * len(columns)) + ")"
    sql = f"INSERT INTO {table(model)} ({names}) VALUES "
    width = len(columns)
    per_statement = max(1, MAX_VARIABLES // width)
    values = rows.flat() if isinstance(rows, Columns) else list(chain.from_iterable(rows))
    out: list[tuple] = []
    count = 0
    full = None
    for start in range(0, len(rows), per_statement):
        size = min(per_statement, len(rows) - start)
        if size < per_statement or full is None:
            statement = sql + ", ".join([one] * size) + tail
            if size == per_statement:
                full = statement
        else:
            statement = full
        cursor.execute(statement, values[start * width : (start + size) * width])
        if returning:
            out.extend(cursor.fetchall())
        else:
            count += cursor.rowcount
    return out, len(out) if returning else count


def save_fields(objects: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of each object to its row: one UPDATE sent for all of them through the
    driver's executemany (pipelined on PostgreSQL). Django's bulk_update builds a CASE expression
    per field over every row, about 8 ms a row for nine fields; this costs what binding costs."""
    if not objects:
        return
    meta = objects[0]._meta
    chosen = [meta.get_field(name) for name in fields]
    mark = "%s" if connection.vendor == "postgresql" else "?"
    sets = ", ".join(f"{quote(f.column)} = {mark}" for f in chosen)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = {mark}"
    rows = [[*(f.get_db_prep_save(getattr(o, f.attname), connection) for f in chosen), o.pk] for o in objects]
    connection.ensure_connection()
    with (
        connection.wrap_database_errors,
        transaction.atomic(savepoint=False),
        closing(connection.connection.cursor()) as cursor,
    ):
        cursor.executemany(sql, rows)


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """PostgreSQL: `count` new ids from the table's id sequence, for rows inserted with their id
    (straight in by COPY, where RETURNING would need the staging table)."""
    with closing(connection.connection.cursor()) as cursor:
        # The sequence looked up once (a subquery), not once per id: that cost 2.8 µs an id.
        cursor.execute(
            "SELECT nextval((SELECT pg_get_serial_sequence(%s, 'id'))::regclass) FROM generate_series(1, %s)",
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


def _first_row_exists(cursor, model, columns, conflict, row) -> bool:
    mark = "%s" if connection.vendor == "postgresql" else "?"
    where = " AND ".join(f"{quote(c)} = {mark}" for c in conflict)
    cursor.execute(
        f"SELECT 1 FROM {table(model)} WHERE {where} LIMIT 1", [row[list(columns).index(c)] for c in conflict]
    )
    return cursor.fetchone() is not None


def _copy(cursor, target: str, names: str, rows: list | Columns) -> None:
    with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
