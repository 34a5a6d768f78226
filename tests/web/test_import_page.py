"""The import page: upload (GBK CSV or XLSX), the detected encoding and the mapping with a preview,
fixing the mapping, a dry run that writes nothing, the real import as a job run by Huey (immediate
in the tests) with its status polled, and the rejected rows downloaded."""


import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clm.core.models import AuditLog
from clm.customers.models import Account
from clm.io.models import ImportJob
from tests.io.conftest import write_xlsx

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def signed_in(client, owner):
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    return client


def gbk_csv(text: str, name="客户名单.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("gbk"), content_type="text/csv")


GOOD = "客户编号,客户名称,行业,备注\nA1,华为,通信,老客户\nA2,腾讯,互联网,\n"


def upload(client, file, kind="accounts"):
    return client.post(reverse("web:import"), {"kind": kind, "file": file, "source": "erp"})


def test_a_gbk_file_shows_its_encoding_mapping_and_first_rows(signed_in):
    response = upload(signed_in, gbk_csv(GOOD))
    assert response.status_code == 302 and response["Location"] == reverse("web:import_mapping")
    page = signed_in.get(reverse("web:import_mapping"))
    html = page.content.decode()
    assert "GBK / GB18030" in html and "客户名单.csv" in html
    preview = page.context["preview"]
    assert preview.columns == {"客户编号": "external_id", "客户名称": "name", "行业": "industry", "备注": ""}
    assert page.context["rows"] == [["A1", "华为", "通信", "老客户"], ["A2", "腾讯", "互联网", ""]]


def test_a_dry_run_writes_nothing_and_the_real_import_follows(signed_in, owner):
    upload(signed_in, gbk_csv(GOOD))
    response = signed_in.post(reverse("web:import_mapping"), {"action": "dry_run", "col0": "external_id",
                                                              "col1": "name", "col2": "industry", "col3": ""})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("web:import_job", args=[job.pk])
    assert job.status == "done" and job.report["status"] == "dry_run" and job.report["created"] == 2
    assert not Account.objects.exists()
    page = signed_in.get(response["Location"]).content.decode()
    assert "Dry run: nothing was written." in page and "Back to the columns, to import for real" in page

    response = signed_in.post(reverse("web:import_mapping"), {"action": "import", "col0": "external_id",
                                                              "col1": "name", "col2": "industry", "col3": ""})
    real = ImportJob.objects.latest("pk")
    assert real.status == "done" and real.report["status"] == "done"
    assert sorted(Account.objects.values_list("name", flat=True)) == ["华为", "腾讯"]
    assert set(Account.objects.values_list("source", flat=True)) == {"erp"}
    assert AuditLog.objects.filter(model="customers.account", via="import", actor=owner).count() == 2
    # the upload is used up: the columns page asks for a file again
    assert signed_in.get(reverse("web:import_mapping"))["Location"] == reverse("web:import")


def test_fixing_the_mapping_by_hand_is_previewed_and_kept(signed_in):
    upload(signed_in, gbk_csv("编号,公司,备注\nB1,字节跳动,互联网\n"))
    first = signed_in.get(reverse("web:import_mapping"))
    assert first.context["preview"].columns["备注"] == ""
    response = signed_in.post(reverse("web:import_mapping"), {"action": "preview", "col0": "external_id",
                                                              "col1": "name", "col2": "industry"}, headers=HTMX)
    assert response.status_code == 200
    assert response.context["preview"].columns == {"编号": "external_id", "公司": "name", "备注": "industry"}
    assert "<html" not in response.content.decode()  # the fragment only
    signed_in.post(reverse("web:import_mapping"), {"action": "import", "col0": "external_id", "col1": "name",
                                                   "col2": "industry"})
    assert Account.objects.get(external_id="B1").industry == "互联网"


def test_a_missing_required_column_stops_before_any_job(signed_in):
    upload(signed_in, gbk_csv(GOOD))
    response = signed_in.post(reverse("web:import_mapping"), {"action": "import", "col0": "external_id",
                                                              "col1": "", "col2": "industry", "col3": ""})
    assert response.status_code == 422
    assert any("missing required column" in p for p in response.context["preview"].problems)
    assert not ImportJob.objects.exists()


def test_two_columns_into_one_field_are_refused_with_the_choices_kept(signed_in):
    upload(signed_in, gbk_csv(GOOD))
    response = signed_in.post(reverse("web:import_mapping"), {"action": "dry_run", "col0": "external_id",
                                                              "col1": "name", "col2": "name", "col3": ""})
    assert response.status_code == 422
    assert response.context["preview"].problems == ["the mapping puts two columns into name"]
    assert response.context["form"]["col2"].value() == "name"


def test_invalid_rows_are_set_aside_and_downloadable(signed_in):
    upload(signed_in, SimpleUploadedFile("accounts.xlsx", _xlsx([["Account ID", "Name", "Employees"],
                                                                  ["C1", "美团", "5000"], ["C2", "", "many"]])))
    assert signed_in.get(reverse("web:import_mapping")).context["preview"].encoding is None
    signed_in.post(reverse("web:import_mapping"), {"action": "import", "col0": "external_id", "col1": "name",
                                                   "col2": "employee_count", "skip_invalid": "on"})
    job = ImportJob.objects.get()
    assert job.report["status"] == "done" and job.report["created"] == 1 and job.report["rejected"] == 1
    page = signed_in.get(reverse("web:import_job", args=[job.pk])).content.decode()
    assert "Download the invalid rows (CSV)" in page
    rejected = signed_in.get(reverse("web:import_rejected", args=[job.pk]))
    text = b"".join(rejected.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "Account ID,Name,Employees,Row,Errors" and "C2" in text


def test_the_status_fragment_polls_while_the_job_runs_and_stops_when_done(signed_in, owner):
    job = ImportJob.objects.create(kind="accounts", file="/nowhere/x.csv", original_name="x.csv", created_by=owner,
                                   status=ImportJob.Status.QUEUED, bytes_total=100)
    html = signed_in.get(reverse("web:import_job_status", args=[job.pk]), headers=HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in html and "Waiting for the background worker" in html
    job.status, job.report = ImportJob.Status.DONE, {"status": "done", "rows": 3, "created": 3}
    job.save()
    html = signed_in.get(reverse("web:import_job_status", args=[job.pk]), headers=HTMX).content.decode()
    assert "hx-trigger" not in html and "Imported." in html


def test_someone_elses_job_is_not_there(client, outsider, owner):
    job = ImportJob.objects.create(kind="accounts", file="/nowhere/x.csv", original_name="x.csv", created_by=owner)
    client.force_login(outsider)
    assert client.get(reverse("web:import_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("web:import_rejected", args=[job.pk])).status_code == 404


def test_a_file_that_is_not_a_table_is_explained(signed_in):
    upload(signed_in, SimpleUploadedFile("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00binary"))
    html = signed_in.get(reverse("web:import_mapping")).content.decode()
    assert "The import cannot start yet" in html and "photo.csv is neither a CSV nor an XLSX file: it is a PNG image" in html


def test_a_viewer_may_not_import(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("web:import")).status_code == 403


def test_the_kind_list_holds_what_the_user_may_import(signed_in):
    kinds = dict(signed_in.get(reverse("web:import")).context["form"].fields["kind"].choices)
    assert "accounts" in kinds and "contacts" in kinds and "tickets" not in kinds  # tickets are the CSMs'
    assert upload(signed_in, gbk_csv(GOOD), kind="tickets").status_code == 422


def _xlsx(rows) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        return write_xlsx(Path(folder) / "a.xlsx", rows).read_bytes()


def test_nothing_is_left_waiting_after_a_new_upload(signed_in, settings):
    upload(signed_in, gbk_csv(GOOD))
    upload(signed_in, gbk_csv("Account ID,Name\nD1,Acme\n", "second.csv"))
    folders = list((settings.MEDIA_ROOT / "imports").iterdir())
    assert len(folders) == 1 and (folders[0] / "second.csv").exists()
