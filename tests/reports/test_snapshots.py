"""Snapshots: the daily run stores the company-wide KPI tables and figures, pages read them back,
and what is stored is what the live computation gives (one code path for each number)."""

import datetime as dt
import re

import pytest
from django.utils import timezone, translation

from clm.core import events
from clm.reports import figures, snapshots
from clm.reports.catalogue import CATALOGUE
from clm.reports.kpis.base import Scope, Segment
from clm.reports.models import Snapshot
from clm.reports.periods import Period
from clm.reports.services import kpi_accounts, kpi_table

from .conftest import NOV, TODAY

MONTH = Period.of("month", NOV)


def as_data(result):
    return (result.value, result.numerator, result.denominator, result.account_ids, result.breakdown,
            result.groups, result.no_data)


def test_it_stores_the_current_and_two_earlier_periods_of_each_kind():
    labels = [p.label for p in snapshots.periods(TODAY)]
    assert labels == ["2026-12", "2026-11", "2026-10", "2026-Q4", "2026-Q3", "2026-Q2", "2026", "2025", "2024"]


def test_the_snapshot_gives_the_live_figures(world):
    snapshots.take(TODAY)
    for period in (MONTH, Period.parse("2026-Q4"), Period.parse("2026")):
        stored = kpi_table(None, period, today=TODAY)
        live = kpi_table(None, period, today=TODAY, stored=False)
        assert snapshots.stored(Scope(None, today=TODAY), period) is not None
        for s, v in zip(stored, live, strict=True):
            assert as_data(s.result) == as_data(v.result), s.kpi.key
            assert as_data(s.previous) == as_data(v.previous), s.kpi.key
    for key in figures.FIGURES:
        assert figures.read(key, Scope(None, today=TODAY), MONTH) == figures.read(
            key, Scope(None, today=TODAY), MONTH, stored=False), key


def test_a_company_wide_reader_reads_the_snapshot_and_a_segment_computes_live(world, owner, team_visibility):
    snapshots.take(TODAY)
    row = Snapshot.objects.get(as_of=TODAY, period="2026-11", kind=snapshots.KPIS)
    row.data["customers"]["value"] = 999.0  # what only a read of the stored row can show
    row.save()
    assert _value(kpi_table(None, MONTH, today=TODAY), "customers") == 999.0
    assert _value(kpi_table(None, MONTH, Segment(industry="制造"), today=TODAY), "customers") == 2
    assert _value(kpi_table(owner, MONTH, today=TODAY), "customers") == 2  # A and D, a rep's own
    assert _value(kpi_table(None, MONTH, today=TODAY + dt.timedelta(days=1)), "customers") == 5  # no snapshot that day


def test_the_drill_down_reads_the_accounts_stored_behind_a_number(world):
    snapshots.take(TODAY)
    accounts, result = kpi_accounts(None, "logo_churn", MONTH, today=TODAY)
    assert [a.name for a in accounts] == ["C"] and result.numerator == 1


def test_reasons_for_no_data_are_stored_in_both_languages(world):
    snapshots.take(TODAY)
    read = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            live = {r.kpi.key: r.result.no_data for r in kpi_table(None, MONTH, today=TODAY, stored=False)}
            read[language] = {r.kpi.key: r.result.no_data for r in kpi_table(None, MONTH, today=TODAY)}
        assert read[language] == live
    reasons = [(en, read["zh-hans"][key]) for key, en in read["en"].items() if en]
    chinese = re.compile(r"[\u4e00-\u9fff]")
    assert reasons and all(not chinese.search(en) and chinese.search(zh) for en, zh in reasons)


def test_taking_a_date_again_replaces_its_snapshots(world):
    first = snapshots.take(TODAY)
    again = snapshots.take(TODAY)
    assert Snapshot.objects.filter(as_of=TODAY).count() == len(again) == len(first)
    assert len(first) == len(snapshots.periods(TODAY)) * (2 + len(figures.FIGURES))
    assert all(row.seconds >= 0 for row in again)


def test_old_dates_are_pruned(db):
    for k in range(snapshots.KEEP_DAYS + 2):
        Snapshot.objects.create(as_of=TODAY - dt.timedelta(days=k + 1), period="2026-11", kind=snapshots.KPIS)
    snapshots.take(TODAY)
    assert Snapshot.objects.values("as_of").distinct().count() == snapshots.KEEP_DAYS


def test_todays_daily_run_takes_the_snapshots_and_a_replayed_day_does_not(db, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        events.emit("lifecycle.run_finished", run_id=1, as_of=(today - dt.timedelta(days=30)).isoformat())
    assert not Snapshot.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        events.emit("lifecycle.run_finished", run_id=2, as_of=today.isoformat())
    assert set(Snapshot.objects.values_list("as_of", flat=True)) == {today}
    assert Snapshot.objects.filter(kind=snapshots.KPIS).count() == 9


@pytest.mark.parametrize("command_as_of", [None, "2026-12-07"])
def test_the_command_stores_a_days_snapshots(world, command_as_of, capsys):
    from django.core.management import call_command

    call_command("report", "snapshot", *(["--as-of", command_as_of] if command_as_of else []))
    day = dt.date.fromisoformat(command_as_of) if command_as_of else timezone.localdate()
    assert Snapshot.objects.filter(as_of=day, kind=snapshots.KPIS).count() == 9
    assert "snapshots as of" in capsys.readouterr().out


def _value(rows, key):
    return next(r.result.value for r in rows if r.kpi.key == key)


def test_every_kpi_of_the_catalogue_is_stored(world):
    snapshots.take(TODAY)
    stored = Snapshot.objects.get(as_of=TODAY, period="2026-11", kind=snapshots.KPIS).data
    assert set(stored) == {k.key for k in CATALOGUE}


def test_the_daily_run_carries_over_periods_already_over_and_computes_the_running_ones(world):
    yesterday = TODAY - dt.timedelta(days=1)
    snapshots.take(yesterday)
    Snapshot.objects.filter(as_of=yesterday, period="2026-11", kind=snapshots.KPIS).update(
        data={**Snapshot.objects.get(as_of=yesterday, period="2026-11", kind=snapshots.KPIS).data, "marker": {}})
    snapshots.take(TODAY, reuse=True)
    november = Snapshot.objects.get(as_of=TODAY, period="2026-11", kind=snapshots.KPIS)
    before = Snapshot.objects.get(as_of=yesterday, period="2026-11", kind=snapshots.KPIS)
    assert "marker" in november.data and november.computed_at == before.computed_at  # carried, as computed then
    december = Snapshot.objects.get(as_of=TODAY, period="2026-12", kind=snapshots.KPIS)
    assert december.computed_at > before.computed_at  # still running: computed again
    snapshots.take(TODAY)  # without reuse (the command): everything afresh
    assert "marker" not in Snapshot.objects.get(as_of=TODAY, period="2026-11", kind=snapshots.KPIS).data


def test_each_day_recomputes_one_period_over_so_that_no_day_recomputes_them_all(world):
    first = dt.date(2026, 12, 1)
    snapshots.take(first)
    over = {p.label for p in snapshots.periods(first) if p.end < first}
    assert len(over) == 6
    refreshed = []
    for k in range(1, 7):
        day = first + dt.timedelta(days=k)
        snapshots.take(day, reuse=True)
        today = Snapshot.objects.filter(as_of=day, kind=snapshots.KPIS, segment="")
        newest = max(row.computed_at for row in today)
        refreshed.append({row.period for row in today if row.computed_at == newest} & over)
    assert all(len(periods) == 1 for periods in refreshed)  # one period over a day, besides the running ones
    assert set().union(*refreshed) == over  # in six days, every one
    assert refreshed[0] == {"2024"}  # the widest and earliest first, when all were computed together


def test_a_figure_without_words_is_stored_once_for_both_languages(world):
    snapshots.take(TODAY)
    renewals = Snapshot.objects.get(as_of=TODAY, period="2026-11", kind=snapshots.FIGURE + "renewals")
    assert list(renewals.data) == [snapshots.ANY_LANGUAGE]
    assert snapshots.has_words({"label": "健康"}) and not snapshots.has_words({"label": "Healthy", "n": 3})


# ---------------------------------------------------------------- a segment's, kept when first shown

SEGMENT = Segment(industry="制造")


@pytest.fixture
def on_the_worlds_day(monkeypatch):
    """The readers' today is the world's: what a page shows of today is what is kept."""
    monkeypatch.setattr(timezone, "localdate", lambda *args: TODAY)


def _segment_rows(day=TODAY):
    return Snapshot.objects.filter(as_of=day, segment=snapshots.segment_key(SEGMENT))


def test_a_segment_is_computed_live_once_then_read_from_what_was_kept(world, owner, team_visibility,
                                                                      on_the_worlds_day):
    live = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            live[language] = kpi_table(None, MONTH, SEGMENT, today=TODAY, stored=False)
    assert not Snapshot.objects.exists()
    first = kpi_table(None, MONTH, SEGMENT, today=TODAY)  # computed live, and kept
    assert set(_segment_rows().values_list("period", "kind")) == {
        ("2026-11", snapshots.KPIS), ("2026-11", snapshots.KPI_ACCOUNTS),
        ("2026-10", snapshots.KPIS), ("2026-10", snapshots.KPI_ACCOUNTS)}
    assert snapshots.stored(Scope(None, SEGMENT, TODAY), MONTH).segment == "industry=%E5%88%B6%E9%80%A0"
    for language in ("en", "zh-hans"):  # what is read back is what was computed, reasons in each language
        with translation.override(language):
            again = kpi_table(None, MONTH, SEGMENT, today=TODAY)
        for kept, computed in zip(again, live[language], strict=True):
            assert as_data(kept.result) == as_data(computed.result), kept.kpi.key
            assert as_data(kept.previous) == as_data(computed.previous), kept.kpi.key
    assert _value(first, "customers") == 2
    row = _segment_rows().get(period="2026-11", kind=snapshots.KPIS)
    row.data["customers"]["value"] = 999.0  # what only a read of the kept row can show
    row.save()
    assert _value(kpi_table(None, MONTH, SEGMENT, today=TODAY), "customers") == 999.0
    accounts, _result = kpi_accounts(None, "customers", MONTH, SEGMENT, today=TODAY)  # the drill-down: the same
    assert sorted(a.name for a in accounts) == ["A", "B"]
    # a restricted reader sees part of the segment: computed live for them, never read nor kept
    assert _value(kpi_table(owner, MONTH, SEGMENT, today=TODAY), "customers") == 1
    assert _segment_rows().count() == 4 and not Snapshot.objects.exclude(segment=snapshots.segment_key(SEGMENT)).exists()
    # another day's view (an API reader's as-of) is computed, not kept
    kpi_table(None, MONTH, SEGMENT, today=TODAY - dt.timedelta(days=1))
    assert not _segment_rows(TODAY - dt.timedelta(days=1)).exists()


def test_a_segments_figure_is_kept_in_each_language_it_is_read_in(world, on_the_worlds_day):
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for key in figures.FIGURES:
                live = figures.read(key, Scope(None, SEGMENT, TODAY), MONTH, stored=False)
                assert figures.read(key, Scope(None, SEGMENT, TODAY), MONTH) == live, key  # computed, kept
                assert figures.read(key, Scope(None, SEGMENT, TODAY), MONTH) == live, key  # read back
    for row in _segment_rows().filter(kind__startswith=snapshots.FIGURE):
        worded = any(snapshots.has_words(data) for data in row.data.values())
        assert sorted(row.data) == (["en", "zh-hans"] if worded else ["*", "en"]), row.kind
    assert _segment_rows().filter(kind__startswith=snapshots.FIGURE).count() == len(figures.FIGURES)


def test_the_next_days_run_carries_a_segments_periods_over_and_a_new_run_drops_the_days(world, monkeypatch):
    yesterday = TODAY - dt.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *args: yesterday)
    snapshots.take(yesterday)
    kpi_table(None, MONTH, SEGMENT, today=yesterday)
    kpi_table(None, Period.of("month", yesterday), SEGMENT, today=yesterday)  # December, still running
    figures.read("renewals", Scope(None, SEGMENT, yesterday), MONTH)
    monkeypatch.setattr(timezone, "localdate", lambda *args: TODAY)
    computed = _segment_rows(yesterday).get(period="2026-11", kind=snapshots.KPIS).computed_at
    snapshots.take(TODAY, reuse=True)
    carried = set(_segment_rows().values_list("period", "kind"))
    assert {("2026-11", snapshots.KPIS), ("2026-10", snapshots.KPIS), ("2026-11", "figure:renewals")} <= carried
    assert not any(period == "2026-12" for period, _kind in carried)  # running: computed again when shown
    assert _segment_rows().get(period="2026-11", kind=snapshots.KPIS).computed_at == computed
    assert not _segment_rows(yesterday).exists()  # carried: yesterday's are not read again
    assert Snapshot.objects.filter(as_of=yesterday, segment="").exists()  # the company's are kept
    snapshots.take(TODAY)  # a new run of the day: what was kept of the day is dropped
    assert not _segment_rows().exists()
