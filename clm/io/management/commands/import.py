"""clm import KIND FILE: import a CSV or XLSX file, with a progress bar and a row-by-row report."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from clm.core.console import cli_language
from clm.core.models import User
from clm.io.engine import ImportOptions, format_error, import_file
from clm.io.kinds import DEFAULT_SOURCE, KINDS, UnknownKind, get_kind
from clm.io.mapping import MappingError, parse_map_options

SHOWN_ERRORS = 30


def kinds_help() -> str:
    return "; ".join(f"{name}: {kind.help}" for name, kind in KINDS.items())


class Command(BaseCommand):
    help = "Import a CSV (UTF-8 or GBK) or XLSX file. KIND is one of: " + ", ".join(KINDS)

    def add_arguments(self, parser):
        parser.add_argument("kind", help=kinds_help())
        parser.add_argument("file", help="a .csv or .xlsx file")
        parser.add_argument("--source", default=DEFAULT_SOURCE,
                            help=f"the system the ids come from (default {DEFAULT_SOURCE!r}); records are matched on (source, id)")
        parser.add_argument("--skip-invalid", action="store_true",
                            help="write the valid rows and save the invalid ones, with reasons, to a CSV file")
        parser.add_argument("--rejected", metavar="PATH", help="where --skip-invalid saves the rejected rows")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        parser.add_argument("--mapping", metavar="NAME", help="start from a saved column mapping")
        parser.add_argument("--save-mapping", metavar="NAME", help="save this file's column mapping under a name")
        parser.add_argument("--map", action="append", metavar='"Column=field"', default=[],
                            help='map a file column to a field ("Column=" skips the column); repeatable')
        parser.add_argument("--as-user", metavar="USERNAME",
                            help="import as this user: the audit log names them, and they reach only accounts they may see")
        parser.add_argument("--chunk-rows", type=int, help="rows per chunk (default: per kind)")

    def handle(self, *args, **opts):
        with translation.override(cli_language()):
            self.run(opts)

    def run(self, opts):
        try:
            kind = get_kind(opts["kind"])
            columns = parse_map_options(opts["map"])
        except (UnknownKind, MappingError) as exc:
            raise CommandError(str(exc)) from None
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(_("%(path)s: no such file") % {"path": path})
        user = None
        if opts["as_user"]:
            user = User.objects.filter(username=opts["as_user"]).first()
            if user is None:
                raise CommandError(_("no user %(name)r") % {"name": opts["as_user"]})
        console = Console(stderr=True)
        options = ImportOptions(
            source=opts["source"], skip_invalid=opts["skip_invalid"], dry_run=opts["dry_run"], columns=columns,
            mapping_name=opts["mapping"], save_mapping=opts["save_mapping"], user=user,
            rejected_path=Path(opts["rejected"]) if opts["rejected"] else None, chunk_rows=opts["chunk_rows"],
        )
        with Progress(
            TextColumn(f"importing {kind.name}"), BarColumn(), DownloadColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rows]} rows"), TimeRemainingColumn(),
            console=console, disable=not console.is_terminal, transient=True,
        ) as bar:
            task = bar.add_task("import", total=None, rows=0)

            def progress(p):
                bar.update(task, completed=p.done, total=p.total, rows=f"{p.rows:,}")

            options.progress = progress
            report = import_file(kind, path, options)
        self.print_report(report)
        if report.status in ("invalid", "failed"):
            raise CommandError(_("nothing was written") if report.problems else report.summary())

    def print_report(self, report):
        out = self.stdout
        if report.format:
            encoding = f", {report.encoding}" if report.encoding else ""
            out.write(_("%(file)s (%(format)s%(encoding)s): %(kind)s, source %(source)r") % {
                "file": report.file, "format": report.format, "encoding": encoding, "kind": report.kind, "source": report.source,
            })
        if report.columns:
            out.write(_("columns: ") + ", ".join(f"{c} -> {f}" for c, f in report.columns.items()))
        if report.ignored_columns:
            out.write(_("not imported: ") + ", ".join(report.ignored_columns))
        for problem in report.problems:
            out.write(self.style.ERROR(problem))
        for error in report.errors[:SHOWN_ERRORS]:
            out.write(self.style.WARNING(format_error(error)))
        if report.error_count > SHOWN_ERRORS:
            out.write(_("... and %(count)s more problems") % {"count": report.error_count - SHOWN_ERRORS})
        if report.rejected_file:
            out.write(_("rejected rows saved to %(path)s") % {"path": report.rejected_file})
        if report.status in ("done", "dry_run"):
            out.write(self.style.SUCCESS(report.summary()) + _(" in %(seconds).1f s") % {"seconds": report.seconds})
