"""Running an import in two phases. First the file is read in chunks, each chunk checked against
the database without writing (reads only: on SQLite other writers go on meanwhile) and its valid
rows staged, pickled, in a temporary directory of this import; rejected rows go to their file.
Then, if the import goes ahead, the staged chunks are applied to the real tables: on PostgreSQL in
one transaction, rolled back on a dry run or any error; on SQLite, whose one writer lock would
keep every other writer waiting for the whole apply, a transaction per chunk, journalled so that
an error undoes the chunks already in (clm.io.journal; a dry run stays one transaction). Memory
stays bounded: a chunk at a time, duplicate keys remembered as 16-byte hashes, the report keeps
the first errors.

All or nothing: a failed, refused or killed import leaves nothing in the real tables (the staging
directory is the import's own and goes with it), and since records are matched on their keys a
re-run does not duplicate. A row referring to a record of the same kind defined earlier in the
file (an account's parent) is linked once that record is written, during the apply. The write
lock is held only while a chunk is applied, not while the file is read, parsed and checked."""

from __future__ import annotations

import contextlib
import csv
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clm.core.models import Workspace
from clm.io import journal
from clm.io import mapping as mappings
from clm.io.kinds import DEFAULT_SOURCE, Kind, get_kind, with_custom_fields
from clm.io.readers import FileProblem, Table, open_table
from clm.io.validate import Context, Problems, parse_cells, per_row, validate
from clm.io.write import Counts, WriteContext, event_frame, upsert, write_orders
from clm.usage.services import (
    EVENT_TOO_OLD,
    PreparedEvents,
    Rollups,
    StoreResult,
    event_problems,
    prepare_events,
    store_prepared,
)

REPORTED_ERRORS = 1000  # the report lists this many; the rejected-rows file has them all
# rows per transaction of a chunked apply (SQLite): a fraction of a second of the write lock
APPLY_ROWS = 2_000


@dataclass
class Progress:
    done: int
    total: int
    unit: str  # "bytes" or "rows"
    rows: int


@dataclass
class ImportOptions:
    source: str = DEFAULT_SOURCE
    skip_invalid: bool = False
    dry_run: bool = False
    columns: dict[str, str] = field(default_factory=dict)  # explicit {file column: field or ""}
    mapping_name: str | None = None  # a saved mapping to start from
    save_mapping: str | None = None
    user: object = None  # who imports: the audit actor; restricted users reach only their accounts
    via: str = "import"
    rejected_path: Path | None = None  # where --skip-invalid puts the rejected rows
    chunk_rows: int | None = None
    progress: Callable[[Progress], None] | None = None
    # both phases in one transaction, holding SQLite's write lock throughout, as imports did
    # before they were staged: only bench/bench_import_lock.py sets it, to compare
    one_transaction: bool = False
    # after each part the apply commits on its own (SQLite): the parts committed so far
    applied: Callable[[int], None] | None = None


@dataclass
class ImportReport:
    kind: str
    file: str
    status: str = "invalid"  # done | dry_run | invalid (nothing written) | failed (nothing written)
    format: str | None = None
    encoding: str | None = None
    source: str = DEFAULT_SOURCE
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)  # {row, column, value, reason}
    problems: list[str] = field(default_factory=list)  # about the whole file
    columns: dict[str, str] = field(default_factory=dict)  # file column -> field
    ignored_columns: list[str] = field(default_factory=list)
    rejected_file: str | None = None
    seconds: float = 0.0

    @property
    def written(self) -> bool:
        return self.status == "done"

    def to_dict(self) -> dict:
        return asdict(self) | {"written": self.written}

    def summary(self) -> str:
        if self.problems:
            return _("nothing was written: %(problems)s") % {"problems": "; ".join(self.problems)}
        figures = asdict(self)
        counts = _("%(created)s created, %(updated)s updated, %(unchanged)s unchanged") % figures
        if self.status == "dry_run":
            return _("dry run, nothing written: %(rows)s rows, %(rejected)s invalid; would be %(counts)s") % (
                figures | {"counts": counts}
            )
        if self.status == "invalid":
            return _("nothing was written: %(rejected)s of %(rows)s rows are invalid (%(error_count)s problems)") % figures
        return _("%(rows)s rows: %(counts)s, %(rejected)s rejected") % (figures | {"counts": counts})


class RejectedRows:
    """The rejected rows, streamed to a CSV (UTF-8 with BOM, for Excel): the original columns, then
    the row number and the reasons."""

    def __init__(self, path: Path, header: list[str]):
        self.path, self.header, self._file, self._writer = path, header, None, None

    def write(self, raw: pd.DataFrame, errors: pd.DataFrame) -> None:
        if raw.empty:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow([*self.header, _("Row"), _("Errors")])
        reasons = (errors["column"] + ": " + errors["reason"]).groupby(errors["row"]).agg("; ".join)
        cells = raw.reindex(columns=range(len(self.header)), fill_value="").astype(str).to_numpy().tolist()
        rows = raw.index.tolist()
        self._writer.writerows([*c, r, reasons.get(r, "")] for c, r in zip(cells, rows, strict=True))

    def close(self) -> str | None:
        if self._file is None:
            return None
        self._file.close()
        return str(self.path)


def default_rejected_path(path: Path) -> Path:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return path.with_name(f"{path.stem}.rejected-{stamp}.csv")


def import_file(kind: Kind | str, path: str | Path, options: ImportOptions | None = None, *, name: str | None = None) -> ImportReport:
    """Import one file; the report says what was done (or, on a dry run, what would be)."""
    kind = with_custom_fields(get_kind(kind) if isinstance(kind, str) else kind)
    options = options or ImportOptions()
    path = Path(path)
    report = ImportReport(kind=kind.name, file=name or path.name, source=options.source)
    started = time.monotonic()
    if not 1 <= len(options.source.strip()) <= 30:
        report.problems = [_("the source system must be 1 to 30 characters (records are matched on source and id)")]
        return report
    try:
        table = open_table(path, name)
        report.format, report.encoding = table.format, table.encoding
        columns = mappings.load_saved(kind, options.mapping_name) if options.mapping_name else {}
        columns.update(options.columns)
        mapping = mappings.map_columns(kind, table.header, columns, strict=tuple(options.columns))
    except (FileProblem, mappings.MappingError) as exc:
        report.problems = [str(exc)]
        return report
    report.columns = {mapping.header[pos]: f.name for pos, f in mapping.columns.items()}
    report.ignored_columns = mapping.ignored
    if mapping.problems:
        report.problems = mapping.problems
        return report
    run = Run(kind, table, mapping, options, report)
    try:
        whole = transaction.atomic() if options.one_transaction else contextlib.nullcontext()
        with tempfile.TemporaryDirectory(prefix="clm-import-") as staging, whole:
            run.check_all(Path(staging))
            if report.rows == 0:
                report.problems = [_("the file has a header row but no data rows")]
            if not report.problems and (options.dry_run or options.skip_invalid or report.error_count == 0):
                if journal.chunked() and not (options.dry_run or options.one_transaction):
                    journal.recover()  # an apply a killed process left half way goes first
                    run.apply_in_chunks()
                else:
                    with transaction.atomic():
                        run.apply_all()
                        if options.dry_run:
                            transaction.set_rollback(True)
    except FileProblem as exc:
        report.problems = [str(exc)]
    except DatabaseError as exc:
        report.status = "failed"
        report.problems = [_("the database refused the data, nothing was written: %(error)s") % {"error": exc}]
    finally:
        report.rejected_file = run.rejected.close() if run.rejected else None
    if report.status != "failed":
        if report.problems or (report.error_count and not options.skip_invalid and not options.dry_run):
            report.status = "invalid"
        else:
            report.status = "dry_run" if options.dry_run else "done"
    if options.save_mapping and not report.problems:
        mappings.save(kind, options.save_mapping, mapping, options.user)
    report.seconds = round(time.monotonic() - started, 3)
    return report


class Run:
    """One import in progress."""

    def __init__(self, kind: Kind, table: Table, mapping, options: ImportOptions, report: ImportReport):
        self.kind, self.table, self.mapping, self.options, self.report = kind, table, mapping, options, report
        self.context = Context(kind, mapping, options.source, user=options.user)
        self.write_context = WriteContext(
            # whole seconds: the dates an import stamps (lead statuses...) are what an XLSX export keeps,
            # so an exported file imports back unchanged
            kind, options.user, options.via, timezone.now().replace(microsecond=0)
        )
        self.counts = Counts()
        self.rollups = Rollups() if kind.name == "usage_events" else None
        self.store_behind = StoreBehind(self.rollups) if kind.name == "usage_events" else None
        if self.store_behind:
            self.retention_days = Workspace.current().event_retention_days
        self.staged: list[Path] = []
        self.rejected = None
        if options.skip_invalid:
            target = options.rejected_path or default_rejected_path(table.path)
            self.rejected = RejectedRows(Path(target), table.header)

    def check_all(self, staging: Path) -> None:
        """Phase one: every chunk read, checked and its valid rows staged; nothing written."""
        for raw, parsed, done in read_ahead(self.parsed_chunks()):
            self.check(raw, parsed, staging / f"{len(self.staged):06d}.pickle")
            self.tell(done)

    def apply_all(self) -> None:
        """Phase two, in the caller's transaction: the staged chunks written in file order."""
        try:
            for path in self.staged:
                self.apply_one(path)
        finally:
            if self.store_behind:  # before anything else uses the connection, even on an error
                self.store_behind.close()
        self.finish_writes()
        self.tell(self.table.total)

    def apply_in_chunks(self) -> None:
        """Phase two on SQLite: the staged rows in parts of about APPLY_ROWS, each in a transaction
        of its own, journalled, other writers getting the lock between parts; on any error the
        parts already in are undone."""
        if self.store_behind:  # here a part is stored within its own transaction, not behind
            self.store_behind.close()
        applying = journal.Journal()
        applying.begin()
        try:
            done = 0
            for path in self.staged:
                for part in self.parts(self.load(path)):
                    applying.chunk(lambda part=part: self.apply_rows(part, behind=False))
                    done += 1
                    if self.options.applied:
                        self.options.applied(done)
            applying.finish(self.finish_writes)
        except BaseException:
            applying.undo()
            raise
        self.tell(self.table.total)

    def parts(self, rows) -> Iterator:
        """A staged chunk in parts of about APPLY_ROWS rows, in file order; an order's lines stay
        together (its totals are their sums), events prepared as a whole stay whole."""
        if not isinstance(rows, pd.DataFrame) or len(rows) <= APPLY_ROWS:
            yield rows
            return
        cuts = np.arange(APPLY_ROWS, len(rows), APPLY_ROWS)
        if self.kind.name == "orders":  # move each cut to the next order's first line
            keys = (rows["source"].astype(str) + "\x1f" + rows["external_id"].astype(str)).to_numpy()
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            cuts = np.unique(starts[np.minimum(np.searchsorted(starts, cuts), len(starts) - 1)])
            cuts = cuts[cuts > 0]
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(rows)], strict=True):
            if hi > lo:
                yield rows.iloc[lo:hi].copy()

    @staticmethod
    def load(path: Path):
        with open(path, "rb") as file:
            return pickle.load(file)

    def apply_one(self, path: Path) -> None:
        self.apply_rows(self.load(path))

    def apply_rows(self, rows, behind: bool = True) -> None:
        if self.store_behind and behind:
            self.store_behind.store(rows)
        elif self.store_behind:
            result, new = store_prepared(rows)
            self.add_counts(Counts(created=result.stored, unchanged=result.duplicates))
            self.rollups.add(new)
        elif self.kind.name == "orders":
            self.add_counts(write_orders(self.write_context, rows))
        else:
            self.add_counts(upsert(self.write_context, rows))

    def finish_writes(self) -> None:
        if self.store_behind:
            self.add_counts(self.store_behind.counts)
        if self.rollups is not None:
            self.rollups.write()

    def parsed_chunks(self) -> Iterator[tuple[pd.DataFrame, dict, int]]:
        """(rows, parsed columns, progress) per chunk; blank lines dropped. For orders, the last
        order of a chunk may go on in the next one, so its lines wait for that one."""
        carry, done = None, 0
        size = self.options.chunk_rows or self.kind.chunk_rows
        key_column = self.mapping.position("external_id") if self.kind.name == "orders" else None
        for chunk in self.table.chunks(size):
            raw = chunk.frame[(chunk.frame.to_numpy(dtype=object) != "").any(axis=1)] if len(chunk.frame) else chunk.frame
            raw = raw if carry is None else pd.concat([carry, raw])
            carry, done = None, chunk.done
            if key_column is not None and len(raw):
                keys = raw[key_column].astype(str).str.strip().to_numpy()
                others = np.flatnonzero(keys != keys[-1])
                start = others[-1] + 1 if len(others) else 0
                raw, carry = raw.iloc[:start], raw.iloc[start:]
            if len(raw):
                yield raw, parse_cells(self.context, raw), done
        if carry is not None and len(carry):
            yield carry, parse_cells(self.context, carry), done

    def tell(self, done: int) -> None:
        if self.options.progress:
            self.options.progress(Progress(done, self.table.total, self.table.unit, self.report.rows))

    def check(self, raw: pd.DataFrame, parsed: dict, path: Path) -> None:
        self.report.rows += len(raw)
        batch = validate(self.context, raw, parsed)
        problems, data = batch.problems, batch.data
        rows = None
        if self.kind.name == "usage_events":
            valid = data.drop(index=problems.rows())
            rows = event_frame(valid)
            reasons = event_problems(rows, days=self.retention_days)
            self.event_reasons(problems, reasons, valid)
        if self.kind.name == "orders":
            self.whole_orders(problems, data)
        bad = problems.rows()
        self.record(problems.frame(), raw.loc[raw.index.isin(bad)])
        rows = (data if rows is None else rows).drop(index=bad, errors="ignore")
        self.context.remember_written(rows)
        if len(rows) and self.store_behind:  # keyed, deduplicated and ordered here, not under the lock
            rows = prepare_events(rows)
        if len(rows) if isinstance(rows, pd.DataFrame) else rows.received:
            with open(path, "wb") as file:
                pickle.dump(rows, file, protocol=pickle.HIGHEST_PROTOCOL)
            self.staged.append(path)

    def add_counts(self, counts: Counts) -> None:
        self.counts.add(counts)
        self.report.created, self.report.updated, self.report.unchanged = (
            self.counts.created, self.counts.updated, self.counts.unchanged,
        )

    def event_reasons(self, problems: Problems, reasons: pd.Series, valid: pd.DataFrame) -> None:
        for reason in reasons[reasons != ""].unique():
            name = reason.split(" ", 1)[0]
            column = self.mapping.column_name(name) if self.mapping.has(name) else name
            mask = (reasons == reason).reindex(valid.index, fill_value=False)
            values = valid[name].astype(str) if name in valid else ""
            problems.add(mask, column, values, event_reason_in_language(reason, self.retention_days))

    def whole_orders(self, problems: Problems, data: pd.DataFrame) -> None:
        """An order is written whole or not at all: its totals are the sums of its lines."""
        bad = problems.rows()
        if bad.empty:
            return
        key = data["source"].astype(str) + "\x1f" + data["external_id"].astype(str)
        first_bad = pd.Series(bad, index=bad).groupby(key[bad]).min()
        dragged = key.isin(first_bad.index) & ~data.index.isin(bad)
        reasons = per_row(_("another line of this order is invalid (row %(row)s)"), "row", key.map(first_bad))
        problems.add(pd.Series(dragged, index=data.index), self.mapping.column_name("external_id"), data["external_id"], reasons)

    def record(self, errors: pd.DataFrame, rejected_raw: pd.DataFrame) -> None:
        report = self.report
        report.rejected += len(rejected_raw)
        report.error_count += len(errors)
        room = REPORTED_ERRORS - len(report.errors)
        if room > 0 and len(errors):
            head = errors.head(room)
            report.errors.extend(
                {"row": int(r), "column": c, "value": v, "reason": m}
                for r, c, v, m in head[["row", "column", "value", "reason"]].itertuples(index=False)
            )
        if self.rejected is not None:
            self.rejected.write(rejected_raw, errors)


class StoreBehind:
    """Stores an events import's staged chunks (prepared when they were checked) in a second
    thread, on the import's own connection and inside its transaction, while the import's thread
    loads the next chunk and gathers the rollups of the one before: the
    database's work (SQLite's, which releases the GIL, or the PostgreSQL server's) overlaps
    Python's. One chunk is stored at a time, in order; `close` waits for the last one, so the two
    threads never use the connection at once. Django shares a connection with another thread this
    way for its live test server."""

    def __init__(self, rollups: Rollups):
        self.rollups = rollups
        self.counts = Counts()
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="clm-import-store")
        self.pending = None

    def store(self, prepared: PreparedEvents) -> None:
        self.wait()
        self.pending = self.pool.submit(self._store, prepared)

    def _store(self, prepared: PreparedEvents) -> tuple[StoreResult, pd.DataFrame]:
        connections[DEFAULT_DB_ALIAS] = self.connection
        self.connection.inc_thread_sharing()
        try:
            return store_prepared(prepared)
        finally:
            self.connection.dec_thread_sharing()
            del connections[DEFAULT_DB_ALIAS]

    def wait(self) -> None:
        """Wait for the chunk being stored (its error, if any, is raised here) and gather the
        rollups of its new events, here: the storing thread is the slower one."""
        pending, self.pending = self.pending, None
        if pending is not None:
            result, new = pending.result()
            self.counts.add(Counts(created=result.stored, unchanged=result.duplicates))
            self.rollups.add(new)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)


def read_ahead(chunks: Iterator):
    """The items of `chunks`, each computed in a thread while the caller works on the one before:
    reading and parsing (pure pandas, no database) overlap with the database writing the previous
    chunk, which releases the GIL. Exceptions reach the caller at the item they belong to."""
    end = object()
    language = translation.get_language()  # the reasons parsing gives, in the caller's language

    def step():
        with translation.override(language):
            return next(chunks, end)

    with ThreadPoolExecutor(1, thread_name_prefix="clm-import-read") as pool:
        try:
            pending = pool.submit(step)
            while (item := pending.result()) is not end:
                pending = pool.submit(step)
                yield item
        finally:
            pending.cancel()
            wait([pending])
            chunks.close()


def event_reason_in_language(reason: str, days: int) -> str:
    """A reason of clm.usage.services.event_problems (English) in the active language; `days`: the
    retention it was given."""
    if reason == EVENT_TOO_OLD % {"days": days}:
        return _(EVENT_TOO_OLD) % {"days": days}
    return _(reason)


def format_error(error: dict) -> str:
    value = f" {error['value']!r}" if error["value"] != "" else ""
    return _("row %(row)s, %(column)s%(value)s: %(reason)s") % (error | {"value": value})

