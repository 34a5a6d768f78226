"""clm restore FILE: put a `clm backup` back into the configured database and data directory."""

from django.core.management.base import BaseCommand, CommandError

from clm.core.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `clm backup` into the configured database, MEDIA_ROOT and data "
        "directory, then check every table against the backup's manifest. Stop CLM's server and "
        "workers first. Refuses a database that already has tables unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .tar.gz written by clm backup")
        parser.add_argument("--force", action="store_true", help="replace what the target database holds")

    def handle(self, *args, file, force, **opts):
        try:
            result = restore(file, force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if result.mismatches:
            raise CommandError("restored, but these tables differ from the backup: " + "; ".join(result.mismatches))
        self.stdout.write(
            f"{result.engine} restored from {file}: {result.tables} tables, {result.rows} rows checked, "
            f"{result.media_files} uploaded files"
        )
        if result.secret_key_overridden:
            self.stderr.write(
                "warning: SECRET_KEY is set in the environment and differs from the backup's key, which was "
                "written to the data directory: unset SECRET_KEY or set it to the backup's key, or sessions, "
                "signed links and privacy tokens will not match"
            )
