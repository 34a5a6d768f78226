"""Which file column holds which field: recognised from the header (English and Chinese names,
Salesforce's and HubSpot's export headers), overridden by a saved mapping or explicit entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from clm.io.kinds import Field, Kind, token
from clm.io.models import ImportMapping


class MappingError(ValueError):
    """An explicit or saved mapping that cannot be used; the message is for the user."""


@dataclass
class Mapping:
    kind: Kind
    header: list[str]
    columns: dict[int, Field] = field(default_factory=dict)  # column position -> field
    ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # missing required columns: nothing is read

    def position(self, name: str) -> int | None:
        return next((pos for pos, f in self.columns.items() if f.name == name), None)

    def has(self, name: str) -> bool:
        return self.position(name) is not None

    def column_name(self, name: str) -> str:
        pos = self.position(name)
        return self.header[pos] if pos is not None else name

    def saved_form(self) -> dict[str, str]:
        """{file column: field name, or "" for a column not imported}, as ImportMapping stores it."""
        out = {h: "" for h in self.header if h}
        for pos, f in self.columns.items():
            out[self.header[pos]] = f.name
        return out


def resolve_field(kind: Kind, name: str) -> Field | None:
    """A field named by its name, export header or any alias."""
    wanted = token(name)
    return next((f for f in kind.fields if wanted in f.tokens), None)


def map_columns(kind: Kind, header: list[str], explicit: dict[str, str] | None = None, *, strict=()) -> Mapping:
    """Map the header. `explicit` ({file column: field or ""}) wins over recognition; its columns
    named in `strict` must exist in the file (those given on the command line), others (a saved
    mapping's) may be absent."""
    mapping = Mapping(kind, list(header))
    explicit = explicit or {}
    by_token = {}
    for pos, name in enumerate(header):
        by_token.setdefault(token(name), pos)
    taken: dict[int, Field | None] = {}
    for column, target in explicit.items():
        pos = header.index(column) if column in header else by_token.get(token(column))
        if pos is None:
            if column in strict:
                raise MappingError(_("the mapping names a column %(column)r that the file does not have") % {"column": column})
            continue
        if not target:
            taken[pos] = None
            continue
        f = resolve_field(kind, target)
        if f is None:
            names = ", ".join(f.name for f in kind.fields)
            raise MappingError(_("the mapping's %(target)r is not a field of %(kind)s (fields: %(names)s)") % {
                "target": target, "kind": kind.name, "names": names,
            })
        taken[pos] = f
    for pos, f in taken.items():
        if f is not None:
            if mapping.has(f.name):
                raise MappingError(_("the mapping puts two columns into %(field)s") % {"field": f.name})
            mapping.columns[pos] = f

    candidates: dict[str, list[tuple[int, int]]] = {}
    for pos, name in enumerate(header):
        if pos in taken or not token(name):
            continue
        wanted = token(name)
        for f in kind.fields:
            if wanted in f.tokens:
                candidates.setdefault(f.name, []).append((f.tokens.index(wanted), pos))
                break
    for name, found in candidates.items():
        if mapping.has(name):
            continue
        found.sort()
        mapping.columns[found[0][1]] = kind.by_name[name]
    mapping.columns = dict(sorted(mapping.columns.items()))
    mapping.ignored = [h for pos, h in enumerate(header) if pos not in mapping.columns and h]
    mapping.problems = missing_columns(kind, mapping)
    return mapping


def missing_columns(kind: Kind, mapping: Mapping) -> list[str]:
    problems = []
    for f in kind.required_fields():
        if not mapping.has(f.name):
            problems.append(_missing(f))
    if kind.imported and not mapping.has("external_id"):
        fallback = kind.fallback_key and mapping.has(kind.fallback_key)
        if not fallback:
            also = _(" (or, without ids, a %(column)r column)") % {"column": kind.by_name[kind.fallback_key].header} if kind.fallback_key else ""
            problems.append(_missing(kind.by_name["external_id"]) + also + _(": re-imports match records by it"))
    for group in kind.required_groups:
        if not any(mapping.has(name) for name in group):
            fields = [kind.by_name[name] for name in group]
            problems.append(_("missing required column %(column)r (or %(others)s)") % {
                "column": fields[0].header, "others": " + ".join(repr(f.header) for f in fields[1:]),
            })
    return problems


def _missing(f: Field) -> str:
    examples = ", ".join(repr(a) for a in f.aliases[:4])
    if not examples:
        return _("missing required column %(column)r") % {"column": f.header}
    return _("missing required column %(column)r (also recognised: %(examples)s, ...)") % {
        "column": f.header, "examples": examples,
    }


def parse_map_options(items: list[str] | None) -> dict[str, str]:
    """'File Column=field' entries (field empty: do not import the column)."""
    out = {}
    for item in items or ():
        column, sep, target = item.partition("=")
        if not sep or not column.strip():
            raise MappingError(_('--map %(item)r: write it as "File Column=field"') % {"item": item})
        out[column.strip()] = target.strip()
    return out


def load_saved(kind: Kind, name: str) -> dict[str, str]:
    saved = ImportMapping.objects.filter(kind=kind.name, name=name).first()
    if saved is None:
        known = ", ".join(ImportMapping.objects.filter(kind=kind.name).values_list("name", flat=True)) or _("none")
        raise MappingError(_("no saved mapping %(name)r for %(kind)s (saved: %(known)s)") % {
            "name": name, "kind": kind.name, "known": known,
        })
    return dict(saved.columns)


def save(kind: Kind, name: str, mapping: Mapping, user=None) -> ImportMapping:
    saved, _created = ImportMapping.objects.update_or_create(
        kind=kind.name,
        name=name,
        defaults={"columns": mapping.saved_form(), "created_by": user if getattr(user, "pk", None) else None},
    )
    return saved
