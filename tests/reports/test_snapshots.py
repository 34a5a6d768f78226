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


def test_a_figure_without_words_is_stored_once_for_both_languages(world):
    snapshots.take(TODAY)
    renewals = Snapshot.objects.get(as_of=TODAY, period="2026-11", kind=snapshots.FIGURE + "renewals")
    assert list(renewals.data) == [snapshots.ANY_LANGUAGE]
    assert snapshots.has_words({"label": "健康"}) and not snapshots.has_words({"label": "Healthy", "n": 3})
