"""Cell text to typed values: dates, amounts, numbers, yes/no and choices, with a reason for
every cell that does not parse (pure pandas, no database)."""

import datetime as dt

import pandas as pd
import pytest

from clm.core import parsers


def cells(*values):
    return parsers.clean_text(pd.Series(list(values), dtype=object))


@pytest.mark.parametrize(
    "text",
    ["2024-03-01", "2024/3/1", "2024.3.1", "20240301", "2024年3月1日", "２０２４年３月１日", "45352", "3/1/2024",
     "2024-03-01 10:30:00", "2024-03-01T10:30:00Z", " 2024-03-01 "],
)
def test_it_reads_the_date_formats_of_chinese_and_english_exports(text):
    values, errors = parsers.parse_date(cells(text))
    assert errors[0] == ""
    assert values[0].date() == dt.date(2024, 3, 1)


def test_a_first_number_over_twelve_means_day_first():
    values, _ = parsers.parse_date(cells("13/1/2024", "1/13/2024"))
    assert [v.date() for v in values] == [dt.date(2024, 1, 13), dt.date(2024, 1, 13)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("2024-02-30", "is not a valid date (no such day)"), ("soon", "is not a date"), ("2024", "is not a date"),
     ("1234", "is not a date")],
)
def test_it_refuses_what_is_not_a_date(text, reason):
    values, errors = parsers.parse_date(cells(text))
    assert pd.isna(values[0])
    assert errors[0].startswith(reason)


def test_empty_cells_are_missing_not_errors():
    values, errors = parsers.parse_date(cells("", "   "))
    assert values.isna().all() and (errors == "").all()


def test_datetimes_without_an_offset_are_in_the_workspace_time_zone():
    values, errors = parsers.parse_datetime(
        cells("2024-03-01 10:00", "2024-03-01T10:00:00Z", "2024-03-01 10:00:00+08:00", "3/1/2024 1:05 PM",
              "2024年3月1日 10:00", "45352.5"),
        "Asia/Shanghai",
    )
    assert (errors == "").all()
    utc = [v.strftime("%Y-%m-%d %H:%M") for v in values]
    assert utc == ["2024-03-01 02:00", "2024-03-01 10:00", "2024-03-01 02:00", "2024-03-01 05:05",
                   "2024-03-01 02:00", "2024-03-01 04:00"]


@pytest.mark.parametrize(
    ("cells_", "utc"),
    [  # a whole column parsed at once: all without an offset, all with the same one, all in UTC
        (("2024-03-01 10:00", "2024-03-01T23:30:15.5"), ["2024-03-01 02:00:00.0", "2024-03-01 15:30:15.5"]),
        (("2024-03-01 10:00:00+08:00", "2024-03-02T01:00:00+08:00"), ["2024-03-01 02:00:00.0", "2024-03-01 17:00:00.0"]),
        (("2024-03-01T10:00:00Z", "2024-03-01 10:00:00z"), ["2024-03-01 10:00:00.0", "2024-03-01 10:00:00.0"]),
    ],
)
def test_a_column_of_alike_datetimes_reads_the_same_as_a_mixed_one(cells_, utc):
    values, errors = parsers.parse_datetime(cells(*cells_), "Asia/Shanghai")
    assert (errors == "").all()
    assert [v.strftime("%Y-%m-%d %H:%M:%S.%f")[:21] for v in values] == utc
    mixed, _ = parsers.parse_datetime(cells(*cells_, "2024-03-01T10:00:00-05:00"), "Asia/Shanghai")
    assert mixed.iloc[:2].tolist() == values.tolist()


def test_a_local_time_that_a_daylight_saving_change_skips_or_repeats_is_refused_by_name():
    values, errors = parsers.parse_datetime(
        cells("2024-03-31 02:30", "2024/10/27 02:30:00", "2024-03-31 02:30+01:00", "2024-03-31 03:30"),
        "Europe/Berlin",
    )
    assert errors.tolist() == [
        "'2024-03-31 02:30' does not exist in Europe/Berlin (the clocks skip that hour for daylight "
        "saving time): add the UTC offset",
        "'2024/10/27 02:30:00' occurs twice in Europe/Berlin (the clocks go back an hour for daylight "
        "saving time): add the UTC offset",
        "",
        "",
    ]
    assert values.isna().tolist() == [True, True, False, False]
    assert values.iloc[2] == values.iloc[3] == pd.Timestamp("2024-03-31 01:30", tz="UTC")


def test_months_are_their_first_day():
    values, errors = parsers.parse_month(cells("2024-03", "2024年3月", "2024/3", "2024-03-17"))
    assert (errors == "").all()
    assert {v.date() for v in values} == {dt.date(2024, 3, 1)}


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1234.5", 1234.5), ("¥1,234.50", 1234.5), ("￥1,234.50", 1234.5), ("1,234.50", 1234.5),
        ("1.234,50 €", 1234.5), ("$1,234", 1234.0), ("(1,234.00)", -1234.0), ("-1,234.00", -1234.0),
        ("12.5万", 125000.0), ("12.5万元", 125000.0), ("1.5亿", 150_000_000.0), ("RMB 800", 800.0),
        ("1,234", 1234.0), ("1,234,567", 1234567.0), ("1.234.567", 1234567.0), ("12,5", 12.5),
        ("1.234", 1.234), ("１，２３４．５", 1234.5), ("1 234,50", 1234.5), ("1e3", 1000.0), ("CNY 1,000", 1000.0),
    ],
)
def test_it_reads_amounts_by_the_documented_separator_rules(text, number):
    values, errors = parsers.parse_number(cells(text))
    assert errors[0] == ""
    assert values[0] == pytest.approx(number)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("1,2345", "has an ambiguous comma"), ("12 apples", "is not a number"), ("1.2.3,4,5", "is not a number")],
)
def test_it_refuses_amounts_it_cannot_read_unambiguously(text, reason):
    values, errors = parsers.parse_number(cells(text))
    assert pd.isna(values[0])
    assert errors[0].startswith(reason)


def test_decimals_are_rounded_to_the_field_and_checked_against_its_size_and_minimum():
    values, errors = parsers.parse_decimal(cells("1.005", "1e15", "-3"), decimal_places=2, max_digits=14, minimum=0)
    assert values[0] == pytest.approx(1.0, abs=0.01)
    assert errors[1].startswith("is too large")
    assert errors[2] == "must be at least 0"


def test_integers_must_be_whole_and_in_range():
    values, errors = parsers.parse_int(cells("1,200", "3.5", "-1", "12"), minimum=0)
    assert values[0] == 1200 and values[3] == 12
    assert list(errors[1:3]) == ["is not a whole number", "must be at least 0"]


def test_yes_and_no_in_english_and_chinese():
    values, errors = parsers.parse_bool(cells("是", "否", "Yes", "n", "TRUE", "0", "Y", "maybe"))
    assert values[:7].tolist() == [True, False, True, False, True, False, True]
    assert errors[7].startswith("is not yes/no")


def test_choices_by_value_label_or_alias_regardless_of_case_and_width():
    lookup = {"decisionmaker": "decision_maker", "决策者": "decision_maker"}
    values, errors = parsers.parse_choice(cells("决策者", "Decision Maker", "DECISION_MAKER", "boss"), lookup, "decision_maker")
    assert values[:3].tolist() == ["decision_maker"] * 3
    assert errors[3] == "is not one of the allowed values: decision_maker"


def test_json_objects_and_lists():
    values, errors = parsers.parse_json_object(cells('{"b": 1, "a": "中"}', "[1]", "{bad"))
    assert values[0] == '{"a": "中", "b": 1}'
    assert errors[1].startswith("is not a JSON object") and errors[2] == "is not JSON"
    assert parsers.parse_list(cells("效率低；成本高、协同难"))[0][0] == '["效率低", "成本高", "协同难"]'
