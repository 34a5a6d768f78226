"""Helpers for the import/export tests: files written on the fly (no binary fixtures), an
import call, and a snapshot of every table an import touches."""

import csv
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import translation

from clm.io.engine import ImportOptions, import_file


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """These tests state the importer's rules in its English messages: the CLI, the API client
    (tests/io/test_api.py asks for English) and direct calls read them in English here.
    tests/io/test_languages.py reads the same reasons in Chinese."""
    monkeypatch.setenv("LANGUAGE", "en")
    with translation.override("en"):
        yield


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def run(kind: str, path: Path, **options):
    return import_file(kind, path, ImportOptions(**options))


def snapshot() -> dict:
    """Every row of every CLM table (and the audit log), to compare databases exactly."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label in ("customers", "commerce", "usage", "service", "sales", "core"):
            if model._meta.model_name in ("user", "apitoken", "workspace", "team"):
                continue
            out[model._meta.label] = list(model.objects.order_by("pk").values())
    return out


@pytest.fixture
def files(tmp_path):
    """files.csv("name.csv", rows, encoding=...) / files.xlsx("name.xlsx", rows) -> Path"""

    class Files:
        def csv(self, name, rows, encoding="utf-8", delimiter=","):
            return write_csv(tmp_path / name, rows, encoding, delimiter)

        def xlsx(self, name, rows):
            return write_xlsx(tmp_path / name, rows)

        def raw(self, name, data: bytes):
            path = tmp_path / name
            path.write_bytes(data)
            return path

    return Files()


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Uploaded files and rejected rows go under the test's own directory, never ./var."""
    settings.MEDIA_ROOT = tmp_path / "media"
