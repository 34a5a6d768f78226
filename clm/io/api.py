"""The import and export endpoints, mounted at /api/v1/imports:

    POST /imports/{kind}            upload a CSV/XLSX file (multipart "file" + options); small files
                                    are imported at once, large ones (or background=true) queued
    GET  /imports/jobs/{id}         a job's status, progress and report
    GET  /imports/jobs/{id}/rejected the rejected rows of a --skip-invalid import, as CSV
    GET  /imports/exports/{kind}    export (?format=csv|xlsx), limited to what the caller may see
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from pydantic import TypeAdapter, ValidationError

from clm.core.crud import Text
from clm.io import export, tasks, uploads
from clm.io.kinds import DEFAULT_SOURCE, Kind, UnknownKind, get_kind
from clm.io.mapping import MappingError, parse_map_options
from clm.io.models import ImportJob

INLINE_MAX_BYTES = 5 * 1024 * 1024  # larger uploads are imported in the background

router = Router(tags=["import and export"])


class JobOut(Schema):
    id: int
    kind: str
    file: str
    status: str
    rows_done: int
    bytes_total: int
    bytes_done: int
    progress: dict | None = None
    report: dict
    rejected_url: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


def _kind(name: str) -> Kind:
    try:
        return get_kind(name)
    except UnknownKind as exc:
        raise Http404(str(exc)) from None


def job_out(job: ImportJob) -> dict:
    progress = None
    tasks.fail_if_stale(job)
    if job.status == ImportJob.Status.RUNNING:
        progress = tasks.live_progress(job.pk)
    elif job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        progress = {"done": job.bytes_done, "total": job.bytes_total, "unit": "bytes", "rows": job.rows_done}
    report = dict(job.report or {})
    rejected = report.pop("rejected_file", None)  # a path on the server: clients get the URL
    return {
        "id": job.pk,
        "kind": job.kind,
        "file": job.original_name,
        "status": job.status,
        "rows_done": job.rows_done,
        "bytes_total": job.bytes_total,
        "bytes_done": job.bytes_done,
        "progress": progress,
        "report": report,
        "rejected_url": f"/api/v1/imports/jobs/{job.pk}/rejected" if rejected else None,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


COLUMN_NAMES = TypeAdapter(dict[Text, Text])


def _columns(raw: str | None) -> dict[str, str]:
    """A JSON object {"File Column": "field"} or lines of File Column=field."""
    if not raw:
        return {}
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
        except ValueError:
            raise HttpError(422, _("columns: not a JSON object")) from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise HttpError(422, _('columns: expected {"File Column": "field", ...}'))
        try:  # JSON escapes can spell what the form field itself refuses (NUL, lone surrogates)
            return COLUMN_NAMES.validate_python(value)
        except ValidationError as exc:
            raise HttpError(422, f"columns: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    try:
        return parse_map_options([line for line in raw.splitlines() if line.strip()])
    except MappingError as exc:
        raise HttpError(422, _("columns: %(problem)s") % {"problem": exc}) from None


@router.post("/{kind}", operation_id="start_import", response={200: JobOut, 202: JobOut, 422: dict})
@transaction.non_atomic_requests  # the job row commits before a worker may claim it
def upload(
    request,
    kind: str,
    file: File[UploadedFile],
    source: Form[str] = DEFAULT_SOURCE,
    skip_invalid: Form[bool] = False,
    dry_run: Form[bool] = False,
    mapping: Form[str] = "",
    save_mapping: Form[str] = "",
    columns: Form[str] = "",
    background: Form[bool] = False,
):
    """Import a CSV or XLSX file. Nothing is written if any row is invalid, unless skip_invalid
    (then the rejected rows can be downloaded). Files over 5 MB, or with background=true, are
    queued: poll the job's URL for progress and the report."""
    spec = _kind(kind)
    uploads.require(request.user, spec)
    texts = {"source": source, "mapping": mapping, "save_mapping": save_mapping, "columns": columns}
    for field, text in texts.items():  # Django decodes form fields leniently: only NUL can get here
        if "\x00" in text:
            raise HttpError(422, _("%(field)s: must not contain NUL characters") % {"field": field})
    if not source.strip() or len(source) > 30:
        raise HttpError(422, _("source: 1 to 30 characters"))
    options = {
        "source": source.strip(),
        "skip_invalid": skip_invalid,
        "dry_run": dry_run,
        "mapping": mapping,
        "save_mapping": save_mapping,
        "columns": _columns(columns),
    }
    target = uploads.store(file.chunks(), file.name or "")
    job = uploads.queue(request.user, spec, target, file.name or target.name, options)
    if background or job.bytes_total > INLINE_MAX_BYTES:
        tasks.run_import_job(job.pk)
        job.refresh_from_db()
        return Status(202, job_out(job))
    job = tasks.run_job(job.pk)
    out = job_out(job)
    if job.status == ImportJob.Status.FAILED:
        report = job.report or {}
        details = [{"loc": ["file"], "message": p} for p in report.get("problems", [])]
        with_value = _("%(reason)s (value: %(value)r)")
        details += [
            {"loc": [e["row"], e["column"]], "message": with_value % {"reason": e["reason"], "value": e["value"]}}
            for e in report.get("errors", [])
        ]
        message = _("Nothing was imported: the file has problems; see details.")
        return Status(422, {"error": {"code": "invalid_file", "message": message, "details": details}, "job": out})
    return Status(200, out)


def _job(request, job_id: int) -> ImportJob:
    return uploads.job_of(request.user, job_id)


@router.get("/jobs/{job_id}", operation_id="get_import_job", response=JobOut)
def job_status(request, job_id: int):
    return job_out(_job(request, job_id))


@router.get("/jobs/{job_id}/rejected", operation_id="get_rejected_rows")
def rejected_rows(request, job_id: int):
    job = _job(request, job_id)
    path = (job.report or {}).get("rejected_file")
    if not path or not Path(path).exists():
        raise Http404(_("this import rejected no rows"))
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"{Path(job.original_name).stem}.rejected.csv")


@router.get("/exports/{kind}", operation_id="export_records")
def export_records(request, kind: str, format: str = "csv"):
    """Every record of a kind the caller may see, as CSV (UTF-8 with BOM) or XLSX, with the
    column names the importer recognises."""
    spec = _kind(kind)
    if not request.user.has_perm(spec.view_permission):
        raise PermissionDenied(ngettext("you need the permission %(names)s", "you need the permissions %(names)s", 1)
                               % {"names": spec.view_permission})
    stamp = timezone.localdate().isoformat()
    if format == "csv":
        response = StreamingHttpResponse(export.csv_chunks(spec, request.user), content_type=export.content_type("csv"))
        response["Content-Disposition"] = f'attachment; filename="{spec.name}-{stamp}.csv"'
        return response
    if format == "xlsx":
        buffer = tempfile.TemporaryFile()
        export.write_xlsx(spec, buffer, request.user)
        buffer.seek(0)
        return FileResponse(buffer, as_attachment=True, filename=f"{spec.name}-{stamp}.xlsx", content_type=export.content_type("xlsx"))
    raise HttpError(422, "format: csv or xlsx")
