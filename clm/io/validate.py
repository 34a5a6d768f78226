"""Checking one chunk of an import before anything is written: cells parsed by type, required
values, duplicate keys across the whole file, and references to other records resolved in bulk
(a few queries per chunk, never one per row). Every problem names the row, column, value and reason."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clm.core import parsers
from clm.core.access import sees_everything, visible_accounts
from clm.core.models import User
from clm.io import deal_stages
from clm.io.kinds import (
    BOOL,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    EMAIL,
    FLOAT,
    INT,
    JSON,
    KEY,
    LIST,
    MONTH,
    PIPELINE,
    REF,
    TAGS,
    TEXT,
    USER,
    Field,
    Kind,
)
from clm.io.mapping import Mapping
from clm.io.references import (
    check_assignments,
    find_existing,
    is_missing,
    key_text,
    resolve_reference,
    resolve_user,
)

CJK = re.compile(r"[\u3400-\u9fff]")


def per_row(template: str, name: str, values: pd.Series) -> pd.Series:
    """A reason naming a value per row: the template, translated once, filled by string concatenation
    over the column (`template % ...` per row would cost a Python call a row)."""
    before, after = template.split(f"%({name})s")
    return before + values.astype(str) + after


class Problems:
    """The reasons rows are refused, collected column by column, vectorised."""

    def __init__(self):
        self._parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, column: str, values, reasons) -> None:
        mask = mask.fillna(False).astype(bool) if mask.dtype != bool else mask
        if not mask.any():
            return
        rows = mask.index[mask]
        part = pd.DataFrame(
            {
                "row": rows,
                "column": column,
                "value": (values[rows] if isinstance(values, pd.Series) else values),
                "reason": (reasons[rows] if isinstance(reasons, pd.Series) else reasons),
            }
        )
        self._parts.append(part)

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=["row", "column", "value", "reason"])
        out = pd.concat(self._parts, ignore_index=True)
        out["value"] = out["value"].astype(object).where(out["value"].notna(), "").astype(str)
        return out.sort_values("row", kind="stable").reset_index(drop=True)

    def rows(self) -> pd.Index:
        if not self._parts:
            return pd.Index([], dtype="int64")
        return pd.Index(pd.concat([p["row"] for p in self._parts]).unique())


class SeenKeys:
    """Keys met so far in a file, as sorted 64-bit hashes with the row of their first occurrence:
    16 bytes a key, so duplicates are found across chunks of a million-row file in bounded memory."""

    def __init__(self):
        self.hashes = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)

    def first_rows(self, keys: pd.Series) -> pd.Series:
        """Per row, the row number where its key first appeared, in an earlier chunk or earlier in
        this one; <NA> for a first occurrence. The keys are then remembered."""
        out = pd.Series(pd.NA, index=keys.index, dtype="Int64")
        if keys.empty:
            return out
        hashes = pd.util.hash_array(keys.to_numpy(dtype=object))
        rows = keys.index.to_numpy(dtype=np.int64)
        if len(self.hashes):
            pos = np.searchsorted(self.hashes, hashes).clip(max=len(self.hashes) - 1)
            earlier = self.hashes[pos] == hashes
            out[earlier] = self.rows[pos[earlier]]
        frame = pd.DataFrame({"h": hashes, "row": rows})
        first = frame.groupby("h", sort=False)["row"].transform("first").to_numpy()
        again = (first != rows) & out.isna().to_numpy()
        out[again] = first[again]
        new = frame[out.isna().to_numpy()].drop_duplicates("h")
        merged_h = np.concatenate([self.hashes, new["h"].to_numpy(dtype=np.uint64)])
        merged_r = np.concatenate([self.rows, new["row"].to_numpy(dtype=np.int64)])
        order = np.argsort(merged_h, kind="stable")
        self.hashes, self.rows = merged_h[order], merged_r[order]
        return out


@dataclass
class Context:
    """What stays the same for every chunk of one import."""

    kind: Kind
    mapping: Mapping
    source: str
    user: object = None  # the importing user: restricted users only reach the accounts they see
    time_zone: str = settings.TIME_ZONE
    seen: SeenKeys = field(default_factory=SeenKeys)
    seen_groups: SeenKeys = field(default_factory=SeenKeys)  # orders: order ids of earlier chunks
    _users: dict = field(default_factory=dict)  # active: {name: id}
    _teams: dict | None = None
    _visible: set | None = None
    _restricted: bool | None = None
    _references: dict = field(default_factory=dict)  # field name -> {(source, key): (id, reason)}
    # ids and names of the valid rows of earlier chunks, for kinds that refer to their own kind
    # (an account's parent): such a reference waits for its record, written when the import applies
    earlier: set = field(default_factory=set)

    def remember_written(self, rows: pd.DataFrame) -> None:
        if not any(f.type == REF and f.ref == self.kind.name for f in self.kind.fields):
            return
        for name in ("external_id", "name"):
            if name in rows:
                self.earlier.update(rows[name].dropna().tolist())

    @property
    def restricted(self) -> bool:
        if self._restricted is None:
            self._restricted = self.user is not None and not sees_everything(self.user)
        return self._restricted

    def visible_account_ids(self) -> set[int]:
        if self._visible is None:
            self._visible = set(visible_accounts(self.user).values_list("pk", flat=True))
        return self._visible

    def remembered(self, name: str, sources: pd.Series, keys: pd.Series, resolve) -> tuple[pd.Series, pd.Series]:
        """`resolve(sources, keys)` (ids and reasons per row) asked only for the (source, key)
        pairs no earlier chunk of this import named: a million events name a few thousand
        accounts. Only for records of other kinds, which the import does not change."""
        memory = self._references.setdefault(name, {})
        single = sources.nunique() <= 1
        source = sources.iloc[0] if single else ""  # with several sources, the pairs carry theirs
        pairs = keys.astype(str) if single else sources.astype(str) + "\x1f" + keys.astype(str)
        codes, distinct = pd.factorize(pairs.to_numpy(dtype=object), use_na_sentinel=False)
        new = [i for i, pair in enumerate(distinct) if (source, pair) not in memory]
        if new:
            firsts = np.unique(codes, return_index=True)[1][new]  # the row where each pair is first named
            ids, reasons = resolve(sources.iloc[firsts].reset_index(drop=True), keys.iloc[firsts].reset_index(drop=True))
            for i, pk, reason in zip(new, ids.tolist(), reasons.tolist(), strict=True):
                memory[(source, distinct[i])] = (pk, reason)
        known = [memory[(source, pair)] for pair in distinct]
        ids = pd.array([k[0] for k in known], dtype="Int64").take(codes)
        reasons = np.array([k[1] for k in known], dtype=object)[codes]
        return pd.Series(ids, index=keys.index), pd.Series(reasons, index=keys.index, dtype=object)

    def user_ids(self, active: bool = True) -> dict[str, int]:
        """Active (or inactive) users by username, email and full name (either order), compared
        case-insensitively."""
        if active not in self._users:
            found = self._users[active] = {}
            names = User.objects.filter(is_active=active).values_list("pk", "username", "email", "first_name", "last_name")
            for pk, username, email, first, last in names:
                for name in (username, email, f"{first} {last}", f"{last}{first}", f"{last} {first}"):
                    if name.strip():
                        found.setdefault(name.strip().lower(), pk)
        return self._users[active]

    def user_teams(self) -> dict[int, int | None]:
        """Every active user's team."""
        if self._teams is None:
            self._teams = dict(User.objects.filter(is_active=True).values_list("pk", "team_id"))
        return self._teams


@dataclass
class Batch:
    raw: pd.DataFrame  # the cells as text, file columns by position; index: row numbers
    data: pd.DataFrame  # typed values by field name, ids of references ("account_id"), "pk" of existing
    problems: Problems


def parse_cells(ctx: Context, raw: pd.DataFrame) -> dict[int, tuple[pd.Series, parsers.Parsed]]:
    """Every mapped column parsed: pure computation, no database (so it can run ahead in a thread)."""
    return {pos: parse_column(ctx.kind, f, raw[pos], ctx.time_zone) for pos, f in ctx.mapping.columns.items()}


def validate(ctx: Context, raw: pd.DataFrame, parsed: dict | None = None) -> Batch:
    kind, mapping = ctx.kind, ctx.mapping
    problems = Problems()
    data = pd.DataFrame(index=raw.index)
    texts: dict[str, pd.Series] = {}
    parsed = parsed if parsed is not None else parse_cells(ctx, raw)
    for pos, f in mapping.columns.items():
        text, (values, errors) = parsed[pos]
        texts[f.name] = text
        data[f.name] = values
        problems.add(parsers.nonempty(errors), mapping.header[pos], text, errors)
    prepare(ctx, data, texts, problems)
    if kind.name == "opportunities":
        deal_stages.resolve(ctx, data, texts, problems)
    check_required(ctx, data, texts, problems)
    if kind.key:
        check_duplicates(ctx, data, texts, problems)
    for f in kind.fields:
        if f.type == REF and f.name in data:
            resolve_reference(ctx, f, data, texts, problems)
        elif f.type == USER and f.name in data:
            resolve_user(ctx, f, data, texts, problems)
    if kind.key:
        find_existing(ctx, data, texts, problems)
    check_assignments(ctx, data, texts, problems)
    return Batch(raw, data, problems)


def parse_column(kind: Kind, f: Field, cells: pd.Series, time_zone: str) -> tuple[pd.Series, parsers.Parsed]:
    """The cleaned text and parsed values of one column. Columns with few distinct values (event
    names, account ids, statuses) are parsed once per distinct value."""
    codes, distinct = pd.factorize(cells.to_numpy(dtype=object))
    if len(distinct) * 2 > len(cells):
        text = parsers.clean_text(cells)
        return text, parse(kind, f, text, time_zone)
    text = parsers.clean_text(pd.Series(distinct, dtype=object))
    values, errors = parse(kind, f, text, time_zone)

    def spread(series: pd.Series) -> pd.Series:
        return pd.Series(series.array.take(codes), index=cells.index)

    return spread(text), parsers.Parsed(spread(values), spread(errors))


def parse(kind: Kind, f: Field, text: pd.Series, time_zone: str) -> parsers.Parsed:
    mf = kind.model_field(f)
    if f.type in (TEXT, KEY, REF, USER, PIPELINE):
        return parsers.parse_text(text, getattr(mf, "max_length", None) if f.type in (TEXT, KEY) else None)
    if f.type == EMAIL:
        return parsers.parse_email(text, getattr(mf, "max_length", 254))
    if f.type == INT:
        return parsers.parse_int(text, f.minimum, f.maximum)
    if f.type == DECIMAL:
        places, digits = (mf.decimal_places, mf.max_digits) if mf is not None else (2, 16)
        return parsers.parse_decimal(text, places, digits, f.minimum)
    if f.type == FLOAT:
        return parsers.parse_float(text, f.minimum)
    if f.type == DATE:
        return parsers.parse_date(text)
    if f.type == MONTH:
        return parsers.parse_month(text)
    if f.type == DATETIME:
        return parsers.parse_datetime(text, time_zone)
    if f.type == BOOL:
        return parsers.parse_bool(text)
    if f.type == CHOICE:
        lookup, allowed = kind.choice_lookups[f.name]
        return parsers.parse_choice(text, lookup, allowed)
    if f.type == JSON:
        return parsers.parse_json_object(text)
    if f.type in (LIST, TAGS):
        return parsers.parse_list(text)
    raise ValueError(f"unknown field type {f.type}")


def prepare(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    """Values derived from other columns, kind by kind."""
    kind = ctx.kind
    if "source" in kind.by_name:  # the source system keys and references are looked up in
        source = data["source"] if "source" in data else pd.Series("", index=data.index, dtype=object)
        data["source"] = source.where(source != "", ctx.source)
    if kind.imported:
        if "external_id" not in data and kind.fallback_key in data:
            data["external_id"] = data[kind.fallback_key].astype(object)
            texts["external_id"] = texts[kind.fallback_key]
    if "first_name" in data or "last_name" in data:
        first = data.get("first_name", pd.Series("", index=data.index)).astype(object)
        last = data.get("last_name", pd.Series("", index=data.index)).astype(object)
        chinese = (first + last).str.contains(CJK)
        combined = (first + " " + last).where(~chinese, last + first).str.strip()
        name = data["name"] if "name" in data else pd.Series("", index=data.index, dtype=object)
        data["name"] = name.where(name != "", combined)
        too_long = data["name"].str.len() > 100
        problems.add(too_long & (name == ""), "Name", data["name"], _("is longer than %(max)s characters") % {"max": 100})
    if kind.name == "subscriptions" and "arr" in data:
        mrr = data["mrr"] if "mrr" in data else pd.Series(np.nan, index=data.index)
        data["mrr"] = mrr.where(mrr.notna(), (data["arr"] / 12).round(2))
    if kind.name == "accounts" and "domain" in data:
        domain = data["domain"].str.lower().str.replace(r"^[a-z]+://", "", regex=True)
        data["domain"] = domain.str.replace(r"^www\.", "", regex=True).str.replace(r"[/?#].*$", "", regex=True)
    if kind.name == "payments" and "paid_on" in data:
        status = data["status"] if "status" in data else pd.Series("", index=data.index, dtype=object)
        data["status"] = status.where((status != "") | data["paid_on"].isna(), "paid")
    if kind.name == "survey_responses" and "score" in data:
        csat = data["kind"] == "csat" if "kind" in data else pd.Series(False, index=data.index)
        out_of_scale = csat & ((data["score"] < 1) | (data["score"] > 5)).fillna(False)
        problems.add(out_of_scale, ctx.mapping.column_name("score"), texts["score"], _("is outside the CSAT scale 1–5"))
    if kind.name == "orders":
        prepare_orders(ctx, data, texts, problems)
    if any(f.custom for f in kind.fields) or "custom" in data:
        prepare_custom(ctx, data, texts, problems)
    for f in kind.fields:
        if f.type == TAGS and f.name in data:
            resolve_tags(ctx, f, data, texts, problems)


def resolve_tags(ctx: Context, f: Field, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    """Tags named as "category:value" (or by a value no other category has) become tag ids, in
    data[f"{name}_ids"] (sorted lists); a name the tag library lacks is refused, not created."""
    from clm.customers.models import Tag

    by_name: dict[str, set[int]] = {}
    for pk, category, value in Tag.objects.values_list("pk", "category__name", "value"):
        by_name.setdefault(f"{category}:{value}".casefold(), set()).add(pk)
        by_name.setdefault(value.casefold(), set()).add(pk)
    refused: dict[str, list] = {}
    ids = []
    several = _("%(name)r names tags of several categories: write category:value")
    unknown = _("%(name)r is not in the tag library (write category:value)")
    for row, names in zip(data.index, data[f.name], strict=True):
        found = set()
        for name in json.loads(names):
            key = re.sub(r"\s*[:：]\s*", ":", name, count=1).casefold()
            matches = by_name.get(key, set())
            if len(matches) == 1:
                found |= matches
            else:
                reason = (several if matches else unknown) % {"name": name}
                refused.setdefault(reason, []).append(row)
        ids.append(sorted(found))
    data[f"{f.name}_ids"] = pd.Series(ids, index=data.index, dtype=object)
    column = ctx.mapping.column_name(f.name)
    for reason, rows in refused.items():
        problems.add(pd.Series(data.index.isin(rows), index=data.index), column, texts[f.name], reason)


def prepare_custom(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    """Custom attributes checked against their registry by the rules of clm.customers.services:
    the "Custom Attributes" column (a JSON object: all of them) and one column per attribute.
    data["custom"] gets the object to store (dict, or None: keep the stored one), and
    data["custom_set"] the attributes the per-attribute columns set (merged in by the writer)."""
    from clm.core.models import CustomField
    from clm.customers.services import coerce_custom, validate_custom

    target = ctx.kind.name.removesuffix("s")
    registry = {cf.key: cf for cf in CustomField.objects.filter(target=target)}
    refused: dict[tuple[str, str], list] = {}  # (file column, reason) -> rows
    required = _("is required")
    if "custom" in data:
        column = ctx.mapping.column_name("custom")
        objects = []
        for row, text in data["custom"].items():
            value = json.loads(text) if texts["custom"][row] != "" and isinstance(text, str) else None
            if value is not None:
                try:
                    value = validate_custom(target, value, list(registry.values()))
                except ValidationError as exc:
                    reason = "; ".join(f"{k} {' '.join(v)}" for k, v in exc.message_dict.items())
                    refused.setdefault((column, reason), []).append(row)
                    value = None
            objects.append(value)
        data["custom"] = pd.Series(objects, index=data.index, dtype=object)
    columns = [f for f in ctx.kind.fields if f.custom and f.name in data]
    if columns:
        sets = [{} for _ in range(len(data))]
        for f in columns:
            cf, column = registry[f.custom], ctx.mapping.column_name(f.name)
            values = data[f.name]
            if pd.api.types.is_datetime64_any_dtype(values):
                values = values.dt.strftime("%Y-%m-%d")
            plain = values.astype(object).where(values.notna(), None).tolist()
            for i, (row, value, text) in enumerate(zip(data.index, plain, texts[f.name], strict=True)):
                if value == "" or text == "":
                    value = None
                if value is None and cf.required:
                    refused.setdefault((column, required), []).append(row)
                    continue
                try:
                    sets[i][cf.key] = coerce_custom(cf, value)
                except (TypeError, ValueError) as exc:
                    refused.setdefault((column, str(exc)), []).append(row)
        data["custom_set"] = pd.Series(sets, index=data.index, dtype=object)
    for (column, reason), rows in refused.items():
        name = next((f.name for f in ctx.kind.fields if ctx.mapping.has(f.name) and ctx.mapping.column_name(f.name) == column), None)
        problems.add(pd.Series(data.index.isin(rows), index=data.index), column, texts.get(name, ""), reason)


def prepare_orders(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    """Line numbers by position when the file has none; every line of an order must name the same
    account and date."""
    key = data["source"].astype(str) + "\x1f" + data["external_id"].astype(str)
    if "line_no" not in data or data["line_no"].isna().all():
        data["line_no"] = (key.groupby(key, sort=False).cumcount() + 1).astype("Int64")
    for name in ("account", "ordered_on"):
        if name not in data:
            continue
        first = data[name].groupby(key, sort=False).transform("first")
        first_row = pd.Series(data.index, index=data.index).groupby(key, sort=False).transform("first")
        differs = (data[name].astype(str) != first.astype(str)) & ~is_missing(data[name])
        reasons = per_row(_("differs from the order's first line (row %(row)s)"), "row", first_row)
        problems.add(differs, ctx.mapping.column_name(name), texts[name], reasons)


def check_required(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    kind, mapping = ctx.kind, ctx.mapping
    required = [f for f in kind.fields if f.required]
    required += [kind.by_name[group[0]] for group in kind.required_groups]
    if kind.imported:
        required.append(kind.by_name["external_id"])
    for f in required:
        if f.name not in data:
            continue
        parsed_badly = pd.Series(False, index=data.index)
        if f.name in texts:
            parsed_badly = parsers.nonempty(texts[f.name])
        missing = is_missing(data[f.name]) & ~parsed_badly
        column = mapping.column_name(f.name) if mapping.has(f.name) else f.header
        reason = _("is required")
        if f.name == "external_id":
            reason = _("is required: re-imports match records by it")
            if not mapping.has("external_id") and kind.fallback_key:
                column = mapping.column_name(kind.fallback_key)
                reason = _("is required: without an id column, re-imports match records by it")
        elif f.name == "name" and (mapping.has("first_name") or mapping.has("last_name")):
            reason = _("is required (a name, or a first or last name)")
        problems.add(missing, column, "", reason)


def check_duplicates(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    kind = ctx.kind
    key = key_text(kind, data)
    if kind.name == "orders":
        order = data["source"].astype(str) + "\x1f" + data["external_id"].astype(str)
        filled = ~is_missing(data["external_id"])
        earlier = ctx.seen_groups.first_rows(order[filled].drop_duplicates())
        split = order.map(earlier.set_axis(order[filled].drop_duplicates().values)).astype("Int64")
        problems.add(
            split.notna(),
            ctx.mapping.column_name("external_id"),
            texts["external_id"],
            per_row(_("appears again apart from its other lines (row %(row)s): keep an order's lines together"), "row", split),
        )
        key = key + "\x1f" + data["line_no"].astype(str)
    usable = key.notna()
    first = ctx.seen.first_rows(key[usable])
    column = ctx.mapping.column_name(kind.key[-1]) if kind.imported else ", ".join(
        ctx.mapping.column_name(k) for k in kind.key
    )
    template = _("duplicate order line: already on row %(row)s") if kind.name == "orders" else _(
        "duplicate key: already on row %(row)s"
    )
    problems.add(
        first.notna().reindex(data.index, fill_value=False),
        column,
        texts.get(kind.key[-1], key),
        per_row(template, "row", first.astype(str).reindex(data.index, fill_value="")),
    )
