"""clm backup FILE: the database, uploads and secret key in one .tar.gz, consistent while CLM runs."""

from django.core.management.base import BaseCommand, CommandError

from clm.core.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite: online backup API; PostgreSQL: pg_dump), the uploads and the "
        "secret key to FILE (.tar.gz), with a manifest of every table's row count and checksum."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the .tar.gz file to write")

    def handle(self, *args, file, **opts):
        try:
            manifest = backup(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        rows = sum(t["rows"] for t in manifest["tables"].values())
        self.stdout.write(
            f"{manifest['engine']} backup written to {file}: {len(manifest['tables'])} tables, {rows} rows, "
            f"{manifest['media_files']} uploaded files, the secret key"
        )
