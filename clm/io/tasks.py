"""Imports that run in the background (uploads over the inline size), as ImportJob rows run by a
Huey task.

While an import runs, its transaction holds SQLite's write lock, so its progress cannot be
written to the database; it is published in the task queue's key-value store (SQLite file or
Redis, shared by workers and web processes) and the job row gets the final figures and report."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_task

from clm.core.models import ImportJob
from clm.io.engine import ImportOptions, Progress, import_file

log = logging.getLogger("clm.io")
UPLOADS = "imports"


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


def run_job(job_id: int) -> ImportJob | None:
    """Run a queued job; only the caller that claims it (queued -> running) runs it."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(status=ImportJob.Status.RUNNING)
    if not claimed:
        return None
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    options = options_for(job)

    options.progress = lambda progress: publish_progress(job_id, progress)
    try:
        report = import_file(job.kind, job.file, options, name=job.original_name)
        job.report = report.to_dict()
        job.rows_done = report.rows
        job.status = ImportJob.Status.DONE if report.status in ("done", "dry_run") else ImportJob.Status.FAILED
    except Exception:
        log.exception("import job %s failed", job_id)
        job.report = {"status": "failed", "problems": ["the import stopped on an unexpected error; it has been logged"]}
        job.status = ImportJob.Status.FAILED
    job.bytes_done = job.bytes_total
    job.finished_at = timezone.now()
    job.save(update_fields=["report", "rows_done", "status", "bytes_done", "finished_at"])
    try:
        HUEY.get(progress_key(job_id))  # reading without peek removes it
    except Exception:
        pass
    Path(job.file).unlink(missing_ok=True)  # the upload; the rejected rows stay beside it
    if not any(Path(job.file).parent.iterdir()):
        shutil.rmtree(Path(job.file).parent, ignore_errors=True)
    return job


@db_task()
def run_import_job(job_id: int) -> None:
    run_job(job_id)
