"""`clm clv`: fit the CLV models on a file, for analysts and for checking the models.

clm clv bgnbd FILE --customer COL --date COL [--amount COL] --calibration-end DATE
              [--period week|day|month] [--json]
clm clv sbg --alive N0,N1,N2,... [--project N] [--json]

The arguments only: the work (numpy, pandas, scipy) is imported once they are accepted (_clv_work).
"""

from __future__ import annotations

import contextlib
import json

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

SEPARATORS = ("auto", "comma", "semicolon", "tab", "whitespace")  # _clv_work.SEPARATORS
PERIODS = ("day", "month", "week")  # clm.analytics.clv.data.DAYS_PER_PERIOD


class Command(BaseCommand):
    requires_system_checks = []  # fitting a file needs no database, nor the web app's checks
    help = "Fit CLV models on a file: BG/NBD (+ Gamma-Gamma) on transactions, or sBG on a cohort's survivors."

    def add_arguments(self, parser):
        models = parser.add_subparsers(dest="model", required=True, parser_class=CommandParser)
        bg = models.add_parser(
            "bgnbd", help="BG/NBD on a transaction file (one row per purchase), with Gamma-Gamma spend"
        )
        bg.add_argument("file", help="CSV/TSV/TXT (UTF-8 or GBK) or XLSX file of transactions")
        bg.add_argument(
            "--customer", required=True, help="the customer id column (name, or number with --no-header)"
        )
        bg.add_argument("--date", required=True, help="the purchase date column")
        bg.add_argument("--amount", help="the purchase amount column (fits Gamma-Gamma spend too)")
        bg.add_argument(
            "--calibration-end", required=True, help="last day of the calibration period (YYYY-MM-DD)"
        )
        bg.add_argument("--period", choices=PERIODS, default="week", help="time unit (default week)")
        bg.add_argument(
            "--date-format", help="strftime format of the dates, e.g. %%Y%%m%%d (default: guessed)"
        )
        bg.add_argument(
            "--sep",
            choices=SEPARATORS,
            default="auto",
            help="column separator of a text file (default: detected)",
        )
        bg.add_argument(
            "--no-header", action="store_true", help="the file has no header: columns are 1, 2, ..."
        )
        bg.add_argument("--json", action="store_true", help="print JSON")
        sbg = models.add_parser("sbg", help="shifted-beta-geometric on a cohort's survivors per period")
        sbg.add_argument("--alive", required=True, help="customers still active after 0, 1, 2, ... periods")
        sbg.add_argument(
            "--project", type=int, default=5, help="periods to project beyond the data (default 5)"
        )
        sbg.add_argument("--json", action="store_true", help="print JSON")
        run = models.add_parser(
            "recompute", help="recompute CLV, tiers, recommendations and points (the daily run's part)"
        )
        run.add_argument("--as-of", help="the date to compute as of (default today)")
        run.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, model, **options):
        from . import _clv_work as work

        if model == "recompute":
            return work.recompute(self, **options)
        english = (
            translation.override("en") if apps.ready else contextlib.nullcontext()
        )  # its messages are English
        try:
            with english:
                result = work.bgnbd(self, **options) if model == "bgnbd" else work.sbg(self, **options)
        except work.CLVInputError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(work.text(result))
