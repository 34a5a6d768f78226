"""clm export KIND FILE: export records to .csv (UTF-8 with BOM) or .xlsx, importable back."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clm.core.models import User
from clm.io.export import ExportError, export_file
from clm.io.kinds import KINDS, UnknownKind, get_kind


class Command(BaseCommand):
    help = "Export records to a .csv or .xlsx file (by its extension). KIND is one of: " + ", ".join(KINDS)

    def add_arguments(self, parser):
        parser.add_argument("kind")
        parser.add_argument("file", help="a .csv or .xlsx file to write")
        parser.add_argument("--as-user", metavar="USERNAME",
                            help="export only what this user may see (default: everything, as an administrator)")

    def handle(self, *args, **opts):
        try:
            kind = get_kind(opts["kind"])
        except UnknownKind as exc:
            raise CommandError(str(exc)) from None
        user = None
        if opts["as_user"]:
            user = User.objects.filter(username=opts["as_user"]).first()
            if user is None:
                raise CommandError(f"no user {opts['as_user']!r}")
        path = Path(opts["file"])
        try:
            count = export_file(kind, path, user)
        except (ExportError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{count} {kind.name} rows written to {path}")
