"""Uploaded files on their way into an import job: stored under the data directory, previewed
(format, encoding, the column mapping the importer would use, the first rows), then run as an
ImportJob by clm.io.tasks. The API and the workspace's import page both come through here."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation
from django.http import Http404
from django.utils import translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clm.io import mapping as mappings
from clm.io import tasks
from clm.io.kinds import Kind, with_custom_fields
from clm.io.models import ImportJob
from clm.io.readers import FileProblem, open_table

PREVIEW_ROWS = 5


def disk_name(uploaded: str, limit: int = 200) -> str:
    """The name an upload is saved under: no path, only safe characters, at most `limit` bytes
    (file systems take 255) with its extension kept, which tells the reader CSV from XLSX."""
    try:
        name = Path(get_valid_filename(Path(uploaded).name))
    except SuspiciousFileOperation:  # nothing left of it, or "." / ".."
        name = Path("upload")
    suffix = name.suffix[:16]
    stem = name.name[: len(name.name) - len(name.suffix)]
    room = limit - len(suffix.encode())
    return stem.encode()[:room].decode("utf-8", "ignore") + suffix


def store(chunks, uploaded_name: str) -> Path:
    """Write an upload's pieces into a folder of its own; returns the file's path."""
    folder = tasks.upload_dir(uuid.uuid4().hex)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / disk_name(uploaded_name or "")
    with open(target, "wb") as fh:
        for piece in chunks:
            fh.write(piece)
    return target


def stored(token: str, filename: str) -> Path | None:
    """A stored upload named by its folder's token and its file name, if it is still there."""
    if len(token) != 32 or not all(c in "0123456789abcdef" for c in token) or disk_name(filename) != filename:
        return None
    path = tasks.upload_dir(token) / filename
    return path if path.is_file() else None


def copy_for_job(path: Path) -> Path:
    """A copy of a stored upload for one job (a job removes its file when it ends, and a dry run
    is followed by the real import of the same upload)."""
    folder = tasks.upload_dir(uuid.uuid4().hex)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(path, folder / path.name))


def discard(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


def require(user, kind: Kind) -> None:
    missing = [p for p in kind.permissions if not user.has_perm(p)]
    if missing:
        raise PermissionDenied(ngettext(
            "you need the permission %(names)s", "you need the permissions %(names)s", len(missing)
        ) % {"names": ", ".join(missing)})


@dataclass
class Preview:
    kind: Kind
    format: str | None = None
    encoding: str | None = None
    header: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # file column -> field name ("" not imported)
    rows: list[list[str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def preview(kind: Kind, path: Path, name: str, explicit: dict[str, str] | None = None) -> Preview:
    """What the importer sees in the file: its format and encoding, the mapping it would use
    (recognised from the header, `explicit` {file column: field or ""} winning), the first rows
    and what stops the import before any row is read (missing required columns)."""
    kind = with_custom_fields(kind)
    out = Preview(kind)
    try:
        table = open_table(path, name)
    except FileProblem as exc:
        out.problems = [str(exc)]
        return out
    out.format, out.encoding, out.header = table.format, table.encoding, table.header
    try:
        mapped = mappings.map_columns(kind, table.header, explicit or {})
        out.problems = mapped.problems
    except mappings.MappingError as exc:  # shown with the mapping recognised from the header
        mapped = mappings.map_columns(kind, table.header)
        out.problems = [str(exc)]
    out.columns = {h: "" for h in table.header if h} | {table.header[pos]: f.name for pos, f in mapped.columns.items()}
    first = next(table.chunks(PREVIEW_ROWS), None)
    if first is not None:
        out.rows = first.frame.head(PREVIEW_ROWS).to_numpy(dtype=object).tolist()
    return out


def queue(user, kind: Kind, path: Path, original_name: str, options: dict) -> ImportJob:
    """An ImportJob for a stored file, committed before a worker may claim it. The job keeps the
    uploader's language: the worker writes the report and the rejected rows in it."""
    options = {**options, "language": translation.get_language() or settings.LANGUAGE_CODE}
    return ImportJob.objects.create(
        kind=kind.name,
        file=str(path),
        original_name=(original_name or path.name).replace("\x00", "")[:255],  # as the column takes it
        options=options,
        bytes_total=path.stat().st_size,
        created_by=user,
    )


def job_of(user, job_id: int) -> ImportJob:
    """An import job its uploader (or a superuser) may follow; 404 for anyone else."""
    job = ImportJob.objects.filter(pk=job_id).first() if 0 < job_id < 2**63 else None
    if job is None or not (user.is_superuser or job.created_by_id == user.pk):
        raise Http404(_("no such import job"))
    return job
