"""The one CRUD mechanism behind every REST resource: schemas derived from the model, list with
filters and pagination, retrieve, create, partial update and delete.

Permissions are decided here and nowhere else in the API: reads go through clm.core.access (a
record the user cannot see is a 404, so names do not leak); writes need the model permission and,
for account-owned records, a visible target account; every write goes through
clm.core.services (validated, audited with via="api", hooks run)."""

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError
from django.http import Http404
from django.utils import timezone, translation
from ninja import FilterSchema, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema

from clm.core import services
from clm.core.access import account_path, visible_accounts, visible_records
from clm.core.text import BIDI_CONTROLS, BIDI_MESSAGE, BLANK_MESSAGE, EXTERNAL_ID_UNAVAILABLE

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
MAX_ID = 2**63 - 1
MAX_OFFSET = 2**31 - 1


class ApiError(HttpError):
    """An HTTP error with the error format's code and details (rendered by clm.api)."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None):
        super().__init__(status, message)
        self.code = code
        self.details = details or []


# ---------------------------------------------------------------------------------------------
# Input types shared by schemas and filters: nothing the database would choke on gets through.


def _no_nul(value: str) -> str:
    """Text every database stores and every reader sees as stored: no NUL characters, no lone
    surrogates, no bidirectional controls."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if BIDI_CONTROLS.search(value):
        raise ValueError(BIDI_MESSAGE)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode (a lone surrogate)") from None
    return value


# A JSON field is part of one record (custom attributes, pain points), not a document store: these
# bounds leave room for any registry of attributes a person can read on a page, and stop a request
# of millions of keys (gigabytes of memory, an answer listing every key) at its first excess.
MAX_JSON_VALUES = 2_000  # keys, items and scalars together
MAX_JSON_DEPTH = 8
MAX_JSON_CHARS = 64 * 1024  # characters of keys and strings together


def _not_blank(value: str) -> str:
    """A required text (a name) with something in it: spaces alone (ideographic ones too) are not."""
    if not value.strip():
        raise ValueError(BLANK_MESSAGE)
    return value


def _plain_json(value: Any) -> Any:
    """JSON a database stores as given (no NUL characters, no NaN or infinity, no absurd numbers)
    and of a record's size. Walked before pydantic copies it, stopping at the first problem."""
    stack = [(value, 0)]
    count = chars = 0

    def counted(text: str) -> None:
        nonlocal count, chars
        count += 1
        chars += len(_no_nul(text))
        if count > MAX_JSON_VALUES:
            raise ValueError(f"is too large: at most {MAX_JSON_VALUES:,} keys and values")
        if chars > MAX_JSON_CHARS:
            raise ValueError(f"is too large: at most {MAX_JSON_CHARS:,} characters of keys and text")

    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            counted(item)
            continue
        counted("")
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("numbers must be finite (no NaN or Infinity)")
        elif isinstance(item, int) and not isinstance(item, bool):
            if abs(item) > MAX_ID:
                raise ValueError("integers must lie within ±9223372036854775807")
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise ValueError(f"is nested too deeply: at most {MAX_JSON_DEPTH} levels")
            if count + len(stack) + len(item) > MAX_JSON_VALUES:
                raise ValueError(f"is too large: at most {MAX_JSON_VALUES:,} keys and values")
            if isinstance(item, dict):
                for key, inner in item.items():
                    if not isinstance(key, str):
                        raise ValueError("keys must be strings")
                    counted(key)
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    """Naive date-times are in the workspace's time zone; all are given on in UTC, since Python
    takes offsets up to ±24 h (and historical ones to the second) that PostgreSQL refuses."""
    if timezone.is_naive(value):
        try:
            value = timezone.make_aware(value)
        except (OverflowError, ValueError):
            raise ValueError("is out of range") from None
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


NOT_BLANK_PATTERN = r"\S"


def decimal_schema(max_digits: int, decimal_places: int) -> dict:
    """What a decimal field takes, as JSON Schema: a string of at most its digits, or a whole
    number (a JSON number with a fraction may not survive binary floating point exactly)."""
    whole = max_digits - decimal_places
    return {
        "anyOf": [
            {"type": "string", "pattern": rf"^-?\d{{1,{whole}}}(\.\d{{1,{decimal_places}}})?$"},
            {"type": "integer", "minimum": -(10**whole) + 1, "maximum": 10**whole - 1},
        ],
        "examples": ["1234.50"],
    }


Text = Annotated[str, AfterValidator(_no_nul)]
Json = Annotated[Any, BeforeValidator(_plain_json)]
LocalDatetime = Annotated[dt.datetime, AfterValidator(_aware)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def choice(choices: type[models.Choices], blank: bool = False):
    """A Literal of a TextChoices' values: an unknown value is refused with the allowed ones listed."""
    values = tuple(str(v) for v in choices.values) + (("",) if blank else ())
    return Literal[values]  # type: ignore[valid-type]


# ---------------------------------------------------------------------------------------------
# Schemas from model fields.

INT_BOUNDS = {
    "SmallIntegerField": (-(2**15), 2**15 - 1),
    "PositiveSmallIntegerField": (0, 2**15 - 1),
    "IntegerField": (-(2**31), 2**31 - 1),
    "PositiveIntegerField": (0, 2**31 - 1),
    "BigIntegerField": (-(2**63), 2**63 - 1),
    "PositiveBigIntegerField": (0, 2**63 - 1),
}


def input_type(f: models.Field):
    """The pydantic annotation that accepts what the model field can store."""
    kind = f.get_internal_type()
    if f.is_relation:
        return Id
    if f.choices:
        return choice_of(f)
    if kind in ("CharField", "EmailField", "SlugField", "URLField"):
        if not f.blank:  # the schema says "something besides spaces" as the validator does
            return Annotated[
                str,
                Field(max_length=f.max_length, json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
                AfterValidator(_no_nul),
                AfterValidator(_not_blank),
            ]
        return Annotated[str, Field(max_length=f.max_length), AfterValidator(_no_nul)]
    if kind == "TextField":
        return Text
    if kind in INT_BOUNDS:
        low, high = INT_BOUNDS[kind]
        return Annotated[int, Field(ge=low, le=high)]
    if kind == "DecimalField":
        return Annotated[
            Decimal,
            Field(max_digits=f.max_digits, decimal_places=f.decimal_places, allow_inf_nan=False),
            WithJsonSchema(decimal_schema(f.max_digits, f.decimal_places)),
        ]
    if kind == "FloatField":
        return Annotated[float, Field(allow_inf_nan=False)]
    if kind == "BooleanField":
        return bool
    if kind == "DateField":
        return dt.date
    if kind == "DateTimeField":
        return LocalDatetime
    if kind == "JSONField":
        default = f.default() if callable(f.default) else f.default
        if isinstance(default, dict):
            return Annotated[dict[str, Any], BeforeValidator(_plain_json)]
        if isinstance(default, list):
            return Annotated[list[Any], BeforeValidator(_plain_json)]
        return Json
    raise TypeError(f"no API type for {f.model.__name__}.{f.name} ({kind})")


def output_type(f: models.Field):
    kind = f.get_internal_type()
    if f.is_relation:
        return int
    if kind in INT_BOUNDS:
        return int
    return {
        "DecimalField": Decimal,
        "FloatField": float,
        "BooleanField": bool,
        "DateField": dt.date,
        "DateTimeField": dt.datetime,
        "JSONField": Any,
    }.get(kind, str)


def choice_of(f: models.Field):
    values = tuple(str(v) for v, _ in f.flatchoices) + (("",) if f.blank else ())
    return Literal[values]  # type: ignore[valid-type]


def english_name(model, plural: bool = False) -> str:
    """A model's name in the API's and importer's English messages (verbose names follow the
    user's language, for the admin)."""
    with translation.override("en"):
        return str(model._meta.verbose_name_plural if plural else model._meta.verbose_name)


def describe(f: models.Field) -> str:
    if f.is_relation:
        return f"id of the {english_name(f.related_model)}"
    return str(f.help_text or f.verbose_name)


def is_required(f: models.Field) -> bool:
    return not (f.has_default() or f.null or f.blank)


def schema(name: str, fields: dict, *, base=Schema, namespace: dict | None = None):
    """A ninja Schema class from {name: (annotation, default or FieldInfo)}."""
    ns = {"__annotations__": {}, "__module__": __name__, **(namespace or {})}
    for key, (annotation, default) in fields.items():
        ns["__annotations__"][key] = annotation
        ns[key] = default
    return type(name, (base,), ns)


class InputSchema(Schema):
    model_config = ConfigDict(extra="forbid")


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


def writable_fields(model: type[models.Model], read_only=(), exclude=()) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and f.editable and f.name not in read_only and f.name not in exclude
    ]


def output_schema(model, name: str, *, exclude=(), m2m=(), extra: dict | None = None, nested=None):
    fields = {"id": (int, ...)}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.name in exclude:
            continue
        annotation = output_type(f)
        if f.null:
            annotation = annotation | None
        fields[f.name] = (annotation, Field(..., validation_alias=f.attname, description=describe(f)))
    namespace = {}
    for m in m2m:
        fields[m] = (list[int], ...)
        namespace[f"resolve_{m}"] = staticmethod(lambda obj, m=m: [o.pk for o in getattr(obj, m).all()])
    for key, (annotation, resolver) in (extra or {}).items():
        fields[key] = (annotation, ...)
        namespace[f"resolve_{key}"] = staticmethod(resolver)
    for key, child in (nested or {}).items():
        fields[key] = (list[child], ...)
    return schema(name, fields, namespace=namespace)


def input_schema(
    model, name: str, *, partial: bool, read_only=(), exclude=(), optional=(), m2m=(), extra=None, rules=None
):
    """`rules`: JSON Schema the object as a whole must meet (say, one of two fields required)."""
    fields = {}
    for f in writable_fields(model, read_only, exclude):
        annotation = input_type(f)
        if f.null:
            annotation = annotation | None
        required = not partial and is_required(f) and f.name not in optional
        default = f.default if not partial and f.has_default() and not callable(f.default) else None
        info = {"description": describe(f)}
        fields[f.name] = (
            annotation,
            Field(..., **info) if required else Field(default, validate_default=False, **info),
        )
    for m in m2m:
        fields[m] = (list[Id], Field(None))
    fields.update(extra or {})
    namespace = {"model_config": ConfigDict(extra="forbid", json_schema_extra=rules)} if rules else None
    return schema(name, fields, base=InputSchema, namespace=namespace)


# ---------------------------------------------------------------------------------------------
# Permissions and visibility: the one place the API decides who may do what.

VERBS = {"view": "see", "add": "create", "change": "change", "delete": "delete"}


def require(user, action: str, model: type[models.Model]) -> None:
    opts = model._meta
    if not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        raise PermissionDenied(f"You may not {VERBS[action]} {english_name(model, plural=True)}.")


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
        raise Http404(f"No {english_name(queryset.model)} with id {pk}.")
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
            errors[f.name] = f"unknown {english_name(target)} {value}"
        elif path and own_account is not None and row[1] != own_account:
            errors[f.name] = f"{english_name(target)} {value} belongs to another account"
    if errors:
        raise invalid(errors)


def check_m2m(model, m2m: dict) -> None:
    for name, ids in m2m.items():
        target = model._meta.get_field(name).related_model
        found = set(target._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise invalid({name: f"unknown {english_name(target)} {', '.join(map(str, missing))}"})


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
        raise invalid({"account_external_id": f"unknown account {external!r}"})
    if len(ids) > 1:
        raise invalid(
            {"account_external_id": f"{external!r} names accounts of several sources; send account_source"}
        )
    if data.get("account_id") not in (None, ids[0]):
        raise invalid({"account_external_id": "names another account than account"})
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
        users = sorted({english_name(o, plural=True) for o in exc.protected_objects})
        message = (
            f"This {english_name(res.model)} is still used by {', '.join(users)}; change or delete those first."
        )
        raise ApiError(409, "conflict", message) from None


# ---------------------------------------------------------------------------------------------
# Endpoints.


def page_schema(name: str, item):
    return schema(
        name,
        {"count": (int, ...), "limit": (int, ...), "offset": (int, ...), "items": (list[item], ...)},
    )


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
