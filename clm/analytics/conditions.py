"""Rules stored as plain data (JSON) and evaluated over a frame of per-account metrics at once.

A rule is a leaf ``{"metric": "active_days_30d_vs_baseline", "op": "<=", "value": -0.5}`` or a
group ``{"all": [rule, ...]}``, ``{"any": [rule, ...]}``, ``{"not": rule}``. Operators:
``<  <=  >  >=`` (numbers), ``==  !=`` (a number, text or true/false), ``in`` (a list of numbers or
of texts), ``between`` (``[low, high]``, both ends included) and ``is_null`` (``true``, or
``false`` for "is known"). A value may be ``{"param": "name"}``, filled in by :func:`bind` from a
rule's parameters, so an admin can tune a threshold without touching the rule's shape.

Missing values follow SQL's three-valued logic: a comparison with a missing value is *unknown*,
``not`` of unknown is unknown, and a rule fires only where it is known to be true. So
``{"not": {"metric": "nps", "op": "<", "value": 7}}`` does not fire for an account with no NPS;
``is_null`` is the way to ask for missing values.

Rules are checked when they are saved (:func:`validate`, naming the place inside the rule that is
wrong, e.g. ``all[1].metric: unknown metric 'logins_7d' (known: ...)``), not when the nightly run
meets them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from numbers import Real

import numpy as np
import pandas as pd

COMPARISONS = ("<", "<=", ">", ">=")
OPERATORS = (*COMPARISONS, "==", "!=", "in", "between", "is_null")
GROUPS = ("all", "any", "not")
LEAF_KEYS = frozenset({"metric", "op", "value"})
METRIC_KINDS = ("number", "text", "flag")

# Which operators each kind of metric accepts, when the caller says what kind each metric is.
OPERATORS_BY_KIND = {
    "number": frozenset(OPERATORS),
    "text": frozenset({"==", "!=", "in", "is_null"}),
    "flag": frozenset({"==", "!=", "is_null"}),
}


class RuleError(ValueError):
    """A rule (or a model built from rules) that cannot be evaluated; ``path`` says where in it."""

    root = "rule"  # what the message calls the whole document when the error is at its top

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path or self.root}: {reason}")

    def within(self, prefix: str) -> RuleError:
        """The same error seen from an enclosing document, e.g. ``signals[2].when``."""
        return type(self)(join_path(prefix, self.path), self.reason)


def join_path(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


# -- validation ---------------------------------------------------------------------------------


def validate(rule, known_metrics: Iterable[str] | Mapping[str, str] | None = None) -> None:
    """Raise :class:`RuleError` for the first thing wrong with ``rule``.

    ``known_metrics`` is the list of metric names the metrics layer produces, or a mapping of
    name to kind ("number", "text", "flag") to also check each operator and value against the
    kind of metric it reads. Without it only the rule's shape and value types are checked.
    """
    kinds = _kinds(known_metrics)
    _validate(rule, "", kinds)


def _kinds(known_metrics) -> dict[str, str | None] | None:
    if known_metrics is None:
        return None
    if isinstance(known_metrics, Mapping):
        for name, kind in known_metrics.items():
            if kind is not None and kind not in METRIC_KINDS:
                raise ValueError(f"metric {name!r} has kind {kind!r}; kinds are {', '.join(METRIC_KINDS)}")
        return dict(known_metrics)
    return dict.fromkeys(known_metrics)


def _validate(node, path: str, kinds) -> None:
    if not isinstance(node, Mapping):
        raise RuleError(
            path, f"expected a condition (an object with 'all', 'any', 'not' or 'metric'), got {_type(node)}"
        )
    groups = [key for key in GROUPS if key in node]
    if groups:
        if len(node) != 1:
            extra = sorted(str(key) for key in node if key != groups[0])
            raise RuleError(path, f"a '{groups[0]}' group has no other keys (found {', '.join(extra)})")
        key = groups[0]
        child_path = join_path(path, key)
        if key == "not":
            _validate(node["not"], child_path, kinds)
            return
        children = node[key]
        if not isinstance(children, list) or not children:
            raise RuleError(child_path, f"expected a non-empty list of conditions, got {_describe(children)}")
        for i, child in enumerate(children):
            _validate(child, f"{child_path}[{i}]", kinds)
        return
    if "metric" not in node:
        keys = ", ".join(sorted(map(str, node))) or "nothing"
        raise RuleError(path, f"expected 'all', 'any', 'not' or a 'metric' condition, found {keys}")
    unknown = sorted(str(key) for key in node if key not in LEAF_KEYS)
    if unknown:
        raise RuleError(join_path(path, unknown[0]), "unknown key (a condition has metric, op and value)")
    _validate_leaf(node, path, kinds)


def _validate_leaf(node: Mapping, path: str, kinds) -> None:
    metric = node["metric"]
    if not isinstance(metric, str) or not metric:
        raise RuleError(join_path(path, "metric"), f"expected a metric name, got {_describe(metric)}")
    kind = None
    if kinds is not None:
        if metric not in kinds:
            known = ", ".join(sorted(kinds)) or "none"
            raise RuleError(join_path(path, "metric"), f"unknown metric {metric!r} (known: {known})")
        kind = kinds[metric]
    op = node.get("op")
    if op not in OPERATORS:
        raise RuleError(join_path(path, "op"), f"unknown operator {op!r} (operators: {', '.join(OPERATORS)})")
    if kind is not None and op not in OPERATORS_BY_KIND[kind]:
        allowed = ", ".join(o for o in OPERATORS if o in OPERATORS_BY_KIND[kind])
        raise RuleError(
            join_path(path, "op"), f"'{op}' does not apply to {kind} metric {metric!r} (use {allowed})"
        )
    value_path = join_path(path, "value")
    if op == "is_null":
        if "value" in node and not isinstance(node["value"], bool):
            raise RuleError(value_path, f"'is_null' takes true or false, got {_describe(node['value'])}")
        return
    if "value" not in node:
        raise RuleError(path, f"'{op}' needs a value")
    value = node["value"]
    _refuse_unbound(value, value_path)
    if op in COMPARISONS:
        if not _is_number(value):
            raise RuleError(value_path, f"'{op}' compares with a number, got {_describe(value)}")
    elif op in ("==", "!="):
        if not (_is_number(value) or isinstance(value, str | bool)):
            raise RuleError(
                value_path, f"'{op}' compares with a number, a text or true/false, got {_describe(value)}"
            )
        expected = {"number": "a number", "text": "a text", "flag": "true or false"}.get(kind)
        if expected and not _fits_kind(value, kind):
            raise RuleError(
                value_path,
                f"{metric!r} is a {kind} metric: compare it with {expected}, got {_describe(value)}",
            )
    elif op == "in":
        if not isinstance(value, list) or not value:
            raise RuleError(value_path, f"'in' takes a non-empty list, got {_describe(value)}")
        if not (all(_is_number(v) for v in value) or all(isinstance(v, str) for v in value)):
            raise RuleError(value_path, "'in' takes a list of numbers or a list of texts, not a mixture")
        if kind is not None and not _fits_kind(value[0], kind):
            raise RuleError(
                value_path, f"{metric!r} is a {kind} metric: list {'texts' if kind == 'text' else 'numbers'}"
            )
    elif op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            raise RuleError(value_path, f"'between' takes [low, high] (two numbers), got {_describe(value)}")
        if value[0] > value[1]:
            raise RuleError(value_path, f"'between' takes [low, high] with low ≤ high, got {value!r}")


def _refuse_unbound(value, path: str) -> None:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, Mapping) and "param" in item:
            raise RuleError(
                path, f"parameter {item['param']!r} has no value (bind the rule's parameters first)"
            )


def _fits_kind(value, kind) -> bool:
    if kind == "number":
        return _is_number(value)
    if kind == "text":
        return isinstance(value, str)
    if kind == "flag":
        return isinstance(value, bool)
    return True


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _type(value) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _describe(value) -> str:
    return (
        f"{_type(value)} {value!r}"
        if isinstance(value, str | bool | Real) and value is not None
        else _type(value)
    )


# -- parameters and introspection ---------------------------------------------------------------


def bind(rule, params: Mapping[str, object]):
    """A copy of ``rule`` with every ``{"param": name}`` value replaced by ``params[name]``."""

    def walk(node, path):
        if not isinstance(node, Mapping):
            return node
        if "not" in node and len(node) == 1:
            return {"not": walk(node["not"], join_path(path, "not"))}
        for key in ("all", "any"):
            if key in node and len(node) == 1 and isinstance(node[key], list):
                return {
                    key: [walk(child, f"{join_path(path, key)}[{i}]") for i, child in enumerate(node[key])]
                }
        if "value" not in node:
            return dict(node)
        value_path = join_path(path, "value")
        value = node["value"]
        if isinstance(value, list):
            value = [_param(item, params, value_path) for item in value]
        else:
            value = _param(value, params, value_path)
        return {**node, "value": value}

    return walk(rule, "")


def _param(value, params, path):
    if isinstance(value, Mapping) and "param" in value:
        name = value["param"]
        if name not in params:
            known = ", ".join(sorted(map(str, params))) or "none"
            raise RuleError(path, f"unknown parameter {name!r} (parameters: {known})")
        return params[name]
    return value


def metrics_of(rule) -> list[str]:
    """The metric names a rule reads, in the order they first appear."""
    seen: dict[str, None] = {}

    def walk(node):
        if not isinstance(node, Mapping):
            return
        if "metric" in node:
            seen.setdefault(node["metric"])
        if "not" in node:
            walk(node["not"])
        for key in ("all", "any"):
            for child in node.get(key, ()) if isinstance(node.get(key), list) else ():
                walk(child)

    walk(rule)
    return list(seen)


def describe(rule) -> str:
    """The rule in one line of text, e.g. ``active_days_30d_vs_baseline ≤ -0.5 and nps < 7``."""
    symbols = {"<=": "≤", ">=": "≥", "!=": "≠", "==": "="}

    def text(node, nested):
        if "not" in node:
            return f"not ({text(node['not'], False)})"
        for key, word in (("all", " and "), ("any", " or ")):
            if key in node:
                inner = word.join(text(child, True) for child in node[key])
                return f"({inner})" if nested and len(node[key]) > 1 else inner
        op, metric = node["op"], node["metric"]
        if op == "is_null":
            return f"{metric} is {'missing' if node.get('value', True) else 'known'}"
        value = node["value"]
        if op == "between":
            return f"{metric} between {value[0]} and {value[1]}"
        if op == "in":
            return f"{metric} in {', '.join(map(str, value))}"
        return f"{metric} {symbols.get(op, op)} {value}"

    return text(rule, False)


# -- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    path: str
    metric: str
    op: str
    value: object


def compile_rule(rule, known_metrics=None) -> Rule:
    """Validate ``rule`` and return it ready to evaluate."""
    validate(rule, known_metrics)
    return Rule(rule)


class Rule:
    """A validated rule. ``evaluate(frame)`` reads one row per account."""

    def __init__(self, rule):
        self.rule = rule
        self.leaves: list[Leaf] = []
        self._collect(rule, "")

    @property
    def metrics(self) -> list[str]:
        return metrics_of(self.rule)

    def describe(self) -> str:
        return describe(self.rule)

    def _collect(self, node, path):
        if "not" in node:
            self._collect(node["not"], join_path(path, "not"))
        elif "all" in node or "any" in node:
            key = "all" if "all" in node else "any"
            for i, child in enumerate(node[key]):
                self._collect(child, f"{join_path(path, key)}[{i}]")
        else:
            self.leaves.append(Leaf(path, node["metric"], node["op"], node.get("value", True)))

    def matches(self, frame: pd.DataFrame) -> pd.Series:
        return self.evaluate(frame).matched

    def evaluate(self, frame: pd.DataFrame) -> Evaluation:
        missing = [metric for metric in self.metrics if metric not in frame.columns]
        if missing:
            leaf = next(leaf for leaf in self.leaves if leaf.metric == missing[0])
            raise RuleError(join_path(leaf.path, "metric"), f"metric {missing[0]!r} is not in the data")
        results = {leaf.path: _evaluate_leaf(leaf, frame[leaf.metric]) for leaf in self.leaves}
        combined = self._combine(self.rule, "", results)
        matched = pd.Series(combined.fillna(False).to_numpy(dtype=bool), index=frame.index)
        return Evaluation(self, frame, matched, results)

    def _combine(self, node, path, results) -> pd.Series:
        if "not" in node:
            return ~self._combine(node["not"], join_path(path, "not"), results)
        for key, op in (("all", pd.Series.__and__), ("any", pd.Series.__or__)):
            if key in node:
                parts = [
                    self._combine(child, f"{join_path(path, key)}[{i}]", results)
                    for i, child in enumerate(node[key])
                ]
                return reduce(op, parts)
        return results[path]


class Evaluation:
    """The outcome of a rule over a frame: where it fired, and each leaf's verdict per row."""

    def __init__(
        self, rule: Rule, frame: pd.DataFrame, matched: pd.Series, leaf_results: dict[str, pd.Series]
    ):
        self.rule = rule
        self.frame = frame
        self.matched = matched
        self.leaf_results = leaf_results

    def seen(self, rows=None) -> pd.Series:
        """Per row, the values of the metrics the rule reads, JSON-ready (missing → None)."""
        frame = self.frame if rows is None else self.frame.loc[rows]
        return json_records(frame, self.rule.metrics)

    def explain(self, rows=None) -> pd.Series:
        """Per row, each leaf condition with the value it saw and whether it held
        (true, false, or None when the value was missing)."""
        frame = self.frame if rows is None else self.frame.loc[rows]
        columns = []
        for leaf in self.rule.leaves:
            held = self.leaf_results[leaf.path].loc[frame.index]
            seen = [json_value(v) for v in frame[leaf.metric].tolist()]
            verdicts = [None if v is pd.NA else bool(v) for v in held.tolist()]
            columns.append(
                [
                    {
                        "path": leaf.path or "rule",
                        "metric": leaf.metric,
                        "op": leaf.op,
                        "value": leaf.value,
                        "seen": s,
                        "held": h,
                    }
                    for s, h in zip(seen, verdicts, strict=True)
                ]
            )
        rows_out = (
            [list(items) for items in zip(*columns, strict=True)] if columns else [[] for _ in frame.index]
        )
        return pd.Series(rows_out, index=frame.index, dtype=object)


def _evaluate_leaf(leaf: Leaf, column: pd.Series) -> pd.Series:
    known = column.notna().to_numpy()
    op, value = leaf.op, leaf.value
    if op == "is_null":
        result = ~known if value else known
        return pd.Series(pd.array(result, dtype="boolean"), index=column.index)
    if (
        op in COMPARISONS
        or op == "between"
        or _is_number(value)
        or isinstance(value, bool)
        or (op == "in" and _is_number(value[0]))
    ):
        x = _numbers(column, leaf)
        with np.errstate(invalid="ignore"):
            if op == "<":
                result = x < value
            elif op == "<=":
                result = x <= value
            elif op == ">":
                result = x > value
            elif op == ">=":
                result = x >= value
            elif op == "between":
                result = (x >= value[0]) & (x <= value[1])
            elif op == "in":
                result = np.isin(x, np.asarray(value, dtype=float))
            elif op == "==":
                result = x == float(value)
            else:
                result = x != float(value)
    else:
        texts = column.astype(object).to_numpy()
        if op == "in":
            result = np.isin(texts, np.asarray(value, dtype=object))
        elif op == "==":
            result = texts == value
        else:
            result = texts != value
        result = np.asarray(result, dtype=bool)
    return pd.Series(pd.arrays.BooleanArray(np.asarray(result, dtype=bool), ~known), index=column.index)


def _numbers(column: pd.Series, leaf: Leaf) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    converted = pd.to_numeric(column, errors="coerce")
    bad = converted.isna() & column.notna()
    if bad.any():
        example = column[bad].iloc[0]
        raise RuleError(
            join_path(leaf.path, "metric"),
            f"metric {leaf.metric!r} holds non-numeric values (e.g. {example!r}); '{leaf.op}' needs numbers",
        )
    return converted.to_numpy(dtype=float, na_value=np.nan)


def json_value(value):
    """A cell as plain JSON: numpy scalars to Python, NaN/NA/None to None, whole floats kept float."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def json_records(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Per row, ``{column: value}`` for ``columns``, JSON-ready."""
    sub = frame[columns]
    values = [[json_value(v) for v in col] for col in (sub[c].tolist() for c in columns)]
    rows = (
        [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
        if columns
        else [{} for _ in frame.index]
    )
    return pd.Series(rows, index=frame.index, dtype=object)


def leaf(metric: str, op: str, value=None) -> dict:
    """A leaf condition, for writing rules in code (the default models and signals)."""
    condition = {"metric": metric, "op": op}
    if value is not None:
        condition["value"] = value
    return condition


def param(name: str) -> dict:
    """A reference to a named parameter of the rule set, bound by `bind`."""
    return {"param": name}
