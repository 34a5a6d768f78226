"""The upload and export endpoints: permissions, inline and background imports with progress,
the report in the house error format, and exports limited to what the caller sees."""

import io

import pytest
from django.test import Client

from clm.core.models import ApiToken
from clm.customers.models import Account
from clm.io import api as io_api
from clm.io import tasks, uploads
from clm.io.engine import Progress
from clm.io.models import ImportJob
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

CSV = "客户编号,客户名称,行业\nA1,华为,通信\nA2,Acme,SaaS\n".encode()


def client_for(user) -> Client:
    _, raw = ApiToken.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")


def upload(client, kind, data=CSV, name="accounts.csv", **form):
    file = io.BytesIO(data)
    file.name = name
    return client.post(f"/api/v1/imports/{kind}", {"file": file, **form})


def test_an_upload_needs_a_token():
    assert upload(Client(), "accounts").status_code == 401


def test_an_upload_needs_the_add_and_change_permissions_of_the_kind(viewer, db):
    marketing = make_user("marketer", "Marketing")
    response = upload(client_for(viewer), "accounts")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "you need the permissions customers.add_account, customers.change_account"
    assert upload(client_for(marketing), "accounts").status_code == 403
    assert upload(client_for(marketing), "contacts", b"Contact ID,Account ID,Name\n").status_code != 403
    assert Account.objects.count() == 0


def test_an_unknown_kind_is_not_found(owner):
    assert upload(client_for(owner), "unicorns").status_code == 404


def test_a_small_file_is_imported_at_once(owner):
    response = upload(client_for(owner), "accounts")
    assert response.status_code == 200
    job = response.json()
    assert (job["status"], job["rows_done"], job["report"]["created"]) == ("done", 2, 2)
    assert set(Account.objects.values_list("name", flat=True)) == {"华为", "Acme"}
    log = Account.objects.get(external_id="A1")
    from clm.core.models import AuditLog
    assert AuditLog.objects.filter(object_id=str(log.pk)).get().actor == owner


def test_an_invalid_file_gets_the_error_format_with_rows_and_writes_nothing(owner):
    response = upload(client_for(owner), "accounts", "客户编号,客户名称,员工人数\nA1,华为,many\nA2,,3\n".encode())
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid_file"
    assert body["error"]["details"] == [
        {"loc": [2, "员工人数"], "message": body["error"]["details"][0]["message"]},
        {"loc": [3, "客户名称"], "message": "is required (value: '')"},
    ]
    assert body["error"]["details"][0]["message"].startswith("is not a number")
    assert body["job"]["status"] == "failed" and Account.objects.count() == 0


def test_a_file_that_is_not_a_table_is_a_clear_422(owner):
    response = upload(client_for(owner), "accounts", b"%PDF-1.4", name="contract.pdf")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"loc": ["file"], "message": "contract.pdf is neither a CSV nor an XLSX file: it is a PDF document"}]


@pytest.mark.parametrize(
    "form, words",
    [  # found by a long fuzz run: PostgreSQL refuses NUL in text and JSON, which made these 500s
        ({"mapping": "a\x00"}, "NUL"),
        ({"source": "crm\x00"}, "NUL"),
        ({"columns": '{"客户编号": "external_id\\u0000"}'}, "columns: must not contain NUL"),
        ({"columns": '{"\\ud800": "name"}'}, "columns: is not valid Unicode"),
    ],
)
def test_form_fields_the_database_cannot_store_are_refused(owner, form, words):
    response = upload(client_for(owner), "accounts", **form)
    assert response.status_code == 422
    assert words in str(response.json()["error"])
    assert not ImportJob.objects.exists() and not Account.objects.exists()


def test_a_file_name_is_kept_as_the_database_can_store_it(owner):
    response = upload(client_for(owner), "accounts", name="客户\x00" + "x" * 300 + ".csv")
    assert response.status_code == 200, response.json()
    kept = ImportJob.objects.get().original_name
    assert kept.startswith("客户xxx") and kept.endswith("x.csv") and len(kept) == 255
    assert Account.objects.count() == 2


def test_skip_invalid_rows_can_be_downloaded(owner):
    client = client_for(owner)
    job = upload(client, "accounts", "客户编号,客户名称\nA1,华为\nA2,\n".encode(), skip_invalid="true").json()
    assert job["report"]["rejected"] == 1 and job["rejected_url"]
    rejected = client.get(job["rejected_url"])
    assert rejected.status_code == 200
    assert b"".join(rejected.streaming_content).decode("utf-8-sig").splitlines()[1] == "A2,,3,客户名称: is required"


def test_large_or_background_uploads_run_as_jobs_and_report_progress(owner):
    client = client_for(owner)
    response = upload(client, "accounts", background="true")
    assert response.status_code == 202
    job = client.get(f"/api/v1/imports/jobs/{response.json()['id']}").json()
    assert (job["status"], job["report"]["created"], job["progress"]["rows"]) == ("done", 2, 2)
    assert ImportJob.objects.get().created_by == owner


def test_uploads_over_the_inline_size_go_to_the_background(owner, monkeypatch):
    monkeypatch.setattr(io_api, "INLINE_MAX_BYTES", 10)
    assert upload(client_for(owner), "accounts").status_code == 202


def test_a_running_job_shows_the_progress_its_worker_published(owner):
    job = ImportJob.objects.create(kind="accounts", file="/nowhere", original_name="a.csv", status="running",
                                   bytes_total=1000, created_by=owner)
    tasks.publish_progress(job.pk, Progress(done=400, total=1000, unit="bytes", rows=1234))
    body = client_for(owner).get(f"/api/v1/imports/jobs/{job.pk}").json()
    assert body["progress"] == {"done": 400, "total": 1000, "unit": "bytes", "rows": 1234}


def test_a_job_runs_once_even_if_queued_twice(owner, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(CSV)
    job = ImportJob.objects.create(kind="accounts", file=str(path), original_name="a.csv", created_by=owner)
    assert tasks.run_job(job.pk).status == "done"
    assert tasks.run_job(job.pk) is None
    assert Account.objects.count() == 2


def test_jobs_are_visible_to_their_uploader_only(owner, teammate):
    job_id = upload(client_for(owner), "accounts").json()["id"]
    assert client_for(teammate).get(f"/api/v1/imports/jobs/{job_id}").status_code == 404


def test_an_export_is_limited_to_what_the_caller_sees(owner, outsider, team_visibility):
    Account.objects.create(name="Mine", sales_owner=owner)
    Account.objects.create(name="Theirs", sales_owner=outsider)
    response = client_for(outsider).get("/api/v1/imports/exports/accounts?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Theirs" in text and "Mine" not in text
    xlsx = client_for(owner).get("/api/v1/imports/exports/accounts?format=xlsx")
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content).startswith(b"PK")


def test_an_export_needs_the_view_permission_and_a_known_format(owner, db):
    nobody = make_user("nobody", None)
    assert client_for(nobody).get("/api/v1/imports/exports/accounts").status_code == 403
    assert client_for(owner).get("/api/v1/imports/exports/accounts?format=pdf").status_code == 422


@pytest.mark.parametrize(
    "uploaded, saved",
    [
        ("客户 名单.csv", "客户_名单.csv"),
        ("../../etc/passwd", "passwd"),
        ("..", "upload"),
        ("", "upload"),
        ("a<b>|c.xlsx", "abc.xlsx"),
        ("客" * 100 + ".xlsx", "客" * 65 + ".xlsx"),  # 3 bytes a character: 195 + 5 bytes
    ],
)
def test_an_upload_is_saved_under_a_safe_short_name_with_its_extension(uploaded, saved):
    assert uploads.disk_name(uploaded) == saved
