"""The one way customer records are created, changed and deleted: validated, in a transaction,
with an audit row, and with the model's own follow-up (ledgers, status dates, domain events) run
by its write rules.

A write rule takes what was written (`Written`: the ids created, the ids changed with their
values before and after) and applies one business rule to all of it at once. The same rules run
for one record saved here and for a whole file written by the importer (clm.io.write), so a rule
has one home."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from clm.core import audit, events


@dataclass
class Written:
    """Records of one model just written, inside the transaction that wrote them. `changed`
    holds (id, before, after) with field values by attname, as the audit snapshot gives them."""

    model: type[models.Model]
    created: list[int] = field(default_factory=list)
    changed: list[tuple[int, dict, dict]] = field(default_factory=list)
    actor: object = None
    now: dt.datetime = field(default_factory=timezone.now)
    via: str = "system"

    @property
    def ids(self) -> list[int]:
        return [*self.created, *(pk for pk, _, _ in self.changed)]

    def moved(self, attname: str) -> list[tuple[int, object, object, dict]]:
        """(id, value before, value after, the record after) of the changed records whose
        `attname` differs."""
        return [
            (pk, b.get(attname), a.get(attname), a)
            for pk, b, a in self.changed
            if attname in a and b.get(attname) != a.get(attname)
        ]

    @property
    def human_actor(self):
        return self.actor if getattr(self.actor, "pk", None) else None


WriteRule = Callable[[Written], None]
_rules: dict[type[models.Model], list[WriteRule]] = {}


def write_rule(model: type[models.Model]):
    """Register a rule run after every write of `model`, by the services and by imports."""

    def register(fn: WriteRule) -> WriteRule:
        _rules.setdefault(model, []).append(fn)
        return fn

    return register


DeleteRule = Callable[[models.Model, object, str], None]
_delete_rules: dict[type[models.Model], list[DeleteRule]] = {}


def delete_rule(model: type[models.Model]):
    """Register a rule run inside delete(), before a record of `model` goes (what it cascades to
    is still there): fn(instance, actor, via)."""

    def register(fn: DeleteRule) -> DeleteRule:
        _delete_rules.setdefault(model, []).append(fn)
        return fn

    return register


def announce_created(written: Written, name: str, key: str, *fields: str) -> None:
    """The domain event `name` for every record created, with its id under `key` and the values of
    `fields`, read in one query per batch."""
    if not written.created:
        return
    if not fields:
        events.emit_many(name, [{key: pk} for pk in written.created], actor=written.human_actor)
        return
    from clm.core.bulk import in_batches

    payloads = [
        {key: row[0], **{f: audit.plain(v) for f, v in zip(fields, row[1:], strict=True)}}
        for batch in in_batches(written.created)
        for row in written.model.objects.filter(pk__in=batch).values_list("pk", *fields)
    ]
    events.emit_many(name, payloads, actor=written.human_actor)


def announce_moves(written: Written, name: str, key: str, attname: str, *fields: str, to=None) -> None:
    """The domain event `name` for every changed record whose `attname` moved (to one of `to`, when
    given): its id under `key`, before, after, and the values of `fields` after the change."""
    payloads = [
        {
            key: pk,
            "before": audit.plain(b),
            "after": audit.plain(a),
            **{f: audit.plain(row.get(f)) for f in fields},
        }
        for pk, b, a, row in written.moved(attname)
        if to is None or a in to
    ]
    events.emit_many(name, payloads, actor=written.human_actor)


def apply_rules(written: Written) -> None:
    if not written.created and not written.changed:
        return
    for rule in _rules.get(written.model, ()):
        rule(written)


def _validate(instance: models.Model) -> None:
    # Uniqueness of external ids is enforced by the database constraint (and reported by callers).
    instance.full_clean(validate_unique=False, validate_constraints=True)


def create(
    model: type[models.Model], data: dict, *, actor=None, via: str = "system", m2m: dict | None = None
):
    return save_new(model(**data), actor=actor, via=via, m2m=m2m)


@transaction.atomic
def save_new(instance: models.Model, *, actor=None, via: str = "system", m2m: dict | None = None):
    model = type(instance)
    _validate(instance)
    instance.save()
    for name, values in (m2m or {}).items():
        getattr(instance, name).set(values)
    apply_rules(Written(model, created=[instance.pk], actor=actor, via=via))
    _reread(instance)
    audit.record(actor, via, "create", instance, {k: [None, v] for k, v in audit.snapshot(instance).items()})
    return instance


def save_changed(instance: models.Model, *, actor=None, via: str = "system"):
    """Save an instance whose attributes were already changed in memory (the admin's forms)."""
    data = {
        f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields if not f.primary_key
    }
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
        apply_rules(Written(model, changed=[(locked.pk, before, audit.snapshot(locked))], actor=actor, via=via))
        _reread(locked)
        audit.record(actor, via, "update", locked, changes)
    for field in model._meta.concrete_fields:  # the caller's copy reflects what was saved
        setattr(instance, field.attname, getattr(locked, field.attname))
    return locked


@transaction.atomic
def delete(instance: models.Model, *, actor=None, via: str = "system") -> None:
    instance = type(instance).objects.select_for_update().get(pk=instance.pk)
    before = audit.snapshot(instance)
    log = audit.entry(actor, via, "delete", instance, {k: [v, None] for k, v in before.items()})
    for rule in _delete_rules.get(type(instance), ()):
        rule(instance, actor, via)
    instance.delete()
    log.save()


def _reread(instance: models.Model) -> None:
    """The caller's instance sees what the write rules changed in the database."""
    fields = [f.attname for f in instance._meta.concrete_fields if not f.primary_key]
    instance.refresh_from_db(fields=fields)


def validation_messages(exc: ValidationError) -> list[dict]:
    """[{field, message}] from a Django ValidationError, for the API's and the importer's reports."""
    if hasattr(exc, "error_dict"):
        return [{"field": f, "message": m} for f, errs in exc.message_dict.items() for m in errs]
    return [{"field": None, "message": m} for m in exc.messages]
