"""The importer speaks its user's language: the same bad file imported by a Chinese and by an
English user gives each the reasons in their language, on the import page, through the API
(Accept-Language), in the CSV of rejected rows and from `clm import` (LANGUAGE); every reason still
names the row, the column and the value."""

import csv
import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from clm.core.models import ApiToken
from clm.customers.models import Account
from clm.io.engine import ImportOptions, import_file
from clm.io.models import ImportJob
from tests.core.test_catalog import PO, entries

pytestmark = pytest.mark.django_db

BAD = (
    "客户编号,客户名称,员工人数,上级客户,成为客户日期,客户负责人\n"
    "A1,华为,很多,,2024-01-01,\n"
    "A2,腾讯,100,不存在的集团,2024-13-45,\n"
    "A1,重复,10,,,\n"
    "A3,,5,,,nobody\n"
    "A4,美团,12.5,,,\n"
)
COLUMNS = {"col0": "external_id", "col1": "name", "col2": "employee_count", "col3": "parent",
           "col4": "customer_since", "col5": "sales_owner"}

# (row, column, value, reason): the same problems, in each language
EXPECTED = {
    "en": [
        (2, "员工人数", "很多", "is not a number (expected a number such as 1234.50, ¥1,234.50, 1.234,50 €, (1,234.00) or 12.5万)"),
        (3, "成为客户日期", "2024-13-45", "is not a valid date (no such day)"),
        (3, "上级客户", "不存在的集团", "no account with this id or name"),
        (4, "客户编号", "A1", "duplicate key: already on row 2"),
        (5, "客户名称", "", "is required"),
        (5, "客户负责人", "nobody", "no CLM user with this username, email or name"),
        (6, "员工人数", "12.5", "is not a whole number"),
    ],
    "zh-hans": [
        (2, "员工人数", "很多", "不是数字（应为数字，例如 1234.50、¥1,234.50、1.234,50 €、(1,234.00) 或 12.5万）"),
        (3, "成为客户日期", "2024-13-45", "不是有效日期（没有这一天）"),
        (3, "上级客户", "不存在的集团", "没有此编号或名称的客户"),
        (4, "客户编号", "A1", "键重复：已在第 2 行出现"),
        (5, "客户名称", "", "必填"),
        (5, "客户负责人", "nobody", "没有此用户名、邮箱或姓名的 CLM 用户"),
        (6, "员工人数", "12.5", "不是整数"),
    ],
}
REJECTED_HEADER = {"en": ["Row", "Errors"], "zh-hans": ["行", "错误"]}
SUMMARY = {
    "en": "nothing was written: 5 of 5 rows are invalid (7 problems)",
    "zh-hans": "未写入任何数据：5 行中有 5 行无效（7 个问题）",
}
LANGUAGES = ["en", "zh-hans"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def reasons(errors: list[dict]) -> list[tuple]:
    return [(e["row"], e["column"], e["value"], e["reason"]) for e in errors]


def rejected_reasons(content: bytes, language: str) -> dict[int, str]:
    """Row -> the reasons cell of a rejected-rows CSV, whose header is checked to be in `language`."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][-2:] == REJECTED_HEADER[language]
    return {int(row[-2]): row[-1] for row in rows[1:]}


def expected_cells(language: str) -> dict[int, str]:
    cells: dict[int, list[str]] = {}
    for row, column, _value, reason in EXPECTED[language]:
        cells.setdefault(row, []).append(f"{column}: {reason}")
    return {row: "; ".join(parts) for row, parts in cells.items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_engine_gives_the_reasons_in_the_active_language(tmp_path, language):
    path = tmp_path / "客户.csv"
    path.write_text(BAD, encoding="utf-8")
    with translation.override(language):
        report = import_file("accounts", path, ImportOptions(chunk_rows=2))  # the duplicate is in a later chunk
        summary = report.summary()
    assert reasons(report.errors) == EXPECTED[language]
    assert summary == SUMMARY[language]
    assert not Account.objects.exists()


def api_client(user, language: str) -> Client:
    _, raw = ApiToken.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE=language)


def api_upload(client, **form):
    file = io.BytesIO(BAD.encode("gbk"))
    file.name = "客户.csv"
    return client.post("/api/v1/imports/accounts", {"file": file, **form})


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_api_reports_and_rejected_rows_follow_accept_language(owner, language):
    client = api_client(owner, language)
    response = api_upload(client, skip_invalid="true")
    assert response.status_code == 200
    body = response.json()
    assert reasons(body["report"]["errors"]) == EXPECTED[language]
    assert body["report"]["created"] == 0  # every row has a problem
    rejected = client.get(body["rejected_url"])
    assert rejected_reasons(b"".join(rejected.streaming_content), language) == expected_cells(language)


def test_the_apis_refusal_names_each_problem_in_chinese(owner):
    response = api_upload(api_client(owner, "zh-hans"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["message"] == "未导入任何数据：文件有问题，见 details。"
    assert error["details"][0] == {
        "loc": [2, "员工人数"],
        "message": "不是数字（应为数字，例如 1234.50、¥1,234.50、1.234,50 €、(1,234.00) 或 12.5万）（值：'很多'）",
    }


def test_a_background_job_reports_in_its_uploaders_language_whatever_the_worker_speaks(owner):
    """The worker (Huey, immediate in the tests) runs the job in the language stored at the upload."""
    response = api_upload(api_client(owner, "zh-hans"), skip_invalid="true", background="true")
    assert response.status_code == 202
    job = ImportJob.objects.get()
    assert job.options["language"] == "zh-hans"
    assert reasons(job.report["errors"]) == EXPECTED["zh-hans"]


def catalogue_sentences() -> list[str]:
    """The fixed English parts of the catalogue's sentences (placeholders cut out), long enough
    that finding one on a page means an untranslated message."""
    placeholder = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdrf]")
    out = set()
    for _context, msgid, msgstr in entries(PO.read_text("utf-8")):
        if msgid == msgstr:
            continue
        for part in placeholder.split(msgid):
            part = part.strip(" :;,.()…")
            if len(part) >= 16 and " " in part:
                out.add(part)
    return sorted(out)


def page_text(response) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def import_on_the_page(client, owner, language: str):
    owner.language = language
    owner.save()
    client.force_login(owner)
    file = SimpleUploadedFile("客户.csv", BAD.encode("gbk"), content_type="text/csv")
    client.post(reverse("web:import"), {"kind": "accounts", "file": file, "source": "erp"})
    response = client.post(reverse("web:import_mapping"), {"action": "dry_run", **COLUMNS})
    return ImportJob.objects.latest("pk"), client.get(response["Location"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_import_page_shows_the_reasons_in_the_users_language(client, owner, language):
    job, page = import_on_the_page(client, owner, language)
    assert page.status_code == 200
    text = page_text(page)
    for _row, column, value, reason in EXPECTED[language]:
        assert reason in text and column in text and value in text
    rejected = client.get(reverse("web:import_rejected", args=[job.pk]))
    assert rejected_reasons(b"".join(rejected.streaming_content), language) == expected_cells(language)


def test_no_english_sentence_of_the_catalogue_is_on_the_chinese_import_page(client, owner):
    _job, page = import_on_the_page(client, owner, "zh-hans")
    text = page_text(page)
    sentences = catalogue_sentences()
    number = next(s for s in sentences if s.startswith("is not a number (expected"))  # the check sees the reasons
    assert [s for s in sentences if s in text] == []
    english = import_on_the_page(client, owner, "en")[1]
    assert number in page_text(english)


@pytest.mark.parametrize(("language", "env"), [("en", "en_US:en"), ("zh-hans", "zh_CN:zh")])
def test_clm_import_speaks_the_language_of_LANGUAGE(tmp_path, monkeypatch, language, env):
    monkeypatch.setenv("LANGUAGE", env)
    path = tmp_path / "客户.csv"
    path.write_text(BAD, encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import", "accounts", str(path), stdout=out)
    assert str(refused.value) == SUMMARY[language]
    first = EXPECTED[language][0]
    line = (
        f"row 2, 员工人数 '很多': {first[3]}" if language == "en" else f"第 2 行，员工人数 '很多'：{first[3]}"
    )
    assert line in out.getvalue()


def test_without_LANGUAGE_clm_import_speaks_the_workspaces_language(tmp_path, monkeypatch, settings):
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    settings.LANGUAGE_CODE = "zh-hans"
    path = tmp_path / "客户.csv"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(CommandError, match="未写入任何数据"):
        call_command("import", "accounts", str(path), stdout=io.StringIO())


def test_file_and_mapping_problems_are_in_the_users_language_too(tmp_path):
    empty = tmp_path / "空.csv"
    empty.write_text("客户编号,客户名称\n", encoding="utf-8")
    no_name = tmp_path / "无名称.csv"
    no_name.write_text("客户编号,行业\nA1,通信\n", encoding="utf-8")
    with translation.override("zh-hans"):
        assert import_file("accounts", empty).problems == ["文件只有表头行，没有数据行"]
        (missing,) = import_file("accounts", no_name).problems
    assert missing.startswith("缺少必需的列 'Name'（也可识别：")
    with translation.override("en"):
        assert import_file("accounts", empty).problems == ["the file has a header row but no data rows"]


def test_event_reasons_are_in_the_users_language(tmp_path):
    Account.objects.create(name="华为", source="import", external_id="A1")
    path = tmp_path / "events.csv"
    path.write_text(
        "account,event,timestamp,quantity\nA1,login,2001-01-01 10:00,1\nA1,login,2999-01-01 10:00,1\n"
        "A1,export,2024-01-01 10:00,-2\n", encoding="utf-8",
    )
    with translation.override("zh-hans"):
        report = import_file("usage_events", path, ImportOptions(dry_run=True))
    days = report.errors[0]["reason"].removeprefix("occurred_at 早于原始事件的保留期（").removesuffix(" 天）")
    assert days.isdigit()
    assert [(e["row"], e["column"], e["reason"]) for e in report.errors[1:]] == [
        (3, "timestamp", "occurred_at 在将来"), (4, "quantity", "不能小于 0"),
    ]
