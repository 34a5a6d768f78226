"""Import bookkeeping: saved header mappings and the background import jobs."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportMapping(models.Model):
    """A saved header mapping (file column -> field) for one import kind, reusable by name."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=30)
    columns = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("import mapping")
        verbose_name_plural = _("import mappings")
        db_table = "core_importmapping"  # created by clm.core before the model moved here
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="import_mapping_unique_name")]

    def __str__(self):
        return f"{self.kind}: {self.name}"


class ImportJob(models.Model):
    """An import that runs in the background; its progress and report are polled by the uploader."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    kind = models.CharField(max_length=30)
    file = models.CharField(max_length=500)
    original_name = models.CharField(max_length=255)
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.PositiveBigIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    report = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        db_table = "core_importjob"


class ApplyJournal(models.Model):
    """How to undo what an import being applied in chunks has written so far (SQLite only, see
    clm.io.journal): one row per row written; emptied when the import is in whole."""

    apply = models.CharField(max_length=32, db_index=True)
    op = models.CharField(max_length=1)  # B(egun: rid is the process id), I(nsert), U(pdate), D(elete)
    tbl = models.CharField(max_length=200)
    rid = models.BigIntegerField()
    old = models.TextField()  # the old row's values as SQL literals (U, D)

    class Meta:
        verbose_name = _("import journal entry")
        verbose_name_plural = _("import journal entries")
