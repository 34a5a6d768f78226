"""Working days by the holiday calendar, checked against the State Council's notices."""

import datetime as dt

import pytest

from clm.analytics.calendar import DAY_OFF, WORKDAY, default_calendar, working_days

D = dt.date


def calendar_lists():
    rows = default_calendar()
    return [d for d, kind, _ in rows if kind == DAY_OFF], [d for d, kind, _ in rows if kind == WORKDAY]


def test_national_day_2024_leaves_twelve_working_days_in_three_weeks():
    """国办发明电〔2023〕7号: 国庆 10-01 – 10-07 off, Sunday 09-29 and Saturday 10-12 worked.
    2024-09-23 – 10-13: Mon–Fri 09-23 – 27 (5), Sun 09-29 (make-up), Mon 09-30, Tue–Fri 10-08 – 11
    (4), Sat 10-12 (make-up): 12."""
    off, work = calendar_lists()
    days = working_days(D(2024, 9, 23), D(2024, 10, 13), off, work)
    assert len(days) == 12
    assert D(2024, 9, 29) in days and D(2024, 10, 12) in days
    assert not any(D(2024, 10, 1) <= d <= D(2024, 10, 7) for d in days)


def test_the_2025_calendar_has_28_days_off_and_5_make_up_days():
    """国办发明电〔2024〕12号: 元旦 1 + 春节 8 + 清明 3 + 劳动节 5 + 端午 3 + 国庆中秋 8 = 28 days off;
    worked: 01-26, 02-08, 04-27, 09-28, 10-11."""
    rows = [(d, kind) for d, kind, _ in default_calendar() if d.year == 2025]
    assert sum(kind == DAY_OFF for _, kind in rows) == 28
    assert sorted(d for d, kind in rows if kind == WORKDAY) == [
        D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11),
    ]  # fmt: skip
    assert len({d for d, _, _ in default_calendar()}) == len(default_calendar())  # no day twice


def test_without_a_calendar_working_days_are_mondays_to_fridays():
    days = working_days(D(2026, 12, 1), D(2026, 12, 31))
    assert len(days) == 23 and all(d.weekday() < 5 for d in days)


@pytest.mark.parametrize("first, last", [(D(2026, 1, 5), D(2026, 1, 4)), (D(2026, 1, 3), D(2026, 1, 3))])
def test_an_empty_span_or_a_weekend_day_has_no_working_day(first, last):
    assert working_days(first, last) == []
