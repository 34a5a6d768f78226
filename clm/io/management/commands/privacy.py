"""clm privacy export|erase CONTACT: a person's data (PIPL, GDPR), gathered or erased everywhere."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clm.io.privacy import PrivacyError, erase_person, export_person


class Command(BaseCommand):
    help = (
        "export CONTACT [FILE]: everything held about a person as JSON (to FILE, or standard output), "
        "with a summary. erase CONTACT --yes: remove or pseudonymise it everywhere, in one transaction. "
        "CONTACT is a contact id or an email address."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("export", "erase"))
        parser.add_argument("contact", help="a contact id or email address")
        parser.add_argument("file", nargs="?", help="export: the JSON file to write (default: standard output)")
        parser.add_argument("--yes", action="store_true", help="erase: confirm; erasing cannot be undone")

    def handle(self, *args, **opts):
        try:
            if opts["action"] == "export":
                return self.export(opts["contact"], opts["file"])
            if not opts["yes"]:
                raise CommandError("erasing cannot be undone: add --yes to confirm")
            counts = erase_person(opts["contact"], via="cli")
        except PrivacyError as exc:
            raise CommandError(str(exc)) from None
        changed = ", ".join(f"{name} {n}" for name, n in counts.items() if n)
        self.stdout.write(f"erased contact {opts['contact']}: {changed or 'contact only'}")

    def export(self, ref, file):
        data = export_person(ref)
        text = json.dumps(data, ensure_ascii=False, indent=2)
        if not file:
            sys.stdout.write(text + "\n")
            return
        try:
            Path(file).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {file}: {exc}") from None
        self.stdout.write("\n".join(data["summary"]))
        self.stdout.write(f"written to {file}")
