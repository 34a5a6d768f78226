"""Snapshots: the company-wide KPI tables and figures, computed after each daily run for the current
month, quarter and year and the two periods before each (so that the last complete period and the
one it compares with are stored too), and read back by `services.kpi_table` and `figures.read`
instead of recomputing a year of history per request. A segment or a restricted user's scope is
computed live, through the same functions: one code path for each number.

Reasons for "no data yet" and figures are stored in every language of the workspace, so a page
reads the snapshot in its reader's language."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from clm.core.events import Event, listen

from .catalogue import CATALOGUE
from .kpis.base import Result, Scope
from .models import Snapshot
from .periods import KINDS, Period

log = logging.getLogger(__name__)

KPIS = "kpis"
FIGURE = "figure:"
KEEP_DAYS = 31  # as-of dates kept; older snapshots are deleted when a new one is taken
PERIODS_BACK = 2  # besides the current period: the last complete one, and the one it compares with


@dataclass(frozen=True)
class Stored:
    """What a page says about a stored number: as of which date, computed when."""

    as_of: dt.date
    computed_at: dt.datetime
    seconds: float


def periods(as_of: dt.date) -> list[Period]:
    out = []
    for kind in KINDS:
        period = Period.of(kind, as_of)
        for _ in range(PERIODS_BACK + 1):
            out.append(period)
            period = period.previous()
    return out


def languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


# ---------------------------------------------------------------- encoding


def encode(results: dict[str, dict[str, Result]]) -> dict:
    """{language: {key: Result}} → {key: Result as JSON, its no-data reason per language}."""
    first, *_ = results.values()
    out = {}
    for key, result in first.items():
        row = {
            "value": result.value, "numerator": result.numerator, "denominator": result.denominator,
            "account_ids": result.account_ids, "breakdown": result.breakdown, "groups": result.groups,
            "no_data": None,
        }  # fmt: skip
        if result.no_data is not None:
            row["no_data"] = {lang: by_key[key].no_data for lang, by_key in results.items()}
        out[key] = row
    return out


def decode(row: dict, language: str | None = None) -> Result:
    reasons = row.get("no_data")
    no_data = None
    if reasons:
        language = language or translation.get_language() or ""
        no_data = reasons.get(language) or reasons.get(language.lower()) or next(iter(reasons.values()))
    return Result(
        value=row["value"], numerator=row["numerator"], denominator=row["denominator"],
        account_ids=row["account_ids"], breakdown=row["breakdown"], groups=row["groups"], no_data=no_data,
    )  # fmt: skip


# ---------------------------------------------------------------- taking


def take(as_of: dt.date) -> list[Snapshot]:
    """Compute and store every company-wide KPI table and figure as of ``as_of``; replaces that
    date's snapshots, and deletes those older than the KEEP_DAYS latest dates."""
    from .figures import FIGURES

    # one scope per language: a scope keeps what it computed (frames, and some results with their
    # reasons in words), so the second language recomputes only what has words in it
    scopes = {language: Scope(None, today=as_of) for language in languages()}
    rows = []
    for period in periods(as_of):
        started = time.perf_counter()
        by_language: dict[str, dict[str, Result]] = {}
        for language, scope in scopes.items():
            with translation.override(language):
                if not by_language:
                    by_language[language] = {kpi.key: kpi.compute(scope, period) for kpi in CATALOGUE}
                else:  # only the reasons are in words: recompute the KPIs that have none
                    first = next(iter(by_language.values()))
                    by_language[language] = {
                        kpi.key: kpi.compute(scope, period) if first[kpi.key].no_data is not None else first[kpi.key]
                        for kpi in CATALOGUE
                    }
        rows.append(Snapshot(as_of=as_of, period=period.label, kind=KPIS, data=encode(by_language),
                             seconds=time.perf_counter() - started))
        for key, compute in FIGURES.items():
            started = time.perf_counter()
            data = {}
            for language, scope in scopes.items():
                with translation.override(language):
                    data[language] = compute(scope, period)
            rows.append(Snapshot(as_of=as_of, period=period.label, kind=FIGURE + key, data=data,
                                 seconds=time.perf_counter() - started))
    now = timezone.now()
    for row in rows:
        row.computed_at = now
    with transaction.atomic():
        Snapshot.objects.filter(as_of=as_of).delete()
        Snapshot.objects.bulk_create(rows, batch_size=50)
        kept = list(Snapshot.objects.order_by("-as_of").values_list("as_of", flat=True).distinct()[:KEEP_DAYS])
        if len(kept) == KEEP_DAYS:
            Snapshot.objects.filter(as_of__lt=kept[-1]).delete()
    return rows


@listen("lifecycle.run_finished")
def after_daily_run(event: Event) -> None:
    """Today's run (scheduled, `clm run`, or asked for through the API) stores today's snapshots.
    A run replaying a past date (the demo's history, a backfill) does not: pages read today's;
    `clm report snapshot --as-of DATE` stores any date's."""
    as_of = dt.date.fromisoformat(event.payload["as_of"])
    if as_of < timezone.localdate():
        return
    from .notify import notify_missed_targets

    started = time.perf_counter()
    take(as_of)
    log.info("snapshots as of %s taken in %.1f s", as_of, time.perf_counter() - started)
    notify_missed_targets(as_of)  # reads the snapshots just taken


# ---------------------------------------------------------------- reading


def _load(scope: Scope, kind: str, period: Period) -> Snapshot | None:
    """The stored snapshot the scope may read (company-wide scopes only), once per scope."""
    if not scope.company_wide:
        return None

    def load():
        return Snapshot.objects.filter(as_of=scope.today, period=period.label, kind=kind).first()

    return scope.memo(("snapshot", kind, period.label), load)


def kpi_results(scope: Scope, period: Period) -> dict[str, Result] | None:
    """The stored KPI results of ``period`` for ``scope``, or None (compute them live)."""
    found = _load(scope, KPIS, period)
    if found is None:
        return None
    return scope.memo(("kpi_results", period.label, translation.get_language()),
                      lambda: {key: decode(row) for key, row in found.data.items()})


def figure(scope: Scope, key: str, period: Period) -> dict | None:
    found = _load(scope, FIGURE + key, period)
    if found is None:
        return None
    language = translation.get_language() or ""
    return found.data.get(language) or found.data.get(language.lower()) or next(iter(found.data.values()), None)


def stored(scope: Scope, period: Period) -> Stored | None:
    """As of when and computed when the KPI table of ``period`` the scope reads was stored."""
    found = _load(scope, KPIS, period)
    return None if found is None else Stored(found.as_of, found.computed_at, found.seconds)
