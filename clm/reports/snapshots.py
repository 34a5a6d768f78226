"""Snapshots: the company-wide KPI tables and figures, computed after each daily run for the current
month, quarter and year and the two periods before each (so that the last complete period and the
one it compares with are stored too), and read back by `services.kpi_table` and `figures.read`
instead of recomputing a year of history per request.

A segment (an industry, an owner, a tier...) seen by a reader who sees every account is computed
live the first time a page shows it on a day, through the same functions, and stored for the day
(``keep_kpis``, ``keep_figure``): every later view of it by such a reader reads that. Its periods
already over are carried to the next days like the company's (a week at most), and the earlier
days' are deleted (a segment's are kept for the day they were shown on only); a new daily run of
the day drops the day's segment snapshots. A restricted user's scope is always computed live.

Reasons for "no data yet" and figures are stored in every language of the workspace, so a page
reads the snapshot in its reader's language (a segment's figure: in the languages it was read in)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation

from clm.core.events import Event, listen

from .catalogue import CATALOGUE
from .kpis.base import Result, Scope, Segment
from .models import Snapshot
from .periods import KINDS, Period

log = logging.getLogger(__name__)

KPIS = "kpis"
KPI_ACCOUNTS = "kpis:accounts"
ANY_LANGUAGE = "*"
FIGURE = "figure:"
CHINESE = re.compile("[\u4e00-\u9fff]")
KEEP_DAYS = 31  # as-of dates kept; older snapshots are deleted when a new one is taken
REUSE_DAYS = 7  # a period over is carried from day to day for a week, then computed afresh
PERIODS_BACK = 2  # besides the current period: the last complete one, and the one it compares with


@dataclass(frozen=True)
class Stored:
    """What a page says about a stored number: as of which date, computed when, and whether for a
    segment (when a page first showed it) rather than by the daily run."""

    as_of: dt.date
    computed_at: dt.datetime
    seconds: float
    segment: str = ""


def segment_key(segment: Segment) -> str:
    """The segment as the filter that names it ("industry=制造业&tier=key"; "" for the company)."""
    return urlencode(sorted(segment.as_query().items()))


def periods(as_of: dt.date) -> list[Period]:
    out = []
    for kind in KINDS:
        period = Period.of(kind, as_of)
        for _ in range(PERIODS_BACK + 1):
            out.append(period)
            period = period.previous()
    return out


def languages() -> list[str]:
    """The workspace's languages, Chinese first (see has_words)."""
    return sorted((code for code, _name in settings.LANGUAGES), key=lambda code: not code.startswith("zh"))


# ---------------------------------------------------------------- encoding


def encode(results: dict[str, dict[str, Result]]) -> tuple[dict, dict]:
    """{language: {key: Result}} → the figures ({key: value, inputs, how many accounts, the
    no-data reason per language}) and, apart, the accounts behind them ({key: ids and groups}):
    a page reads the first, a drill-down the second."""
    first, *_ = results.values()
    figures_, accounts = {}, {}
    for key, result in first.items():
        row = {
            "value": result.value, "numerator": result.numerator, "denominator": result.denominator,
            "accounts": len(result.account_ids), "breakdown": result.breakdown, "no_data": None,
        }  # fmt: skip
        if result.no_data is not None:
            row["no_data"] = {lang: by_key[key].no_data for lang, by_key in results.items()}
        figures_[key] = row
        accounts[key] = {"account_ids": list(result.account_ids), "groups": dict(result.groups)}
    return figures_, accounts


class StoredIds(Sequence):
    """The accounts behind a stored number: counted from the figures, read when first used."""

    def __init__(self, count: int, load: Callable[[], list]):
        self._count, self._load, self._ids = count, load, None

    def _all(self) -> list:
        if self._ids is None:
            self._ids = self._load()
        return self._ids

    def __len__(self):
        return self._count

    def __getitem__(self, index):
        return self._all()[index]

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other):
        return list(self) == list(other)

    def __repr__(self):
        return f"StoredIds({self._count})"


class StoredGroups(Mapping):
    """The accounts behind each part of a stored breakdown, read when first used."""

    def __init__(self, load: Callable[[], dict]):
        self._load, self._groups = load, None

    def _all(self) -> dict:
        if self._groups is None:
            self._groups = self._load()
        return self._groups

    def __getitem__(self, key):
        return self._all()[key]

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())

    def __eq__(self, other):
        return dict(self) == dict(other)


def decode(key: str, row: dict, accounts: Callable[[], dict], language: str | None = None) -> Result:
    reasons = row.get("no_data")
    no_data = None
    if reasons:
        language = language or translation.get_language() or ""
        no_data = reasons.get(language) or reasons.get(language.lower()) or next(iter(reasons.values()))
    return Result(
        value=row["value"], numerator=row["numerator"], denominator=row["denominator"],
        account_ids=StoredIds(row["accounts"], lambda: accounts()[key]["account_ids"]),
        breakdown=row["breakdown"], groups=StoredGroups(lambda: accounts()[key]["groups"]), no_data=no_data,
    )  # fmt: skip


# ---------------------------------------------------------------- taking


def take(as_of: dt.date, *, reuse: bool = False) -> list[Snapshot]:
    """Compute and store every company-wide KPI table and figure as of ``as_of``; replaces that
    date's snapshots, and deletes those older than the KEEP_DAYS latest dates. ``reuse``: a period
    that was already over when an earlier snapshot (computed at most REUSE_DAYS ago) was taken is
    carried over from it with its computing time, instead of computed again (the daily run's way:
    its figures do not move from one day to the next), except the one computed longest ago, which
    is computed afresh: each period over is recomputed every few days (six periods over, one a
    day), never more than REUSE_DAYS after it was, and no day computes them all."""
    from .figures import FIGURES

    reused = reusable(as_of) if reuse else {}
    first_language, *other_languages = languages()
    kinds = [KPIS, KPI_ACCOUNTS, *(FIGURE + key for key in FIGURES)]
    rows, carried, now = [], [], timezone.now()
    # the widest periods first: what they load (a year of health scores) serves the narrower ones
    todo = []
    for period in sorted(periods(as_of), key=lambda p: (p.start, -p.months)):
        if all((period.label, kind) in reused for kind in kinds):
            carried.append(period.label)
        else:
            todo.append(period)
    if carried and all(period.end >= as_of for period in todo):
        # no period over is computed today: the one computed longest ago is, so that the week's
        # recomputation of the periods over is spread over its days rather than all on one
        stalest = min(carried, key=lambda label: min(reused[(label, kind)].computed_at for kind in kinds))
        carried.remove(stalest)
        todo = sorted([*todo, Period.parse(stalest)], key=lambda p: (p.start, -p.months))
    # dated records read once from the first period's start for all of them
    scope = Scope(None, today=as_of, since=todo[0].start if todo else None)
    for period in todo:
        started = time.perf_counter()
        with translation.override(first_language):
            first = {kpi.key: kpi.compute(scope, period) for kpi in CATALOGUE}
        numbers, behind = encode(in_every_language(scope, period, first_language, first))
        seconds = time.perf_counter() - started
        rows.append(Snapshot(as_of=as_of, period=period.label, kind=KPIS, data=numbers, computed_at=now,
                             seconds=seconds))
        rows.append(Snapshot(as_of=as_of, period=period.label, kind=KPI_ACCOUNTS, data=behind, computed_at=now,
                             seconds=0.0))
        for key, compute in FIGURES.items():
            started = time.perf_counter()
            with translation.override(first_language):
                data = {first_language: compute(scope, period)}
            if has_words(data[first_language]):
                for language in other_languages:
                    with translation.override(language):
                        data[language] = compute(in_words(scope), period)
            else:
                data = {ANY_LANGUAGE: data[first_language]}  # a figure without words is stored once
            rows.append(Snapshot(as_of=as_of, period=period.label, kind=FIGURE + key, data=data,
                                 computed_at=now, seconds=time.perf_counter() - started))
    with transaction.atomic():
        Snapshot.objects.filter(as_of=as_of).delete()  # a segment's too: computed before this run
        if carried:
            rows += carry(reused, as_of, carried)
        Snapshot.objects.bulk_create([r for r in rows if r.pk is None], batch_size=20)
        # a segment's are read on their own day only: once carried, the earlier days' are not needed
        Snapshot.objects.filter(as_of__lt=as_of).exclude(segment="").delete()
        kept = list(Snapshot.objects.order_by("-as_of").values_list("as_of", flat=True).distinct()[:KEEP_DAYS])
        if len(kept) == KEEP_DAYS:
            Snapshot.objects.filter(as_of__lt=kept[-1]).delete()
    return rows


def in_every_language(scope: Scope, period: Period, language: str, results: dict[str, Result]) -> dict:
    """{language: {key: Result}} for every language of the workspace, from the KPI table computed
    in ``language``: only the reasons for "no data" are in words, so only the KPIs that have one
    are computed again in the other languages."""
    by_language = {language: results}
    for other_language in languages():
        if other_language.lower() == language.lower():
            continue
        other = in_words(scope)
        with translation.override(other_language):
            by_language[other_language] = {
                kpi.key: kpi.compute(other, period) if results[kpi.key].no_data is not None else results[kpi.key]
                for kpi in CATALOGUE
            }
    return by_language


def in_words(scope: Scope) -> Scope:
    """A scope for another language that shares what ``scope`` loaded (frames, tables) but not
    what it keeps in words (a KPI's reason for no data), which the other language says its way."""
    other = Scope(scope.user, scope.segment, scope.today, scope.since)
    other._memo = {key: value for key, value in scope._memo.items() if not isinstance(value, str)}
    for frame in ("changes", "mrr"):
        if frame in scope.__dict__:
            other.__dict__[frame] = scope.__dict__[frame]
    return other


def carry(reused: dict, as_of: dt.date, labels: list[str]) -> list[Snapshot]:
    """Copy the earlier snapshots of the periods ``labels`` to ``as_of`` in the database, without
    reading their JSON into Python (a year's KPI table holds every account behind each number):
    the company's, and the segments' computed within REUSE_DAYS too. Gives the company's."""
    table = Snapshot._meta.db_table
    source = next(iter(reused.values())).as_of
    placeholders = ", ".join(["%s"] * len(labels))
    fresh = timezone.now() - dt.timedelta(days=REUSE_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (as_of, period, kind, segment, data, computed_at, seconds) "  # noqa: S608 - names only
            f"SELECT %s, period, kind, segment, data, computed_at, seconds FROM {table} "
            f"WHERE as_of = %s AND period IN ({placeholders}) AND computed_at >= %s",
            [as_of, source, *labels, fresh],
        )
    return list(Snapshot.objects.filter(as_of=as_of, period__in=labels, segment="").defer("data"))


def reusable(as_of: dt.date) -> dict[tuple[str, str], Snapshot]:
    """The latest earlier day's snapshots of periods already over on that day, computed within
    REUSE_DAYS: {(period, kind): snapshot}."""
    fresh = timezone.now() - dt.timedelta(days=REUSE_DAYS)
    day = (Snapshot.objects.filter(as_of__lt=as_of, computed_at__gte=fresh, segment="")
           .order_by("-as_of").values_list("as_of", flat=True).first())
    if day is None:
        return {}
    over = {p.label for p in periods(as_of) if p.end < day}
    found = Snapshot.objects.filter(as_of=day, period__in=over, computed_at__gte=fresh, segment="").defer("data")
    return {(row.period, row.kind): row for row in found}


def has_words(data) -> bool:
    """Whether a figure computed in Chinese holds text in Chinese (then it is computed in every
    language); one without is stored once for all. The catalogue translates every string."""
    return CHINESE.search(json.dumps(data, ensure_ascii=False)) is not None


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
    take(as_of, reuse=True)
    log.info("snapshots as of %s taken in %.1f s", as_of, time.perf_counter() - started)
    notify_missed_targets(as_of)  # reads the snapshots just taken


# ---------------------------------------------------------------- reading


def _load(scope: Scope, kind: str, period: Period) -> Snapshot | None:
    """The stored snapshot the scope may read (readers who see every account), once per scope."""
    if not scope.sees_all:
        return None

    def load():
        return Snapshot.objects.filter(as_of=scope.today, period=period.label, kind=kind,
                                       segment=segment_key(scope.segment)).first()

    return scope.memo(("snapshot", kind, period.label), load)


def _keeps(scope: Scope) -> bool:
    """Whether what a page computed live for the scope is stored for later views: a segment of
    today's, read by someone who sees every account (the company's own are the daily run's)."""
    return scope.sees_all and bool(scope.segment) and scope.today == timezone.localdate()


def kpi_results(scope: Scope, period: Period) -> dict[str, Result] | None:
    """The stored KPI results of ``period`` for ``scope``, or None (compute them live)."""
    found = _load(scope, KPIS, period)
    if found is None:
        return None

    def accounts() -> dict:
        behind = _load(scope, KPI_ACCOUNTS, period)
        return behind.data if behind is not None else {}

    return scope.memo(("kpi_results", period.label, translation.get_language()),
                      lambda: {key: decode(key, row, accounts) for key, row in found.data.items()})


def figure(scope: Scope, key: str, period: Period) -> dict | None:
    """The stored figure in the reader's language, or None (a segment's not yet read in it)."""
    found = _load(scope, FIGURE + key, period)
    if found is None:
        return None
    language = translation.get_language() or ""
    data = found.data
    return data.get(ANY_LANGUAGE) or data.get(language) or data.get(language.lower())


def stored(scope: Scope, period: Period) -> Stored | None:
    """As of when and computed when the KPI table of ``period`` the scope reads was stored."""
    found = _load(scope, KPIS, period)
    return None if found is None else Stored(found.as_of, found.computed_at, found.seconds, found.segment)


# ---------------------------------------------------------------- a segment's, kept when first read


def keep_kpis(scope: Scope, period: Period, results: dict[str, Result], seconds: float) -> None:
    """Store the segment's KPI table of ``period`` that a page has just computed live (every KPI
    of the catalogue, in the reader's language), with the reasons for "no data" in the other
    languages, unless one is stored already."""
    if not _keeps(scope) or _load(scope, KPIS, period) is not None:
        return
    numbers, behind = encode(in_every_language(scope, period, translation.get_language() or languages()[0], results))
    now, key = timezone.now(), segment_key(scope.segment)
    Snapshot.objects.bulk_create([
        Snapshot(as_of=scope.today, period=period.label, kind=KPIS, segment=key, data=numbers, computed_at=now,
                 seconds=seconds),
        Snapshot(as_of=scope.today, period=period.label, kind=KPI_ACCOUNTS, segment=key, data=behind,
                 computed_at=now, seconds=0.0),
    ], ignore_conflicts=True)  # another request stored it first: the same numbers


def keep_figure(scope: Scope, key: str, period: Period, data: dict, seconds: float) -> None:
    """Store the segment's figure ``key`` that a page has just computed live, in the reader's
    language (for every language when computed in Chinese without a word of it: see has_words)."""
    if not _keeps(scope):
        return
    language = translation.get_language() or languages()[0]
    entry = ANY_LANGUAGE if language.lower().startswith("zh") and not has_words(data) else language
    found = _load(scope, FIGURE + key, period)
    if found is not None:  # stored in another language: add this one
        found.data[entry] = data
        Snapshot.objects.filter(pk=found.pk).update(data=found.data)
        return
    Snapshot.objects.bulk_create([Snapshot(  # another request may have stored it first: the same figure
        as_of=scope.today, period=period.label, kind=FIGURE + key, segment=segment_key(scope.segment),
        data={entry: data}, seconds=seconds)], ignore_conflicts=True)
