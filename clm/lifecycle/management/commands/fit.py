from django.core.management.base import BaseCommand, CommandError
from rich.table import Table

from clm.analytics.fit import NotEnoughCustomers
from clm.core.console import console_for, parse_day
from clm.lifecycle import fit
from clm.sales import reports, scoring


class Command(BaseCommand):
    help = "The ICP fit: --train learns the lookalike from the best customers and rescores; --report says how well the rules and the model separated good customers from poor ones on held-out history."

    def add_arguments(self, parser):
        parser.add_argument("--train", action="store_true", help="learn the lookalike model again and rescore leads and accounts")
        parser.add_argument("--report", action="store_true", help="print the held-out report (ROC AUC, lift in the top decile)")
        parser.add_argument("--as-of", dest="as_of", type=parse_day, default=None, help="the date whose outcomes teach (default today)")

    def handle(self, *args, train, report, as_of, **options):
        console = console_for(self.stdout)
        if not train and not report:
            raise CommandError("say what to do: --train, --report, or both")
        if train:
            from django.utils import timezone

            try:
                fit.train(as_of or timezone.localdate())
            except NotEnoughCustomers as exc:
                raise CommandError(f"the lookalike cannot learn yet: {exc}") from exc
            counts = scoring.score_leads()
            console.print(f"trained; {scoring.score_accounts()} accounts and {counts['scored']} open leads rescored")
        if report:
            found = reports.fit_report()
            if found["report"] is None:
                raise CommandError("no lookalike model yet: run clm fit --train (or the daily run) first")
            r = found["report"]
            console.print(f"trained {found['trained_at']:%Y-%m-%d %H:%M}: {r['train']['customers']} customers won "
                          f"{r['train']['from']} to {r['train']['to']}; held out {r['test']['customers']} won "
                          f"{r['test']['from']} to {r['test']['to']} ({r['test']['good']} good)")
            table = Table("score", "ROC AUC", "lift in the top decile")
            for name, key in (("ICP rules", "rules"), ("lookalike model", "model")):
                part = r.get(key) or {}
                table.add_row(name, _fmt(part.get("auc")), _fmt(part.get("lift"), "×"))
            console.print(table)


def _fmt(value, suffix="") -> str:
    return "–" if value is None else f"{value}{suffix}"
