"""The API's input types and the ninja schemas derived from model fields: what each field
accepts (nothing a database would choke on gets through) and how it is shown. Used by
clm.core.crud and by the hand-written routers."""

import datetime as dt
import math
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db import models
from django.utils import timezone, translation
from ninja import Schema
from ninja.errors import HttpError
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema

from clm.core.text import BIDI_CONTROLS, BIDI_MESSAGE, BLANK_MESSAGE

MAX_ID = 2**63 - 1


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


def page_schema(name: str, item):
    return schema(
        name,
        {"count": (int, ...), "limit": (int, ...), "offset": (int, ...), "items": (list[item], ...)},
    )
