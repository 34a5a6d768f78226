"""Background import jobs whose worker died: a running job whose heartbeat stopped is marked
failed with a message that says what happened, when polled and by the periodic sweep."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from clm.core.models import ApiToken
from clm.customers.models import Account
from clm.io import tasks
from clm.io.models import ImportJob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_heartbeats_of_earlier_tests():
    # Job ids come back after a test's rollback; the in-memory store would keep their beats.
    HUEY.storage.flush_results()
    yield
    HUEY.storage.flush_results()


def running_job(owner, tmp_path, uploaded_ago=dt.timedelta(0), language="en") -> ImportJob:
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "a.csv").write_text("客户编号,客户名称\nA1,华为\n", encoding="utf-8")
    return ImportJob.objects.create(
        kind="accounts", file=str(folder / "a.csv"), original_name="a.csv", status="running",
        created_by=owner, created_at=timezone.now() - uploaded_ago, options={"language": language},
    )


def beat_at(job, when):
    HUEY.put(tasks.heartbeat_key(job.pk), when.timestamp())


def poll(owner, job):
    _, raw = ApiToken.issue(owner, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(f"/api/v1/imports/jobs/{job.pk}").json()


def test_a_job_whose_heartbeat_stopped_is_reported_failed_when_polled(owner, tmp_path):
    job = running_job(owner, tmp_path, uploaded_ago=dt.timedelta(hours=1))
    beat_at(job, timezone.now() - dt.timedelta(minutes=6))
    body = poll(owner, job)
    assert body["status"] == "failed"
    (problem,) = body["report"]["problems"]
    assert "the worker running it has given no sign of life since" in problem
    assert "Nothing was written" in problem and "upload the file again" in problem
    assert body["finished_at"] is not None
    assert not (tmp_path / "upload").exists()  # the orphaned upload is removed


def test_a_stale_job_is_reported_in_its_uploaders_language(owner, tmp_path):
    job = running_job(owner, tmp_path, uploaded_ago=dt.timedelta(hours=1), language="zh-hans")
    beat_at(job, timezone.now() - dt.timedelta(minutes=6))
    (problem,) = poll(owner, job)["report"]["problems"]
    assert problem.startswith("导入已中止：运行它的后台任务自") and "请重新上传文件" in problem
    assert tasks.last_beat(job.pk) is None


def test_a_job_with_a_recent_heartbeat_keeps_running(owner, tmp_path):
    job = running_job(owner, tmp_path, uploaded_ago=dt.timedelta(hours=1))
    beat_at(job, timezone.now() - dt.timedelta(minutes=2))
    assert poll(owner, job)["status"] == "running"
    assert not tasks.fail_if_stale(job)


def test_the_sweep_fails_jobs_that_never_beat_once_they_are_old_enough(owner, tmp_path):
    old = running_job(owner, tmp_path, uploaded_ago=dt.timedelta(minutes=30))
    (tmp_path / "other").mkdir()
    fresh = ImportJob.objects.create(kind="accounts", file=str(tmp_path / "other" / "b.csv"), original_name="b.csv",
                                     status="running", created_by=owner)
    done = ImportJob.objects.create(kind="accounts", file="/nowhere", original_name="c.csv", status="done",
                                    created_by=owner, created_at=timezone.now() - dt.timedelta(days=1))
    assert tasks.fail_stale_import_jobs.call_local() == 1
    assert ImportJob.objects.get(pk=old.pk).status == "failed"
    assert ImportJob.objects.get(pk=fresh.pk).status == "running"
    assert ImportJob.objects.get(pk=done.pk).status == "done"


def test_a_job_is_not_failed_when_the_heartbeats_cannot_be_read(owner, tmp_path, monkeypatch):
    job = running_job(owner, tmp_path, uploaded_ago=dt.timedelta(hours=1))

    def unavailable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(HUEY, "get", unavailable)
    assert not tasks.fail_if_stale(job)
    assert ImportJob.objects.get(pk=job.pk).status == "running"


def test_a_worker_beats_while_it_imports_and_cleans_up_after(owner, tmp_path, monkeypatch):
    job = running_job(owner, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(status="queued")
    seen = []
    real = tasks.import_file

    def importing(*args, **kwargs):
        seen.append(tasks.last_beat(job.pk))
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "import_file", importing)
    assert tasks.run_job(job.pk).status == "done"
    assert seen[0] is not None and timezone.now() - seen[0] < dt.timedelta(seconds=5)
    assert tasks.last_beat(job.pk) is None
    assert Account.objects.filter(external_id="A1").exists()


def test_the_heartbeat_thread_beats_until_stopped():
    with tasks.Heartbeat(4242, every=0.01):
        HUEY.get(tasks.heartbeat_key(4242))  # consume the first beat
        deadline = timezone.now() + dt.timedelta(seconds=5)
        while tasks.last_beat(4242) is None and timezone.now() < deadline:
            pass
        assert tasks.last_beat(4242) is not None
    tasks.forget(4242)


def test_a_failed_job_shows_how_far_it_read_not_a_full_bar(owner, tmp_path):
    job = running_job(owner, tmp_path, uploaded_ago=dt.timedelta(hours=1))
    ImportJob.objects.filter(pk=job.pk).update(bytes_total=1000)
    tasks.publish_progress(job.pk, tasks.Progress(done=400, total=1000, unit="bytes", rows=12))
    beat_at(job, timezone.now() - dt.timedelta(minutes=6))
    body = poll(owner, job)
    assert body["status"] == "failed"
    assert (body["progress"]["done"], body["progress"]["total"]) == (400, 1000)

