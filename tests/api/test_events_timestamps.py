"""The event endpoint reads the common shape of ISO 8601 in numpy (iso_common) and leaves every
other text to pandas: for any text, the result must be what pandas alone reads."""

import numpy as np
import pandas as pd
import pytest
from django.test import override_settings
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from clm.customers.models import Account
from clm.usage.ingest import check_events
from clm.usage.ingest.checks import Batch, _has_offset, iso_common, pandas_timestamps


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
    return pandas_timestamps(text)


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
