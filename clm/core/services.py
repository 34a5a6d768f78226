"""The one way customer records are created, changed and deleted: validated, in a transaction,
with an audit row, and with the model's own follow-up (ledgers, status dates) run by a hook.

Views, the API, the admin and the CLI call these; bulk imports use the same hooks' pure rules
in bulk (see clm.io)."""

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import models, transaction

from clm.core import audit

# model -> function(instance, before: dict | None, actor) run inside the transaction after save.
_hooks: dict[type[models.Model], list[Callable]] = {}


def after_save(model: type[models.Model]):
    def register(fn):
        _hooks.setdefault(model, []).append(fn)
        return fn

    return register


def _validate(instance: models.Model) -> None:
    # Uniqueness of external ids is enforced by the database constraint (and reported by callers).
    instance.full_clean(validate_unique=False, validate_constraints=True)


def create(model: type[models.Model], data: dict, *, actor=None, via: str = "system", m2m: dict | None = None):
    return save_new(model(**data), actor=actor, via=via, m2m=m2m)


@transaction.atomic
def save_new(instance: models.Model, *, actor=None, via: str = "system", m2m: dict | None = None):
    model = type(instance)
    _validate(instance)
    instance.save()
    for name, values in (m2m or {}).items():
        getattr(instance, name).set(values)
    for hook in _hooks.get(model, ()):
        hook(instance, None, actor)
    audit.record(actor, via, "create", instance, {k: [None, v] for k, v in audit.snapshot(instance).items()})
    return instance


def save_changed(instance: models.Model, *, actor=None, via: str = "system"):
    """Save an instance whose attributes were already changed in memory (the admin's forms)."""
    data = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields if not f.primary_key}
    return update(instance, data, actor=actor, via=via)


@transaction.atomic
def update(instance: models.Model, data: dict, *, actor=None, via: str = "system", m2m: dict | None = None):
    model = type(instance)
    locked = model.objects.select_for_update().get(pk=instance.pk)
    before = audit.snapshot(locked)
    for name, value in data.items():
        setattr(locked, name, value)
    _validate(locked)
    changes = audit.diff(before, audit.snapshot(locked))
    for name, values in (m2m or {}).items():
        field = getattr(locked, name)
        old = sorted(field.values_list("pk", flat=True))
        new = sorted(v.pk if isinstance(v, models.Model) else v for v in values)
        if old != new:
            field.set(values)
            changes[name] = [old, new]
    if changes:
        locked.save()
        for hook in _hooks.get(model, ()):
            hook(locked, before, actor)
        audit.record(actor, via, "update", locked, changes)
    for field in model._meta.concrete_fields:  # the caller's copy reflects what was saved
        setattr(instance, field.attname, getattr(locked, field.attname))
    return locked


@transaction.atomic
def delete(instance: models.Model, *, actor=None, via: str = "system") -> None:
    instance = type(instance).objects.select_for_update().get(pk=instance.pk)
    before = audit.snapshot(instance)
    log = audit.entry(actor, via, "delete", instance, {k: [v, None] for k, v in before.items()})
    instance.delete()
    log.save()


def validation_messages(exc: ValidationError) -> list[dict]:
    """[{field, message}] from a Django ValidationError, for the API's and the importer's reports."""
    if hasattr(exc, "error_dict"):
        return [{"field": f, "message": m} for f, errs in exc.message_dict.items() for m in errs]
    return [{"field": None, "message": m} for m in exc.messages]
