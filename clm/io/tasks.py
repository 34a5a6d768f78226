"""Imports that run in the background (uploads over the inline size), as ImportJob rows run by a
Huey task.

An import's progress is published in the task queue's key-value store (SQLite file or
Redis, shared by workers and web processes) and the job row gets the final figures and report.

A worker that dies (killed, restarted, out of memory) cannot mark its job failed, so the worker
beats a heartbeat into the same store while the import runs; a running job whose heartbeat has
stopped for STALE_AFTER is marked failed, when it is polled and by a periodic sweep. Nothing of
it was written: an import applies its rows in one transaction at its end (clm.io.engine)."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
from pathlib import Path

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from clm.io.engine import ImportOptions, Progress, import_file
from clm.io.models import ImportJob

log = logging.getLogger("clm.io")
UPLOADS = "imports"
HEARTBEAT_SECONDS = 30
STALE_AFTER = dt.timedelta(minutes=5)  # ten missed heartbeats


def upload_dir(token: str) -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOADS / token


def progress_key(job_id: int) -> str:
    return f"clm.io.progress.{job_id}"


def live_progress(job_id: int) -> dict | None:
    """The progress a running job last published, if any."""
    try:
        return HUEY.get(progress_key(job_id), peek=True)
    except Exception:  # the queue's storage is unavailable: report the job row's figures
        return None


def publish_progress(job_id: int, progress: Progress) -> None:
    try:
        HUEY.put(progress_key(job_id), {"done": progress.done, "total": progress.total, "unit": progress.unit, "rows": progress.rows})
    except Exception:  # progress is a convenience; the import goes on without it
        log.warning("cannot publish the progress of import job %s", job_id, exc_info=True)


def options_for(job: ImportJob) -> ImportOptions:
    saved = job.options or {}
    return ImportOptions(
        source=saved.get("source") or ImportOptions.source,
        skip_invalid=bool(saved.get("skip_invalid")),
        dry_run=bool(saved.get("dry_run")),
        columns=dict(saved.get("columns") or {}),
        mapping_name=saved.get("mapping") or None,
        save_mapping=saved.get("save_mapping") or None,
        user=job.created_by,
        rejected_path=Path(job.file).parent / "rejected.csv",
    )


def heartbeat_key(job_id: int) -> str:
    return f"clm.io.heartbeat.{job_id}"


def beat(job_id: int) -> None:
    try:
        HUEY.put(heartbeat_key(job_id), timezone.now().timestamp())
    except Exception:  # the sweep then sees an older beat; it waits STALE_AFTER before judging
        log.warning("cannot record the heartbeat of import job %s", job_id, exc_info=True)


class Heartbeat:
    """Beats for a job every HEARTBEAT_SECONDS from a thread, while the import works."""

    def __init__(self, job_id: int, every: float = HEARTBEAT_SECONDS):
        self.job_id, self.every = job_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"clm-import-heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            beat(self.job_id)

    def __enter__(self):
        beat(self.job_id)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Unknown(Exception):
    """The task queue's storage cannot be read: whether a worker is alive is unknown."""


def last_beat(job_id: int) -> dt.datetime | None:
    try:
        stamp = HUEY.get(heartbeat_key(job_id), peek=True)
    except Exception as exc:
        raise Unknown(str(exc)) from exc
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC) if stamp is not None else None


def fail_if_stale(job: ImportJob, now: dt.datetime | None = None) -> bool:
    """Mark a running job failed if its worker has given no sign of life for STALE_AFTER (no
    heartbeat at all counts from the upload). Returns whether it did; `job` is refreshed."""
    if job.status != ImportJob.Status.RUNNING:
        return False
    now = now or timezone.now()
    try:
        seen = last_beat(job.pk) or job.created_at
    except Unknown:
        return False  # never fail a job on missing evidence
    if now - seen <= STALE_AFTER:
        return False
    since = timezone.localtime(seen).strftime("%Y-%m-%d %H:%M")
    with translation.override(language_of(job)):
        problem = _(
            "the import stopped: the worker running it has given no sign of life since %(since)s "
            "(it was probably restarted or killed). Nothing was written, an import is all or "
            "nothing: upload the file again."
        ) % {"since": since}
    report = {"status": "failed", "problems": [problem]}
    marked = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.FAILED, report=report, finished_at=now, bytes_done=stopped_at(job)
    )
    if marked:
        log.warning("import job %s: worker gone since %s, marked failed", job.pk, since)
        forget(job.pk)
        remove_upload(job)
    job.refresh_from_db()
    return bool(marked)


def fail_stale_jobs(now: dt.datetime | None = None) -> int:
    """Mark every running job whose worker is gone as failed; returns how many."""
    return sum(fail_if_stale(job, now) for job in ImportJob.objects.filter(status=ImportJob.Status.RUNNING))


def stopped_at(job: ImportJob) -> int:
    """How far a job that failed had read, from the progress it last published (0 if unknown):
    a failed job does not show as read to the end."""
    progress = live_progress(job.pk) or {}
    if progress.get("unit") != "bytes":
        return 0
    return max(0, min(int(progress.get("done") or 0), job.bytes_total))


def forget(job_id: int) -> None:
    for key in (progress_key(job_id), heartbeat_key(job_id)):
        try:
            HUEY.get(key)  # reading without peek removes it
        except Exception:
            pass


def remove_upload(job: ImportJob) -> None:
    """The uploaded file; its folder too once empty (the rejected rows stay beside it)."""
    Path(job.file).unlink(missing_ok=True)
    folder = Path(job.file).parent
    if folder.is_dir() and not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


def language_of(job: ImportJob) -> str:
    """The language the job's report is written in: its uploader's at the upload."""
    return (job.options or {}).get("language") or settings.LANGUAGE_CODE


def run_job(job_id: int) -> ImportJob | None:
    """Run a queued job; only the caller that claims it (queued -> running) runs it."""
    beat(job_id)  # before the claim: a job is never running without a heartbeat
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(status=ImportJob.Status.RUNNING)
    if not claimed:
        return None
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    options = options_for(job)

    options.progress = lambda progress: publish_progress(job_id, progress)
    try:
        with Heartbeat(job_id), translation.override(language_of(job)):
            report = import_file(job.kind, job.file, options, name=job.original_name)
        job.report = report.to_dict()
        job.rows_done = report.rows
        job.status = ImportJob.Status.DONE if report.status in ("done", "dry_run") else ImportJob.Status.FAILED
    except Exception:
        log.exception("import job %s failed", job_id)
        with translation.override(language_of(job)):
            problem = _("the import stopped on an unexpected error; it has been logged")
        job.report = {"status": "failed", "problems": [problem]}
        job.status = ImportJob.Status.FAILED
    job.bytes_done = job.bytes_total if job.status == ImportJob.Status.DONE else stopped_at(job)
    job.finished_at = timezone.now()
    job.save(update_fields=["report", "rows_done", "status", "bytes_done", "finished_at"])
    forget(job_id)
    remove_upload(job)
    return job


@db_task()
def run_import_job(job_id: int) -> None:
    run_job(job_id)


@db_periodic_task(crontab(minute="*/5"))
def fail_stale_import_jobs() -> int:
    return fail_stale_jobs()
