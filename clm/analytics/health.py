"""The customer health score (客户健康度): a model stored as data, scored for all accounts at once.

A model has components (usage frequency, core-feature adoption, breadth, support, sentiment,
relationship, commercial), each scoring one or more named metrics from 0 to 100 through
piecewise-linear points, e.g. ``{"metric": "seat_utilisation", "points": [[0, 0], [0.5, 60],
[0.8, 100]]}`` (straight lines between points, flat beyond the ends). A component's score is the
weighted mean of its metrics' scores; the health score is the weighted sum of component scores.

Rules an admin can rely on:
- Component weights are percentages: non-negative, summing to 100 (± 0.01); anything else is
  refused when the model is saved. Weights inside a component are relative (2 counts twice 1).
- A missing metric (NaN) is left out of its component, whose other metrics are re-weighted; a
  component with no metric known is left out of the score and the remaining component weights
  are scaled up to 100. ``coverage`` says what share of the weight had data and ``missing`` names
  the components left out. Below ``min_coverage`` (default 0.5) there is no score (NaN, band None).
- The band is read from the score rounded half-up to a whole number (``score_int``, the number
  shown and stored): green ≥ 75, yellow ≥ 60, red below ("score < 60 → intervene first").
- Several models can target segments: each has a ``segment`` condition (see ``conditions``); an
  account takes the first model whose segment matches, and the model without a segment (the
  default, listed last) otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from .conditions import RuleError, compile_rule, json_value, metrics_of

WEIGHT_TOTAL = 100.0
WEIGHT_TOLERANCE = 0.01
BANDS = ("green", "yellow", "red")
KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class HealthModelError(RuleError):
    """A health model that cannot be saved; the message names the place in the model."""

    root = "model"


@dataclass(frozen=True)
class MetricScore:
    metric: str
    points: tuple[tuple[float, float], ...]
    weight: float = 1.0

    def score(self, values: np.ndarray) -> np.ndarray:
        xs, ys = zip(*self.points, strict=True)
        scored = np.interp(values, xs, ys)
        return np.where(np.isnan(values), np.nan, scored)


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    weight: float
    metrics: tuple[MetricScore, ...]

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """The weighted mean of the metric scores known for each row (NaN when none is)."""
        total = np.zeros(len(frame))
        weights = np.zeros(len(frame))
        for item in self.metrics:
            scored = item.score(_numbers(frame, item.metric))
            known = ~np.isnan(scored)
            total += np.where(known, scored * item.weight, 0.0)
            weights += np.where(known, item.weight, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weights > 0, total / weights, np.nan)


@dataclass(frozen=True)
class HealthModel:
    name: str
    components: tuple[Component, ...]
    green: float = 75.0
    yellow: float = 60.0
    min_coverage: float = 0.5
    segment: Mapping | None = None

    # -- as data ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data) -> HealthModel:
        """Build a model from its stored form, refusing (HealthModelError) anything malformed."""
        return _parse_model(data)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "segment": self.segment,
            "bands": {"green": self.green, "yellow": self.yellow},
            "min_coverage": self.min_coverage,
            "components": [
                {
                    "key": c.key,
                    "label": c.label,
                    "weight": c.weight,
                    "metrics": [
                        {"metric": m.metric, "points": [list(p) for p in m.points], "weight": m.weight}
                        for m in c.metrics
                    ],
                }
                for c in self.components
            ],
        }

    def metrics(self) -> list[str]:
        """Every metric the model reads (its components', then its segment's)."""
        names = [m.metric for c in self.components for m in c.metrics]
        if self.segment is not None:
            names += metrics_of(self.segment)
        return list(dict.fromkeys(names))

    def validate(self, known_metrics) -> None:
        """Refuse a model that reads a metric the metrics layer does not produce."""
        known = set(known_metrics)
        kinds = known_metrics if isinstance(known_metrics, Mapping) else {}
        for i, component in enumerate(self.components):
            for j, item in enumerate(component.metrics):
                path = f"components[{i}].metrics[{j}].metric"
                if item.metric not in known:
                    raise HealthModelError(
                        path, f"unknown metric {item.metric!r} (known: {', '.join(sorted(known))})"
                    )
                if kinds.get(item.metric) == "text":
                    raise HealthModelError(
                        path, f"{item.metric!r} is a text metric; a health model scores numbers"
                    )
        if self.segment is not None:
            try:
                compile_rule(self.segment, known_metrics)
            except RuleError as error:
                raise HealthModelError(error.within("segment").path, error.reason) from None

    # -- scoring ---------------------------------------------------------------------------

    def band(self, score_int) -> np.ndarray:
        """green / yellow / red for whole-number scores; None where there is no score."""
        values = np.asarray(score_int, dtype=float)
        out = np.select(
            [values >= self.green, values >= self.yellow, values < self.yellow],
            ["green", "yellow", "red"],
            "",
        )
        return np.where(np.isnan(values), None, out.astype(object))

    def score(self, metrics: pd.DataFrame) -> pd.DataFrame:
        """Per account (the frame's rows): score, score_int, band, coverage, missing, and for each
        component ``<key>_score`` and ``<key>_contribution`` (its share of the score: the
        contributions add up to the score)."""
        weights = np.array([c.weight for c in self.components], dtype=float)
        scores = (
            np.column_stack([c.score(metrics) for c in self.components])
            if len(metrics)
            else np.empty((0, len(weights)))
        )
        present = ~np.isnan(scores)
        present_weight = present @ weights
        coverage = present_weight / weights.sum()
        scored = (coverage >= self.min_coverage - 1e-12) & (present_weight > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(present, weights, 0.0) / present_weight[:, None]
        contributions = np.where(present, share * np.nan_to_num(scores), 0.0)
        contributions[~scored] = np.nan
        # clipped: a sum of shares can land a rounding error past 100
        total = np.where(scored, np.clip(contributions.sum(axis=1), 0.0, 100.0), np.nan)
        score_int = np.floor(total + 0.5)
        out = pd.DataFrame(index=metrics.index)
        out["score"] = total
        out["score_int"] = pd.array(np.where(np.isnan(score_int), None, score_int), dtype="Int64")
        out["band"] = pd.Series(self.band(score_int), index=metrics.index, dtype=object)
        out["coverage"] = coverage
        keys = [c.key for c in self.components]
        out["missing"] = [[k for k, p in zip(keys, row, strict=True) if not p] for row in present]
        for k, key in enumerate(keys):
            out[f"{key}_score"] = scores[:, k]
            out[f"{key}_contribution"] = contributions[:, k]
        return out

    def explain(self, metrics: pd.DataFrame) -> pd.Series:
        """Per account, the components as JSON for a score snapshot: key, label, weight, score,
        contribution, and each metric's value and score."""
        result = self.score(metrics)
        per_component = []
        for component in self.components:
            metric_cols = []
            for item in component.metrics:
                values = _numbers(metrics, item.metric)
                metric_scores = item.score(values)
                metric_cols.append(
                    [
                        {"metric": item.metric, "value": json_value(v), "score": json_value(s)}
                        for v, s in zip(values, metric_scores, strict=True)
                    ]
                )
            rows = zip(
                result[f"{component.key}_score"].tolist(),
                result[f"{component.key}_contribution"].tolist(),
                zip(*metric_cols, strict=True),
                strict=True,
            )
            per_component.append(
                [
                    {
                        "key": component.key,
                        "label": component.label,
                        "weight": component.weight,
                        "score": json_value(s),
                        "contribution": json_value(c),
                        "metrics": list(ms),
                    }
                    for s, c, ms in rows
                ]
            )
        records = [list(items) for items in zip(*per_component, strict=True)] if len(metrics) else []
        return pd.Series(records, index=metrics.index, dtype=object)


def _numbers(frame: pd.DataFrame, metric: str) -> np.ndarray:
    if metric not in frame.columns:
        raise HealthModelError("metrics", f"metric {metric!r} is not in the data")
    column = frame[metric]
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    converted = pd.to_numeric(column, errors="coerce")
    if (converted.isna() & column.notna()).any():
        raise HealthModelError(
            "metrics", f"metric {metric!r} holds non-numeric values; a health model scores numbers"
        )
    return converted.to_numpy(dtype=float, na_value=np.nan)


# -- parsing ------------------------------------------------------------------------------------


def _parse_model(data) -> HealthModel:
    _mapping(data, "", {"name", "segment", "bands", "min_coverage", "components"})
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HealthModelError("name", "a model needs a name")
    segment = data.get("segment")
    if segment is not None:
        try:
            compile_rule(segment)
        except RuleError as error:
            raise HealthModelError(error.within("segment").path, error.reason) from None
    bands = data.get("bands", {"green": 75, "yellow": 60})
    _mapping(bands, "bands", {"green", "yellow"})
    green = _number(bands.get("green", 75), "bands.green")
    yellow = _number(bands.get("yellow", 60), "bands.yellow")
    for path, value in (("bands.green", green), ("bands.yellow", yellow)):
        if not 0 <= value <= 100:
            raise HealthModelError(path, f"a band threshold is a score from 0 to 100, got {value:g}")
    if yellow >= green:
        raise HealthModelError("bands", f"yellow ({yellow:g}) must be below green ({green:g})")
    min_coverage = _number(data.get("min_coverage", 0.5), "min_coverage")
    if not 0 < min_coverage <= 1:
        raise HealthModelError(
            "min_coverage", f"a share of the weight, above 0 and at most 1, got {min_coverage:g}"
        )
    raw_components = data.get("components")
    if not isinstance(raw_components, list) or not raw_components:
        raise HealthModelError("components", "a model needs a non-empty list of components")
    components = tuple(_parse_component(c, f"components[{i}]") for i, c in enumerate(raw_components))
    keys = [c.key for c in components]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise HealthModelError(f"components[{i}].key", f"component {key!r} appears twice")
    total = sum(c.weight for c in components)
    if abs(total - WEIGHT_TOTAL) > WEIGHT_TOLERANCE:
        listing = ", ".join(f"{c.key} {c.weight:g}" for c in components)
        raise HealthModelError(
            "components",
            f"component weights are percentages and must sum to 100; they sum to {total:g} ({listing})",
        )
    return HealthModel(name.strip(), components, green, yellow, min_coverage, segment)


def _parse_component(data, path) -> Component:
    _mapping(data, path, {"key", "label", "weight", "metrics"})
    key = data.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        raise HealthModelError(f"{path}.key", f"a key is lower-case letters, digits and _, got {key!r}")
    label = data.get("label", key.replace("_", " ").capitalize())
    if not isinstance(label, str):
        raise HealthModelError(f"{path}.label", f"expected a text, got {label!r}")
    weight = _number(data.get("weight"), f"{path}.weight")
    if weight < 0:
        raise HealthModelError(f"{path}.weight", f"a weight cannot be negative, got {weight:g}")
    raw_metrics = data.get("metrics")
    if not isinstance(raw_metrics, list) or not raw_metrics:
        raise HealthModelError(f"{path}.metrics", "a component scores a non-empty list of metrics")
    metrics = tuple(_parse_metric(m, f"{path}.metrics[{j}]") for j, m in enumerate(raw_metrics))
    return Component(key, label, weight, metrics)


def _parse_metric(data, path) -> MetricScore:
    _mapping(data, path, {"metric", "points", "weight"})
    metric = data.get("metric")
    if not isinstance(metric, str) or not metric:
        raise HealthModelError(f"{path}.metric", f"expected a metric name, got {metric!r}")
    weight = _number(data.get("weight", 1), f"{path}.weight")
    if weight <= 0:
        raise HealthModelError(
            f"{path}.weight", f"a metric's weight inside its component is positive, got {weight:g}"
        )
    raw_points = data.get("points")
    if not isinstance(raw_points, list | tuple) or len(raw_points) < 2:
        raise HealthModelError(f"{path}.points", "expected at least two [value, score] points")
    points = []
    for k, point in enumerate(raw_points):
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise HealthModelError(f"{path}.points[{k}]", f"expected [value, score], got {point!r}")
        x = _number(point[0], f"{path}.points[{k}][0]")
        y = _number(point[1], f"{path}.points[{k}][1]")
        if not 0 <= y <= 100:
            raise HealthModelError(f"{path}.points[{k}][1]", f"a score is from 0 to 100, got {y:g}")
        if points and x <= points[-1][0]:
            raise HealthModelError(
                f"{path}.points[{k}][0]", f"values must strictly increase: {x:g} follows {points[-1][0]:g}"
            )
        points.append((x, y))
    return MetricScore(metric, tuple(points), weight)


def _mapping(data, path, allowed) -> None:
    if not isinstance(data, Mapping):
        raise HealthModelError(path, f"expected an object, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise HealthModelError(
            f"{path}.{unknown[0]}" if path else unknown[0],
            f"unknown key (expected {', '.join(sorted(allowed))})",
        )


def _number(value, path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HealthModelError(path, f"expected a number, got {value!r}")
    return float(value)


# -- segments -----------------------------------------------------------------------------------


def validate_segments(models: Sequence[HealthModel], known_metrics=None) -> None:
    """Models for several segments: unique names, and exactly one default (no segment), last."""
    if not models:
        raise HealthModelError("models", "at least one health model (the default) is needed")
    names = [m.name for m in models]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise HealthModelError(f"models[{i}].name", f"two models are named {name!r}")
    defaults = [i for i, m in enumerate(models) if m.segment is None]
    if defaults != [len(models) - 1]:
        raise HealthModelError(
            "models",
            "exactly one model has no segment (the default), and it comes last; "
            f"found the default at position(s) {defaults or 'none'} of {len(models)}",
        )
    if known_metrics is not None:
        for i, model in enumerate(models):
            try:
                model.validate(known_metrics)
            except RuleError as error:
                raise HealthModelError(error.within(f"models[{i}]").path, error.reason) from None


def select_models(metrics: pd.DataFrame, models: Sequence[HealthModel]) -> pd.Series:
    """Per account, the name of the first model whose segment matches (the default otherwise)."""
    validate_segments(models)
    chosen = pd.Series(models[-1].name, index=metrics.index, dtype=object)
    undecided = np.ones(len(metrics), dtype=bool)
    for model in models[:-1]:
        hit = compile_rule(model.segment).matches(metrics).to_numpy() & undecided
        chosen[hit] = model.name
        undecided &= ~hit
    return chosen


def score_segments(metrics: pd.DataFrame, models: Sequence[HealthModel]) -> pd.DataFrame:
    """Score each account with its segment's model; ``model`` names the one used. Component
    columns of models an account was not scored with are NaN."""
    chosen = select_models(metrics, models)
    parts = []
    for model in models:
        rows = chosen.index[chosen.to_numpy() == model.name]
        if len(rows):
            parts.append(model.score(metrics.loc[rows]).assign(model=model.name))
    if not parts:
        return models[-1].score(metrics).assign(model=pd.Series(dtype=object))
    return pd.concat(parts).loc[metrics.index]


# -- calibration against history ------------------------------------------------------------


@dataclass(frozen=True)
class BandOutcome:
    band: str
    rows: int  # account-dates scored in the band
    churned: int  # of them, followed by churn within the horizon
    churn_rate: float | None


@dataclass(frozen=True)
class HealthCalibration:
    """How the health score sorted accounts that went on to churn from those that stayed."""

    rows: int
    churned: int
    roc_auc: float | None  # of (100 − score) for churn; None with one class only
    bands: tuple[BandOutcome, ...]  # red, yellow, green
    ordered: bool  # red's churn rate above yellow's, above green's (bands with rows only)
    green: float
    yellow: float

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "churned": self.churned,
            "roc_auc": self.roc_auc,
            "ordered": self.ordered,
            "thresholds": {"green": self.green, "yellow": self.yellow},
            "bands": [vars(b) for b in self.bands],
        }


def calibrate(scores, churned, *, green: float = 75.0, yellow: float = 60.0) -> HealthCalibration:
    """Churn rate per health band and the ROC AUC of the score for churn.

    ``scores``: health scores (0–100) of account-dates; ``churned``: 1 where the account churned
    within the horizon after that date. A low score should mean churn: the AUC is that of
    100 − score (0.5 = no better than chance, 1 = every churner scored below every stayer)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(churned, dtype=float)
    if s.shape != y.shape:
        raise ValueError(f"scores has {s.size} values for {y.size} outcomes")
    known = ~np.isnan(s)
    s, y = s[known], y[known]
    whole = np.floor(s + 0.5)
    bands = np.where(whole >= green, "green", np.where(whole >= yellow, "yellow", "red"))
    outcomes = []
    for band in ("red", "yellow", "green"):
        inside = bands == band
        rows, hits = int(inside.sum()), int(y[inside].sum())
        outcomes.append(BandOutcome(band, rows, hits, hits / rows if rows else None))
    rates = [o.churn_rate for o in outcomes if o.churn_rate is not None]
    both = 0 < y.sum() < y.size
    return HealthCalibration(
        rows=int(y.size),
        churned=int(y.sum()),
        roc_auc=float(roc_auc_score(y, 100.0 - s)) if both else None,
        bands=tuple(outcomes),
        ordered=all(a > b for a, b in zip(rates, rates[1:], strict=False)),
        green=float(green),
        yellow=float(yellow),
    )


# -- the default model (DESIGN.md "Health score") ---------------------------------------------
#
# Weights and bands chosen from the calibration report (`clm health_calibration`, also in
# `clm backtest --json` under "health") on the demo company built with seed 7 (600 accounts, 24
# months), replayed every 14 days from 2025-04-01 to 2026-06-01: 7,397 account-dates with a live
# contract, 660 followed by churn within 180 days. With these weights (usage 25, core features 20,
# breadth 10, support 5, sentiment 15, relationship 20, commercial 5) the score's ROC AUC for
# churn is 0.798, and DESIGN.md's bands (green ≥ 75, yellow 60–74, red < 60) sort churn as they
# should: red 57.8% churned within 180 days (365 account-dates), yellow 17.9% (1,182), green
# 4.1% (5,850). Usage and core-feature adoption separate churners best (component AUC 0.77 each);
# weighting them more (30/25, sentiment 10, relationship 15) reaches 0.802, but then an account
# whose decision maker and champion are gone and whose NPS answers are detractors still scores
# green on usage alone: the seeds (000: 对接人变更, falling NPS) call those warning signs, so
# relationship (key people missing now; AUC 0.61, against 0.56 for "left in the last 90 days")
# and sentiment (trailing NPS and CSAT with their trend) weigh 35 together.
DEFAULT_MODEL_DATA: dict = {
    "name": "default",
    "segment": None,
    "bands": {"green": 75, "yellow": 60},
    "min_coverage": 0.5,
    "components": [
        {
            "key": "usage_frequency",
            "label": "Usage frequency",
            "weight": 25,
            "metrics": [
                # relative change vs the account's own prior 90-day baseline: -0.5 is a 50% drop
                {
                    "metric": "active_days_30d_vs_baseline",
                    "points": [[-1, 0], [-0.5, 35], [-0.2, 70], [0, 85], [0.2, 100]],
                },
                {
                    "metric": "logins_30d_vs_baseline",
                    "points": [[-1, 0], [-0.5, 35], [-0.2, 70], [0, 85], [0.2, 100]],
                },
                {"metric": "active_days_30d", "points": [[0, 0], [4, 40], [10, 75], [20, 100]]},
            ],
        },
        {
            "key": "core_feature_adoption",
            "label": "Core-feature adoption",
            "weight": 20,
            "metrics": [
                {"metric": "core_feature_share", "points": [[0, 0], [0.25, 30], [0.5, 60], [0.8, 100]]},
                {
                    "metric": "core_minutes_30d_vs_baseline",
                    "points": [[-0.6, 0], [-0.3, 40], [0, 80], [0.2, 100]],
                },
            ],
        },
        {
            "key": "breadth",
            "label": "Breadth (active users / seats)",
            "weight": 10,
            "metrics": [
                {"metric": "seat_utilisation", "points": [[0, 0], [0.25, 25], [0.5, 60], [0.8, 100]]}
            ],
        },
        {
            "key": "support",
            "label": "Support",
            "weight": 5,
            "metrics": [
                {"metric": "high_priority_tickets_30d", "points": [[0, 100], [1, 70], [3, 20], [5, 0]]},
                {"metric": "sla_breaches_90d", "points": [[0, 100], [1, 60], [3, 0]]},
                {"metric": "complaints_90d", "points": [[0, 100], [1, 50], [2, 0]]},
            ],
        },
        {
            "key": "sentiment",
            "label": "Sentiment (NPS / CSAT)",
            "weight": 15,
            "metrics": [
                {"metric": "nps_latest", "points": [[0, 0], [6, 40], [8, 75], [10, 100]]},
                # the account's NPS over a year (−100 … 100) and the half-year change of the mean answer
                {"metric": "nps_365d", "points": [[-100, 0], [-50, 20], [0, 55], [50, 90], [100, 100]]},
                {"metric": "nps_trend", "points": [[-3, 0], [-1, 50], [0, 80], [1, 100]], "weight": 0.5},
                {"metric": "csat_365d", "points": [[1, 0], [3, 40], [4, 75], [5, 100]]},
                {"metric": "csat_trend", "points": [[-1.5, 0], [-0.5, 50], [0, 80], [0.5, 100]], "weight": 0.5},
            ],
        },
        {
            "key": "relationship",
            "label": "Relationship",
            "weight": 20,
            "metrics": [
                # key people gone and not replaced, however long ago (seed 000: 对接人变更)
                {"metric": "key_people_missing", "points": [[0, 100], [1, 40], [2, 0]], "weight": 2},
                {"metric": "days_since_csm_interaction", "points": [[30, 100], [90, 50], [180, 0]]},
            ],
        },
        {
            "key": "commercial",
            "label": "Commercial",
            "weight": 5,
            "metrics": [
                {"metric": "overdue_days_max", "points": [[0, 100], [15, 60], [30, 30], [60, 0]]},
                # stated intent for a renewal due within 90 days: -1 leaving, 0 undecided, 1 renewing
                {"metric": "renewal_intent", "points": [[-1, 0], [0, 60], [1, 100]]},
            ],
        },
    ],
}

DEFAULT_MODEL = HealthModel.from_dict(DEFAULT_MODEL_DATA)
