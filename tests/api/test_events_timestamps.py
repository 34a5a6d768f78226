"""The event endpoint reads the common shape of ISO 8601 in numpy (iso_common) and leaves every
other text to pandas: for any text, the result must be what pandas alone reads. A local time that
a daylight-saving change skips or repeats is refused, by the API as by imports."""

import numpy as np
import pandas as pd
import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.utils import translation
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from clm.core.parsers import _has_offset, iso_common, parse_datetime
from clm.customers.models import Account
from clm.usage.ingest import check_events
from clm.usage.ingest.checks import Batch


def two(low=0, high=99):
    return st.integers(low, high).map(lambda v: f"{v:02d}")


iso_like = st.builds(
    lambda y, mo, d, sep, h, mi, s, fraction, zone: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{fraction}{zone}",
    # years pandas can hold in nanoseconds: past them, whether pandas reads a text depends on the
    # others read with it (one with nanoseconds makes it use them for all); see the test below
    st.integers(1678, 2261).map(str) | st.sampled_from(["1969", "1970", "2024", "2200", "2201"]),
    two(0, 13),
    two(0, 32),
    st.sampled_from(["T", " ", "t", "_"]),
    two(0, 25),
    two(0, 61),
    two(0, 61),
    st.just("") | st.text("0123456789", max_size=11).map(lambda f: "." + f),
    st.sampled_from(["", "Z", "z", "+", "-", "+0800", "+08", "Z "])
    | st.builds(lambda sign, h, m: f"{sign}{h}:{m}", st.sampled_from("+-"), two(0, 25), two(0, 61)),
)
texts = st.lists(
    iso_like | st.text(max_size=40) | st.sampled_from(["", "now", "today"]), min_size=1, max_size=8
)


def pandas_reading(text: list[str]) -> pd.Series:
    """The reference: UTC timestamps as pandas alone reads them (NaT where it cannot), a text
    without an offset in the workspace's time zone, none of a skipped or repeated hour."""
    stamps = pd.to_datetime(pd.Series(text, dtype=object), format="ISO8601", utc=True, errors="coerce")
    stamps = stamps.dt.floor("us").dt.as_unit("us")
    local = ~np.array([_has_offset(t) for t in text], dtype=bool)
    if local.any():
        wall = stamps[local].dt.tz_convert(None)
        zone = django_settings.TIME_ZONE
        stamps[local] = wall.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return stamps


@settings(max_examples=1000, deadline=None)
@given(texts)
@example(["2024-02-29T23:59:59.9999999+14:00", "2023-02-29T10:00:00Z", "2024-03-01 10:00:00-00:00"])
@example(["1970-01-01T00:00:00Z", "2200-12-31T23:59:59.123456789-14:00", "2024-10-27T02:30:00"])
def test_the_common_shape_is_read_as_pandas_reads_it(text):
    micros, common, aware = iso_common(text)
    expected = pandas_reading(text)
    for i in np.flatnonzero(common & aware):
        assert expected.iloc[i] == pd.Timestamp(int(micros[i]), unit="us", tz="UTC"), text[i]
    for i in np.flatnonzero(common & ~aware):
        wall = pd.to_datetime(pd.Series([text[i]], dtype=object), format="ISO8601", errors="coerce")
        assert wall.dt.floor("us").iloc[0] == pd.Timestamp(int(micros[i]), unit="us"), text[i]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
@settings(max_examples=300, deadline=None)
@given(text=texts)
@example(text=["2024-10-27T02:30:00", "2024-03-31T02:30:00", "2024-11-03 01:30:00", "2024-03-10T02:30:00"])
def test_a_batchs_timestamps_and_their_errors_are_what_pandas_reads(zone, text):
    note(ascii(text))
    with override_settings(TIME_ZONE=zone):
        batch = Batch([{"timestamp": t} for t in text], plain=False)
        stamps = batch.timestamps("timestamp")
        expected = pandas_reading(text)
    refused = {i for i, t in enumerate(text) if not t or "\x00" in t}  # required; no NUL
    refused |= {i for i, t in enumerate(text) if pd.isna(expected.iloc[i]) or not t[:4].isdigit()}
    assert set(np.flatnonzero(batch.failed("timestamp")).tolist()) == refused
    for i, t in enumerate(text):
        if i not in refused:
            assert stamps.iloc[i] == expected.iloc[i], t


@settings(max_examples=1000, deadline=None)
@given(iso_like | st.text(max_size=40))
@example("2024-03-01T10:00:00Z ")
def test_a_text_pandas_reads_with_an_offset_is_known_to_have_one(text):
    alone = pd.to_datetime(pd.Series([text], dtype=object), format="ISO8601", errors="coerce")
    if alone.dt.tz is not None:
        assert _has_offset(text)


def test_the_common_shape_is_read_column_wise():
    micros, common, aware = iso_common(
        [
            "2024-03-01T10:00:00+08:00",
            "2024-03-01 10:00:00.5Z",
            "2024-03-01T10:00:00",
            "2024-03-01T10:00:00+0800",
        ]
    )
    assert common.tolist() == [True, True, True, False]  # pandas reads +0800
    assert aware.tolist() == [True, True, False, False]
    assert micros[:3].tolist() == [
        pd.Timestamp("2024-03-01T02:00:00Z").value // 1000,
        pd.Timestamp("2024-03-01T10:00:00.5Z").value // 1000,
        pd.Timestamp("2024-03-01T10:00:00Z").value // 1000,  # the wall clock, localized by the caller
    ]


@pytest.mark.django_db
def test_a_year_out_of_the_ordinary_is_refused(admin_user):
    account = Account.objects.create(name="Old")
    events = [
        {"account": account.pk, "event": "e", "timestamp": t}
        for t in ["1371-01-01T00:00:00Z", "9999-01-01T00:00:00.123456789Z", "0001-01-01T00:00:00"]
    ]
    frame, batch = check_events(events, admin_user)
    assert frame.empty
    assert [(e["index"], e["field"]) for e in batch.report()] == [
        (0, "timestamp"),
        (1, "timestamp"),
        (2, "timestamp"),
    ]


DST_TEXTS = [
    "2024-03-10T02:30:00",  # New York skips 02:00-03:00
    "2024-03-10T02:30",  # the same, in a shape pandas reads
    "2024-11-03T01:30:00",  # New York lives 01:00-02:00 twice
    "2024-03-10T02:30:00-05:00",  # with an offset: one instant
    "2024-03-10T03:30:00",
]
DST_READING = [
    None,
    None,
    None,
    pd.Timestamp("2024-03-10T07:30:00Z"),
    pd.Timestamp("2024-03-10T07:30:00Z"),
]


@override_settings(TIME_ZONE="America/New_York")
def test_the_api_refuses_a_local_time_that_a_daylight_saving_change_skips_or_repeats():
    batch = Batch([{"timestamp": t} for t in DST_TEXTS], plain=False)
    with translation.override("en"):  # the request's language (Chinese: tests/io/test_languages.py)
        stamps = batch.timestamps("timestamp")
    assert [None if pd.isna(s) else s for s in stamps] == DST_READING
    assert batch.report() == [
        {
            "index": 0,
            "field": "timestamp",
            "message": "'2024-03-10T02:30:00' does not exist in America/New_York (the clocks skip that "
            "hour for daylight saving time): add the UTC offset",
        },
        {
            "index": 1,
            "field": "timestamp",
            "message": "'2024-03-10T02:30' does not exist in America/New_York (the clocks skip that "
            "hour for daylight saving time): add the UTC offset",
        },
        {
            "index": 2,
            "field": "timestamp",
            "message": "'2024-11-03T01:30:00' occurs twice in America/New_York (the clocks go back an "
            "hour for daylight saving time): add the UTC offset",
        },
    ]


@override_settings(TIME_ZONE="America/New_York")
def test_an_import_reads_local_times_as_the_api_does():
    batch = Batch([{"timestamp": t} for t in DST_TEXTS], plain=False)
    api = batch.timestamps("timestamp")
    imported, errors = parse_datetime(pd.Series(DST_TEXTS, dtype=object), "America/New_York")
    assert [None if pd.isna(s) else s for s in imported] == DST_READING
    assert imported.tolist() == api.tolist()
    api_reasons = {e["index"]: e["message"] for e in batch.report()}
    assert {i: r for i, r in enumerate(errors) if r} == api_reasons
