"""The import page: upload a CSV or XLSX file, see its encoding and the column mapping with the
first rows, fix the mapping, try a dry run, then follow the real import job (htmx polling) and
download its rejected rows. The file goes through clm.io (uploads, the importer, its jobs): the
same path as `clm import` and the API."""

from pathlib import Path

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from clm.io import tasks, uploads
from clm.io.api import job_out
from clm.io.kinds import DEFAULT_SOURCE, KINDS, get_kind
from clm.io.models import ImportJob
from clm.web.views import is_htmx

PENDING = "clm.import.pending"  # the session's note of the file uploaded and not yet imported
SHOWN_ERRORS = 50

STATUS_LABELS = {
    ImportJob.Status.QUEUED: gettext_lazy("Waiting for the background worker"),
    ImportJob.Status.RUNNING: gettext_lazy("Importing"),
    ImportJob.Status.DONE: gettext_lazy("Finished"),
    ImportJob.Status.FAILED: gettext_lazy("Stopped: nothing was written"),
}
OUTCOMES = {
    "done": gettext_lazy("Imported."),
    "dry_run": gettext_lazy("Dry run: nothing was written. This is what the import would do."),
    "invalid": gettext_lazy("Nothing was imported: some rows are invalid (see below)."),
    "failed": gettext_lazy("Nothing was imported: the file has problems (see below)."),
}


def importable_kinds(user) -> list[tuple[str, str]]:
    return [
        (name, str(kind.model._meta.verbose_name_plural).capitalize())
        for name, kind in KINDS.items()
        if all(user.has_perm(p) for p in kind.permissions)
    ]


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"))
    file = forms.FileField(
        label=gettext_lazy("File (CSV or XLSX)"),
        help_text=gettext_lazy("CSV in UTF-8 or GBK (as Excel saves it on Chinese Windows), or an Excel workbook (.xlsx)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )
    source = forms.CharField(
        label=gettext_lazy("Source system"), max_length=30, initial=DEFAULT_SOURCE,
        help_text=gettext_lazy("Where the file comes from (crm, erp…): importing it again updates the same records."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = importable_kinds(user)


def field_label(f) -> str:
    """An import field by the name its users give the column: the first Chinese name the importer
    recognises for it on a Chinese page, the column name the export writes otherwise."""
    if get_language().startswith("zh"):
        return next((a for a in f.aliases if not a.isascii()), f.header)
    return f.header


class MappingForm(forms.Form):
    """One choice per file column: the field it goes into, or not imported."""

    skip_invalid = forms.BooleanField(
        label=gettext_lazy("Import the valid rows and set the invalid ones aside (downloadable)"), required=False,
    )

    def __init__(self, *args, preview, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("— not imported —"))] + [
            (f.name, field_label(f) + (" *" if f.required else "")) for f in preview.kind.fields
        ]
        self.columns = []
        for i, column in enumerate(preview.header):
            if not column:
                continue
            name = f"col{i}"
            self.fields[name] = forms.ChoiceField(label=column, choices=choices, required=False,
                                                  initial=preview.columns.get(column, ""))
            self.columns.append((column, name))

    def explicit(self) -> dict[str, str]:
        return {column: self.cleaned_data.get(name) or "" for column, name in self.columns}


def _pending(request):
    """(note, path) of the upload waiting in this session, or (None, None)."""
    note = request.session.get(PENDING)
    path = uploads.stored(note.get("token", ""), note.get("file", "")) if isinstance(note, dict) else None
    return (note, path) if path else (None, None)


@login_required
def import_start(request):
    if not importable_kinds(request.user):
        raise PermissionDenied(_("You may not import records."))
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        _note, old = _pending(request)
        if old:
            uploads.discard(old)
        path = uploads.store(upload.chunks(), upload.name)
        request.session[PENDING] = {
            "token": path.parent.name, "file": path.name, "name": upload.name[:255],
            "kind": form.cleaned_data["kind"], "source": form.cleaned_data["source"].strip(), "columns": {},
        }
        return redirect("web:import_mapping")
    status = 422 if form.errors else 200
    jobs = ImportJob.objects.filter(created_by=request.user).order_by("-created_at")[:10]
    return render(request, "web/imports/start.html", {"form": form, "jobs": jobs, "nav": "accounts",
                                                       "status_labels": STATUS_LABELS}, status=status)


@login_required
def import_mapping(request):
    note, path = _pending(request)
    if note is None:
        messages.info(request, _("Upload the file again: the one you chose is no longer waiting."))
        return redirect("web:import")
    kind = get_kind(note["kind"])
    uploads.require(request.user, kind)
    preview = uploads.preview(kind, path, note["name"], note.get("columns"))
    form = MappingForm(request.POST or None, preview=preview)
    if request.method == "POST" and form.is_valid():
        note["columns"] = form.explicit()
        request.session[PENDING] = note
        preview = uploads.preview(kind, path, note["name"], note["columns"])
        action = request.POST.get("action")
        if action in ("dry_run", "import") and not preview.problems:
            dry_run = action == "dry_run"
            options = {
                "source": note["source"], "dry_run": dry_run, "columns": note["columns"],
                # a dry run sets the invalid rows aside, so that they can be looked at before the import
                "skip_invalid": dry_run or form.cleaned_data["skip_invalid"],
            }
            job = uploads.queue(request.user, kind, uploads.copy_for_job(path), note["name"], options)
            if not dry_run:
                uploads.discard(path)
                del request.session[PENDING]
            tasks.run_import_job(job.pk)
            return redirect("web:import_job", pk=job.pk)
        form = MappingForm(initial=form.cleaned_data, preview=preview)
    context = {
        "note": note, "preview": preview, "form": form, "kind_label": kind.model._meta.verbose_name_plural,
        "rows": [[row[i] if i < len(row) else "" for i, column in enumerate(preview.header) if column] for row in preview.rows],
        "nav": "accounts",
    }
    template = "web/imports/_mapping.html" if is_htmx(request) else "web/imports/mapping.html"
    return render(request, template, context, status=422 if preview.problems and request.method == "POST" else 200)


def _job_context(request, job: ImportJob) -> dict:
    out = job_out(job)
    report = out["report"]
    progress = out["progress"] or {}
    total = progress.get("total") or 0
    return {
        "job": job, "out": out, "report": report, "status_label": STATUS_LABELS.get(job.status, job.status),
        "outcome": OUTCOMES.get(report.get("status"), ""),
        "percent": round(100 * (progress.get("done") or 0) / total) if total else 0,
        "errors": report.get("errors", [])[:SHOWN_ERRORS],
        "finished": job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED),
        "has_rejected": bool(out["rejected_url"]),
        "can_import": report.get("status") == "dry_run" and _pending(request)[0] is not None,
        "kind_label": get_kind(job.kind).model._meta.verbose_name_plural,
    }


@login_required
@require_GET
def import_job(request, pk):
    job = uploads.job_of(request.user, pk)
    return render(request, "web/imports/job.html", {**_job_context(request, job), "nav": "accounts"})


@login_required
@require_GET
def import_job_status(request, pk):
    job = uploads.job_of(request.user, pk)
    return render(request, "web/imports/_job.html", _job_context(request, job))


@login_required
@require_GET
def import_rejected(request, pk):
    job = uploads.job_of(request.user, pk)
    path = (job.report or {}).get("rejected_file")
    if not path or not Path(path).exists():
        raise Http404(_("This import set no rows aside."))
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"{Path(job.original_name).stem}.rejected.csv")
