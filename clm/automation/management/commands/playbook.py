import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from rich.table import Table

from clm.automation.models import Enrollment, Playbook
from clm.automation.playbooks import dryrun, outcomes, services
from clm.core.console import console_for, parse_day
from clm.core.services import validation_messages
from clm.lifecycle.metrics import FutureDate


def pct(value) -> str:
    return "–" if value is None else f"{value:+.1%}" if value < 0 or value > 0 else "0.0%"


class Command(BaseCommand):
    help = "Playbooks: templates, list, enable, export, load, dry-run, uplift."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("templates", help="the shipped templates").add_argument("--json", action="store_true")
        sub.add_parser("list", help="the playbooks, with their enrollments").add_argument(
            "--json", action="store_true"
        )
        enable = sub.add_parser("enable", help="create an active playbook from a template; prints its id")
        enable.add_argument("key")
        enable.add_argument(
            "--holdout", type=float, default=None, help="share held out at random, 0 ≤ share < 1"
        )
        export = sub.add_parser("export", help="write a playbook's JSON document to a file")
        export.add_argument("playbook", metavar="ID")
        export.add_argument("file")
        load = sub.add_parser("load", help="create or update a playbook from a JSON document")
        load.add_argument("file")
        dry = sub.add_parser("dry-run", help="whom it would have enrolled between two dates, sending nothing")
        dry.add_argument("playbook", metavar="KEY_OR_ID")
        dry.add_argument("--from", dest="start", type=parse_day, required=True)
        dry.add_argument("--to", dest="end", type=parse_day, required=True)
        dry.add_argument("--json", action="store_true")
        uplift = sub.add_parser(
            "uplift", help="treated vs held out on the playbook's outcome, with a 95%% interval"
        )
        uplift.add_argument("playbook", metavar="KEY_OR_ID")
        uplift.add_argument(
            "--as-of",
            type=parse_day,
            default=None,
            help="count the outcomes known on this date (default today)",
        )
        uplift.add_argument("--json", action="store_true")

    def handle(self, *args, action, **options):
        self.console = console_for(self.stdout)
        try:
            getattr(self, "do_" + action.replace("-", "_"))(**options)
        except ValidationError as error:
            raise CommandError(
                "; ".join(
                    f"{m['field']}: {m['message']}" if m["field"] else m["message"]
                    for m in validation_messages(error)
                )
            ) from None
        except (Playbook.DoesNotExist, dryrun.DryRunError, FutureDate) as error:
            raise CommandError(str(error)) from None

    def emit_json(self, value) -> None:
        self.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str))

    def do_templates(self, json=False, **_):
        shipped = services.templates()
        rows = [
            {
                "key": k,
                "name": d["name"],
                "trigger": d["definition"]["trigger"]["type"],
                "description": d["description"],
            }
            for k, d in shipped.items()
        ]
        if json:
            return self.emit_json(rows)
        table = Table("key", "name", "trigger", box=None, pad_edge=False)
        for row in rows:
            table.add_row(row["key"], f"{row['name']['zh']} / {row['name']['en']}", row["trigger"])
        self.console.print(table)

    def do_list(self, json=False, **_):
        rows = []
        for p in Playbook.objects.prefetch_related("versions"):
            counts = {s: 0 for s in Enrollment.Status.values}
            for status, n in _status_counts(p):
                counts[status] = n
            rows.append(
                {
                    "id": p.pk,
                    "key": p.key,
                    "name": {"zh": p.name_zh, "en": p.name_en},
                    "active": p.active,
                    "trigger": p.trigger_type,
                    "version": max((v.number for v in p.versions.all()), default=None),
                    "holdout": p.holdout,
                    "enrollments": counts,
                }
            )
        if json:
            return self.emit_json(rows)
        table = Table(
            "id",
            "key",
            "active",
            "trigger",
            "version",
            "holdout",
            "active / completed / exited / failed",
            box=None,
            pad_edge=False,
        )
        for r in rows:
            c = r["enrollments"]
            table.add_row(
                str(r["id"]),
                r["key"],
                "yes" if r["active"] else "no",
                r["trigger"],
                str(r["version"]),
                f"{r['holdout']:.0%}",
                f"{c['active']} / {c['completed']} / {c['exited']} / {c['failed']}",
            )
        self.console.print(
            table if rows else "No playbooks yet: clm playbook templates, then clm playbook enable KEY."
        )

    def do_enable(self, key, holdout=None, **_):
        playbook = services.enable_template(key, holdout=holdout, via="cli")
        self.stdout.write(str(playbook.pk))

    def do_export(self, playbook, file, **_):
        found = services.resolve(playbook)
        Path(file).write_text(
            json.dumps(services.document(found), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        self.stdout.write(f"Wrote {found.key} (version {found.current.number}) to {file}.")

    def do_load(self, file, **_):
        try:
            doc = json.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CommandError(f"{file} is not a JSON document: {error}") from None
        playbook, created = services.save_document(doc, via="cli")
        self.stdout.write(
            f"{'Created' if created else 'Updated'} {playbook.key} (id {playbook.pk}, version {playbook.current.number})."
        )

    def do_dry_run(self, playbook, start, end, json=False, **_):
        report = dryrun.dry_run(services.resolve(playbook), start, end)
        if json:
            return self.emit_json(report)
        self.console.print(
            f"{report['playbook']}: {report['total']:,} enrollments from {report['from']} to {report['to']}"
            f" ({report['held_out']:,} held out). Nothing was sent."
        )
        table = Table("date", "subject", "held out", "actions", box=None, pad_edge=False)
        for e in report["enrollments"][:200]:
            subject = f"account {e['account_id']}" if e["account_id"] else f"lead {e['lead_id']}"
            steps = ", ".join(f"{a['type']} {a.get('on') or a.get('until')}" for a in e["actions"])
            table.add_row(e["date"], subject, "yes" if e["held_out"] else "", steps)
        self.console.print(table)

    def do_uplift(self, playbook, as_of=None, json=False, **_):
        report = outcomes.report(services.resolve(playbook), as_of)
        if json:
            return self.emit_json(report)
        rate = lambda r: "–" if r is None else f"{r:.1%}"  # noqa: E731
        self.console.print(
            f"{report['playbook']}: outcome {report['outcome']} within {report['outcome_days']} days; "
            f"{report['matured']:,} of {report['enrollments']:,} enrollments have a known outcome."
        )
        self.console.print(
            f"  treated:  {report['treated_successes']:,} of {report['treated']:,} ({rate(report['treated_rate'])})"
        )
        self.console.print(
            f"  held out: {report['held_out_successes']:,} of {report['held_out']:,} ({rate(report['held_out_rate'])})"
        )
        if report["difference"] is not None:
            self.console.print(
                f"  difference {pct(report['difference'])}, 95% interval {pct(report['low'])} to {pct(report['high'])}"
                " (Newcombe's hybrid score interval)"
            )
        self.console.print(f"  {report['verdict']}")


def _status_counts(playbook):
    from django.db.models import Count

    return (
        Enrollment.objects.filter(playbook=playbook).values_list("status").annotate(n=Count("id")).order_by()
    )
