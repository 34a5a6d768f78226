"""The one CRUD mechanism behind every REST resource: schemas derived from the model, list with
filters and pagination, retrieve, create, partial update and delete.

Permissions are decided here and nowhere else in the API: reads go through clm.core.access (a
record the user cannot see is a 404, so names do not leak); writes need the model permission and,
for account-owned records, a visible target account; every write goes through
clm.core.services (validated, audited with via="api", hooks run)."""


import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import FilterSchema, Query, Router, Status
from pydantic import Field

from clm.core import services
from clm.core.access import account_path, visible_accounts, visible_records
from clm.core.schemas import (  # the types routers import from here too
    MAX_ID,
    ApiError,
    Id,
    InputSchema,
    Json,
    LocalDatetime,
    Text,
    choice,
    english_name,
    input_schema,
    output_schema,
    page_schema,
)
from clm.core.text import EXTERNAL_ID_UNAVAILABLE

__all__ = [
    "ApiError",
    "Id",
    "InputSchema",
    "Json",
    "LocalDatetime",
    "Text",
    "choice",
    "english_name",
]

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
MAX_OFFSET = 2**31 - 1


@dataclass
class Nested:
    """Children written together with their parent (an order's lines): replaced as a whole."""

    model: type[models.Model]
    fk: str  # the child's foreign key to the parent
    number: str = ""  # a field numbered 1..n in the given order when left out


@dataclass
class History:
    """A read-only list under a record, e.g. GET /subscriptions/{id}/changes."""

    path: str
    model: type[models.Model]
    fk: str
    select_related: tuple[str, ...] = ()


@dataclass
class Resource:
    model: type[models.Model]
    path: str
    filters: type[FilterSchema] | None = None
    read_only: tuple[str, ...] = ()  # output, never written through the API
    hidden: tuple[str, ...] = ()  # internal (an index, a cache): neither shown nor written
    optional: tuple[str, ...] = ()  # required by the model, but may be left out (prepare fills it)
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    m2m: tuple[str, ...] = ()
    nested: dict[str, Nested] = field(default_factory=dict)
    histories: list[History] = field(default_factory=list)
    extra_output: dict[str, tuple[Any, Callable]] = field(default_factory=dict)
    # (data, user, instance or None, nested children) -> data: resource-specific shaping.
    prepare: Callable | None = None
    accept_external_account: bool = True

    @property
    def opts(self):
        return self.model._meta

    @property
    def name(self) -> str:
        return self.opts.model_name

    @property
    def account_path(self) -> str | None:
        return account_path(self.model)


# ---------------------------------------------------------------------------------------------
# Permissions and visibility: the one place the API decides who may do what.

REFUSALS = {
    "view": gettext_lazy("You may not see %(things)s."),
    "add": gettext_lazy("You may not create %(things)s."),
    "change": gettext_lazy("You may not change %(things)s."),
    "delete": gettext_lazy("You may not delete %(things)s."),
}


def name_of(model, plural: bool = False) -> str:
    """A model's name in the caller's language (English unless the request asked for another)."""
    return str(model._meta.verbose_name_plural if plural else model._meta.verbose_name)


def require(user, action: str, model: type[models.Model]) -> None:
    opts = model._meta
    if not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        raise PermissionDenied(REFUSALS[action] % {"things": name_of(model, plural=True)})


def visible(model: type[models.Model], user) -> models.QuerySet:
    return visible_records(model, user)


def get_visible(res: Resource, user, pk: int, related: bool = False) -> models.Model:
    qs = visible(res.model, user)
    if related:
        qs = qs.select_related(*res.select_related).prefetch_related(*res.prefetch_related)
    return one_or_404(qs, pk)


def one_or_404(queryset: models.QuerySet, pk: int) -> models.Model:
    """The record with this id among those the caller may see; 404 otherwise (also for ids no
    database could hold), so what is hidden and what does not exist look the same."""
    obj = queryset.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if obj is None:
        raise Http404(_("No %(thing)s with id %(id)s.") % {"thing": name_of(queryset.model), "id": pk})
    return obj


def invalid(errors: dict[str, str]) -> ValidationError:
    return ValidationError({k: [v] for k, v in errors.items()})


def check_references(model, data: dict, user, instance=None) -> None:
    """Every id the data refers to must exist and, when it belongs to an account, be visible to
    the user (otherwise it is 'unknown', as if it did not exist) and belong to the record's own
    account. One query per referenced field."""
    errors = {}
    own_path = account_path(model)
    own_account = None
    if own_path == "account":
        own_account = data.get("account_id", getattr(instance, "account_id", None))
    for f in model._meta.concrete_fields:
        if not f.is_relation or data.get(f.attname) is None:
            continue
        value = data[f.attname]
        target = f.related_model
        path = account_path(target)
        qs = visible(target, user)
        if path:
            row = qs.filter(pk=value).values_list("pk", f"{path}_id").first()
        else:
            row = qs.filter(pk=value).values_list("pk", "pk").first()
        if row is None:
            errors[f.name] = _("unknown %(thing)s %(id)s") % {"thing": name_of(target), "id": value}
        elif path and own_account is not None and row[1] != own_account:
            errors[f.name] = _("%(thing)s %(id)s belongs to another account") % {"thing": name_of(target), "id": value}
    if errors:
        raise invalid(errors)


def check_m2m(model, m2m: dict) -> None:
    for name, ids in m2m.items():
        target = model._meta.get_field(name).related_model
        found = set(target._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise invalid({name: _("unknown %(thing)s %(id)s") % {"thing": name_of(target), "id": ", ".join(map(str, missing))}})


def resolve_external_account(data: dict, user) -> None:
    """Integrations refer to accounts by their own id: account_external_id (+ account_source)."""
    external = data.pop("account_external_id", None)
    source = data.pop("account_source", None)
    if external is None:
        return
    qs = visible_accounts(user).filter(external_id=external)
    if source is not None:
        qs = qs.filter(source=source)
    ids = list(qs.values_list("pk", flat=True)[:2])
    if not ids:
        raise invalid({"account_external_id": _("unknown account %(id)r") % {"id": external}})
    if len(ids) > 1:
        raise invalid(
            {"account_external_id": _("%(id)r names accounts of several sources; send account_source") % {"id": external}}
        )
    if data.get("account_id") not in (None, ids[0]):
        raise invalid({"account_external_id": _("names another account than account")})
    data["account_id"] = ids[0]


def to_attnames(model, data: dict) -> dict:
    out = {}
    for key, value in data.items():
        try:
            f = model._meta.get_field(key)
        except FieldDoesNotExist:
            out[key] = value
            continue
        out[f.attname if f.concrete else key] = value
    return out


def conflict_or_invalid(exc: ValidationError):
    """A uniqueness violation (duplicate external id, tag value, month) is a 409, the rest a 422."""
    if not hasattr(exc, "error_dict"):
        raise exc
    for key, errors in exc.error_dict.items():
        for error in errors:
            if error.code in ("unique", "unique_together"):
                fields = list((error.params or {}).get("unique_check", ())) or (
                    [] if key == NON_FIELD_ERRORS else [key]
                )
                message = " ".join(error.messages)
                if "external_id" in fields:  # the same answer whether or not the holder is visible
                    message = translation.gettext(EXTERNAL_ID_UNAVAILABLE).capitalize() + "."
                raise ApiError(409, "conflict", message, [{"loc": ["body", *fields], "message": message}])
    raise exc


# ---------------------------------------------------------------------------------------------
# Writes.


def write(res: Resource, user, payload: dict, instance=None):
    """Create (instance None) or partially update a record with its m2m and nested children,
    in one transaction, through clm.core.services."""
    m2m = {k: payload.pop(k) for k in res.m2m if k in payload}
    children = {k: payload.pop(k) for k in res.nested if k in payload}
    data = to_attnames(res.model, payload)
    if res.account_path == "account" and res.accept_external_account:
        resolve_external_account(data, user)
    if res.prepare:
        data = res.prepare(data, user, instance, children)
    references = data
    if instance is not None and "account_id" in data:
        # Moving a record to another account: what it already refers to must move along.
        current = {
            f.attname: getattr(instance, f.attname) for f in res.model._meta.concrete_fields if f.is_relation
        }
        references = {**current, **data}
    check_references(res.model, references, user, instance)
    check_m2m(res.model, m2m)
    for key, rows in children.items():
        nested = res.nested[key]
        for i, row in enumerate(rows):
            try:
                check_references(nested.model, to_attnames(nested.model, row), user)
            except ValidationError as exc:
                raise invalid(
                    {f"{key}.{i}.{f}": m for f, ms in exc.message_dict.items() for m in ms}
                ) from None
    try:
        with transaction.atomic():
            if instance is None:
                obj = services.create(res.model, data, actor=user, via="api", m2m=m2m)
            else:
                obj = services.update(instance, data, actor=user, via="api", m2m=m2m)
            for key, rows in children.items():
                replace_children(res.nested[key], obj, rows, user, key)
    except ValidationError as exc:
        conflict_or_invalid(exc)
    return obj


def replace_children(nested: Nested, parent, rows: list[dict], user, key: str) -> None:
    for old in nested.model._default_manager.filter(**{nested.fk: parent}):
        services.delete(old, actor=user, via="api")
    for i, row in enumerate(rows, start=1):
        data = to_attnames(nested.model, row)
        data[f"{nested.fk}_id"] = parent.pk
        if nested.number and data.get(nested.number) is None:
            data[nested.number] = i
        try:
            services.create(nested.model, data, actor=user, via="api")
        except ValidationError as exc:
            raise invalid(
                {f"{key}.{i - 1}.{f}": m for f, ms in exc.message_dict.items() for m in ms}
            ) from None


def remove(res: Resource, user, instance) -> None:
    try:
        services.delete(instance, actor=user, via="api")
    except ProtectedError as exc:
        users = sorted({name_of(o, plural=True) for o in exc.protected_objects})
        message = _("This %(thing)s is still used by %(users)s; change or delete those first.") % {
            "thing": name_of(res.model), "users": ", ".join(users),
        }
        raise ApiError(409, "conflict", message) from None


# ---------------------------------------------------------------------------------------------
# Endpoints.


def paginate(qs, limit: int, offset: int) -> dict:
    return {"count": qs.count(), "limit": limit, "offset": offset, "items": list(qs[offset : offset + limit])}


def stable(qs, model) -> models.QuerySet:
    ordering = list(model._meta.ordering or [])
    if "pk" not in ordering and "id" not in ordering and "-id" not in ordering:
        ordering.append("pk")
    return qs.order_by(*ordering)


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}")]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET, description="records to skip")]


class NoFilters(FilterSchema):
    pass


def register(router: Router, res: Resource) -> None:
    """Add list, create, retrieve, partial update, delete (and any histories) for one resource."""
    model, label, plural = res.model, res.model.__name__, english_name(res.model, plural=True)
    nested_out = {
        k: output_schema(n.model, f"{n.model.__name__}Out", exclude=(n.fk,)) for k, n in res.nested.items()
    }
    nested_in = {
        k: (
            list[
                input_schema(
                    n.model, f"{n.model.__name__}In", partial=False, exclude=(n.fk,), optional=(n.number,)
                )
            ],
            None,
        )
        for k, n in res.nested.items()
    }
    extra_in = dict(nested_in)
    if res.account_path == "account" and res.accept_external_account:
        extra_in["account_external_id"] = (
            Annotated[
                Text | None, Field(None, min_length=1, max_length=100, description="the account's id in your system")
            ],
            None,
        )
        extra_in["account_source"] = (Annotated[Text | None, Field(None, max_length=30)], None)
    optional = set(res.optional)
    if res.account_path == "account" and res.accept_external_account:
        optional.add("account")
    Out = output_schema(
        model, f"{label}Out", exclude=res.hidden, m2m=res.m2m, extra=res.extra_output, nested=nested_out
    )
    Create = input_schema(
        model,
        f"{label}Create",
        partial=False,
        read_only=res.read_only,
        optional=tuple(optional),
        m2m=res.m2m,
        extra=extra_in,
        # the account by CLM's id or by the caller's own
        rules={
            "anyOf": [
                {"required": [key], "properties": {key: {"not": {"type": "null"}}}}
                for key in ("account", "account_external_id")
            ]
        }
        if "account" in optional and res.opts.get_field("account").null is False
        else None,
    )
    Patch = input_schema(
        model, f"{label}Patch", partial=True, read_only=res.read_only, m2m=res.m2m, extra=extra_in
    )
    Page = page_schema(f"{label}Page", Out)
    Filters = res.filters or NoFilters
    tags = [plural]

    def listed(qs):
        return stable(qs.select_related(*res.select_related).prefetch_related(*res.prefetch_related), model)

    @router.get(
        f"/{res.path}",
        response=Page,
        operation_id=f"list_{re.sub(r'[^a-z0-9]+', '_', res.path)}",  # list_accounts, list_tag_categories
        tags=tags,
        summary=f"List {plural}",
    )
    def list_records(request, filters: Query[Filters], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
        require(request.user, "view", model)
        return paginate(listed(filters.filter(visible(model, request.user))), limit, offset)

    @router.post(
        f"/{res.path}",
        response={201: Out},
        operation_id=f"create_{res.name}",
        tags=tags,
        summary=f"Create a {english_name(res.model)}",
    )
    def create_record(request, payload: Create):
        require(request.user, "add", model)
        obj = write(res, request.user, payload.model_dump(exclude_unset=True))
        return Status(201, reload(res, obj))

    @router.get(
        f"/{res.path}/{{int:id}}",
        response=Out,
        operation_id=f"get_{res.name}",
        tags=tags,
        summary=f"One {english_name(res.model)}",
    )
    def get_record(request, id: int):
        require(request.user, "view", model)
        return get_visible(res, request.user, id, related=True)

    @router.patch(
        f"/{res.path}/{{int:id}}",
        response=Out,
        operation_id=f"update_{res.name}",
        tags=tags,
        summary=f"Change a {english_name(res.model)}",
    )
    def update_record(request, id: int, payload: Patch):
        require(request.user, "change", model)
        instance = get_visible(res, request.user, id)
        write(res, request.user, payload.model_dump(exclude_unset=True), instance)
        return reload(res, instance)

    @router.delete(
        f"/{res.path}/{{int:id}}",
        response={204: None},
        operation_id=f"delete_{res.name}",
        tags=tags,
        summary=f"Delete a {english_name(res.model)}",
    )
    def delete_record(request, id: int):
        require(request.user, "delete", model)
        remove(res, request.user, get_visible(res, request.user, id))
        return Status(204, None)

    for history in res.histories:
        register_history(router, res, history, tags)


def reload(res: Resource, obj):
    qs = res.model._default_manager.select_related(*res.select_related).prefetch_related(
        *res.prefetch_related
    )
    return qs.get(pk=obj.pk)


def register_history(router: Router, res: Resource, history: History, tags: list[str]) -> None:
    Out = output_schema(history.model, f"{history.model.__name__}Out")
    Page = page_schema(f"{history.model.__name__}Page", Out)
    name = f"{res.name}_{history.path.replace('-', '_')}"

    @router.get(
        f"/{res.path}/{{int:id}}/{history.path}", response=Page, operation_id=f"list_{name}", tags=tags
    )
    def list_history(request, id: int, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
        require(request.user, "view", res.model)
        parent = get_visible(res, request.user, id)
        qs = history.model._default_manager.filter(**{history.fk: parent}).select_related(
            *history.select_related
        )
        return paginate(stable(qs, history.model), limit, offset)
