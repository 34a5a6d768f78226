"""One record created or changed by a person in the workspace: the model permission, the record
and everything it refers to visible to them (clm.core.access), then clm.core.services, which
validates, runs the write rules and audits. The workspace's forms call this, as the API calls
clm.core.crud."""

from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext as _

from clm.core import services
from clm.core.access import visible_records
from clm.core.crud import check_references, to_attnames


def may(actor, action: str, model: type[models.Model]) -> bool:
    opts = model._meta
    return actor.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")


def _require(actor, action: str, model: type[models.Model]) -> None:
    if not may(actor, action, model):
        names = model._meta.verbose_name_plural
        message = _("You may not create %(things)s.") if action == "add" else _("You may not change %(things)s.")
        raise PermissionDenied(message % {"things": names})


def save_record(actor, model: type[models.Model], data: dict, *, instance=None, via: str = "ui"):
    """Create a record of `model` from `data` (field names to values), or change `instance`.
    Refuses (PermissionDenied) without the model permission or when the record is not visible
    to the actor; a reference the actor cannot see is unknown (ValidationError), as in the API."""
    _require(actor, "add" if instance is None else "change", model)
    if instance is not None and not visible_records(model, actor).filter(pk=instance.pk).exists():
        raise PermissionDenied(_("You may not change this record."))
    ids = {k: v.pk if isinstance(v, models.Model) else v for k, v in data.items()}
    check_references(model, to_attnames(model, ids), actor, instance)
    if instance is None:
        return services.create(model, data, actor=actor, via=via)
    return services.update(instance, data, actor=actor, via=via)
