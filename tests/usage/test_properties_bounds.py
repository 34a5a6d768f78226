"""An event's properties are bounded before they are stored (issue 14: a single event with a 4 MB
list was stored): at most 32 KB as JSON, 5 levels deep, 255 keys in any object. The rule lives in
event_problems, so the API and imports refuse the same events."""

import csv
import datetime as dt
import json

import numpy as np
import pytest
from django.utils import timezone, translation

from clm.customers.models import Account
from clm.io.engine import ImportOptions, import_file
from clm.usage.models import UsageEvent
from clm.usage.services import (
    PROPERTIES_MAX_BYTES,
    PROPERTIES_MAX_DEPTH,
    PROPERTIES_MAX_KEYS,
    PROPERTIES_TOO_DEEP,
    PROPERTIES_TOO_LARGE,
    PROPERTIES_TOO_WIDE,
    json_text_counts,
    properties_problems,
)


def text(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sized(size: int, char: str = "a") -> str:
    """Properties whose JSON text takes exactly `size` bytes in UTF-8."""
    frame = text({"k": ""})
    count, rest = divmod(size - len(frame), len(char.encode()))
    assert rest == 0
    return text({"k": char * count})


def nested(depth: int) -> str:
    value: object = 1
    for level in range(depth - 1):
        value = {"k": value} if level % 2 else [value]
    return text({"p": value})


def wide(keys: int, inside: bool = False) -> str:
    obj = {f"k{i}": i for i in range(keys)}
    return text({"cart": obj} if inside else obj)


def reasons(*texts: str) -> list[str]:
    return properties_problems(np.array(texts, dtype=object)).tolist()


def test_properties_at_a_bound_are_stored_and_one_past_it_are_refused():
    assert reasons(
        sized(PROPERTIES_MAX_BYTES),
        sized(PROPERTIES_MAX_BYTES + 1),
        nested(5),
        nested(6),
        wide(255),
        wide(256),
        wide(256, inside=True),
    ) == ["", PROPERTIES_TOO_LARGE, "", PROPERTIES_TOO_DEEP, "", PROPERTIES_TOO_WIDE, PROPERTIES_TOO_WIDE]


def test_the_size_is_counted_in_utf8_bytes():
    chinese = text({"k": "云" * 11_000})  # 11,000 characters, 33,000 bytes
    assert len(chinese) < PROPERTIES_MAX_BYTES < len(chinese.encode())
    assert reasons(chinese) == [PROPERTIES_TOO_LARGE]


def test_brackets_and_colons_inside_strings_are_not_structure():
    assert reasons(text({"note": "[[[[{{{{" + ":" * 400}), "{}", text({"plan": "pro"})) == ["", "", ""]


@pytest.mark.parametrize("newline", ["", '{"note":"line one\nline two"}'])
def test_sizes_and_counts_are_per_text_whether_counted_together_or_alone(newline):
    texts = ["{}", text({"城市": "上海", "tags": [{"a": 1}]}), "{" + '"k":1,' * 3 + '"z":[]}', "", newline]
    size, openings, colons = json_text_counts(texts)
    assert size.tolist() == [len(t.encode()) for t in texts]
    assert openings.tolist() == [t.count("{") + t.count("[") for t in texts]
    assert colons.tolist() == [t.count(":") for t in texts]


# -- both paths ---------------------------------------------------------------------------------


@pytest.fixture
def account():
    return Account.objects.create(name="云帆", source="import", external_id="A1")


BIG_LIST = {"items": list(range(800_000))}  # the 4 MB list of issue 14 (5.3 MB as JSON)


@pytest.mark.django_db
def test_an_import_refuses_a_row_with_oversized_properties_by_row_and_column(tmp_path, settings, account):
    settings.MEDIA_ROOT = tmp_path / "media"
    when = timezone.localtime(timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    path = tmp_path / "events.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(
            [
                ["account", "event", "timestamp", "properties"],
                ["A1", "login", when, '{"plan": "pro"}'],
                ["A1", "export", when, text(BIG_LIST)],
                ["A1", "share", when, nested(6)],
            ]
        )
    with translation.override("en"):
        report = import_file("usage_events", path, ImportOptions(skip_invalid=True))
    assert (report.status, report.created, report.rejected) == ("done", 1, 2)
    assert [(e["row"], e["column"], e["reason"]) for e in report.errors] == [
        (3, "properties", PROPERTIES_TOO_LARGE),
        (4, "properties", PROPERTIES_TOO_DEEP),
    ]
    assert list(UsageEvent.objects.values_list("event", flat=True)) == ["login"]
    with translation.override("zh-hans"):  # a person reads the reasons in their language
        report = import_file("usage_events", path, ImportOptions(dry_run=True))
    assert [e["reason"] for e in report.errors] == [
        "properties 超过 32 KB（JSON 为 32,768 字节）",
        "properties 嵌套超过 5 层（properties 对象本身算一层，其中每个对象或列表再加一层）",
    ]


def test_the_messages_state_the_bounds():
    """The messages are literal texts (for the catalogue): their numbers are the bounds'."""
    assert f"({PROPERTIES_MAX_BYTES:,} bytes" in PROPERTIES_TOO_LARGE
    assert f"more than {PROPERTIES_MAX_DEPTH} levels" in PROPERTIES_TOO_DEEP
    assert f"more than {PROPERTIES_MAX_KEYS} keys" in PROPERTIES_TOO_WIDE
