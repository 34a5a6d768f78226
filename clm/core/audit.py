"""The audit log's writer: snapshots of a record's fields, their difference, and the rows."""

import datetime as dt
import uuid
from decimal import Decimal

from django.db import models

from clm.core.models import AuditLog


def plain(value):
    """A JSON-safe form of a field value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model) -> dict:
    """The concrete, editable field values of a record (foreign keys as ids)."""
    values = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key or not field.editable and field.name not in ("created_at",):
            continue
        values[field.attname] = plain(getattr(instance, field.attname))
    return values


def diff(before: dict, after: dict) -> dict:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def entry(actor, via: str, action: str, instance: models.Model, changes: dict) -> AuditLog:
    return AuditLog(
        actor=actor if getattr(actor, "pk", None) else None,
        via=via,
        action=action,
        model=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=changes,
    )


def record(actor, via: str, action: str, instance: models.Model, changes: dict) -> AuditLog:
    log = entry(actor, via, action, instance, changes)
    log.save()
    return log


def record_many(entries: list[AuditLog], batch_size: int = 2000) -> None:
    AuditLog.objects.bulk_create(entries, batch_size=batch_size)
