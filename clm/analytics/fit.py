"""Fit with the ideal customer profile (理想客户画像): rules as data, a lookalike model learned from
the best customers, and how well each separated good customers from poor ones on held-out history.

Firmographic frames (leads and accounts alike) have the columns ``FIRMOGRAPHICS``: industry,
region (text), employee_count, annual_revenue (numbers, may be missing), tags (a list of names) and
custom (a dict of custom attributes). ``size_band`` is derived from employee_count (``SIZE_BANDS``).

* **Rules** (``rule_scores``): an ICP is a list of rules ``{"field", "op", "value", "weight"}``;
  its score for a row is 100 × (weights of the rules that hold) / (all its weights). Several ICPs
  are scored at once; each row's best ICP and which of its rules held are returned, as data.
* **Lookalike** (``train_lookalike``): accounts labelled good (high CLV, long retention) or poor
  (churned, low value) by ``label_outcomes``; a logistic regression over one-hot industry, region
  and size band and the log of annual revenue (what a lead has when it comes in),
  trained on the customers won first and tested on those won last (a time split), calibrated
  (sigmoid, cross-validated). Each row's score is the calibrated probability × 100, with the
  features that pushed it most (coefficient × deviation from the training mean).
* **Metrics** (``separation``): ROC AUC and lift in the top decile (the good-customer rate among
  the best-scored tenth over the overall rate).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import joblib
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

FIRMOGRAPHICS = ("industry", "region", "employee_count", "annual_revenue", "tags", "custom")
# (code, lowest head count, first head count of the next band); the last band is open.
SIZE_BANDS = (("1-49", 0, 50), ("50-199", 50, 200), ("200-999", 200, 1000), ("1000+", 1000, None))
RULE_FIELDS = ("industry", "region", "size_band", "employee_count", "annual_revenue", "tags")
OPS = {
    "in": "the value is one of",
    "not_in": "the value is none of",
    "between": "low ≤ value < high (either may be null: open)",
    "has_any": "carries any of these tags",
}
MIN_CLASS = 8  # good and poor customers each needed in training, and in the test


class FitInputError(ValueError):
    """A rule or a frame the fit cannot read; the message names what is wrong and where."""


# -- rules ----------------------------------------------------------------------------------------


def size_band(employee_count) -> pd.Series:
    counts = pd.to_numeric(pd.Series(employee_count), errors="coerce")
    out = pd.Series(None, index=counts.index, dtype=object)
    for code, low, high in SIZE_BANDS:
        hit = counts >= low
        if high is not None:
            hit &= counts < high
        out[hit] = code
    return out


def check_rules(rules) -> list[tuple[int, str, str]]:
    """What is wrong with a list of rules, as (rule number from 1, problem code, the value at
    fault); none when all is well. Codes: no_rules, not_object, unknown_field, unknown_op,
    between, values, weight (callers put them in words, in the user's language)."""
    problems: list[tuple[int, str, str]] = []
    if not isinstance(rules, list) or not rules:
        return [(0, "no_rules", "")]
    for i, rule in enumerate(rules, start=1):
        if not isinstance(rule, Mapping):
            problems.append((i, "not_object", ""))
            continue
        name, op, value, weight = rule.get("field"), rule.get("op"), rule.get("value"), rule.get("weight", 1)
        custom = isinstance(name, str) and name.startswith("custom.") and len(name) > 7
        if name not in RULE_FIELDS and not custom:
            problems.append((i, "unknown_field", str(name)))
        if op not in OPS:
            problems.append((i, "unknown_op", str(op)))
        elif op == "between":
            if not (isinstance(value, list) and len(value) == 2 and all(_number_or_none(v) for v in value)):
                problems.append((i, "between", str(value)))
        elif not (isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value)):
            problems.append((i, "values", str(op)))
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
            problems.append((i, "weight", str(weight)))
    return problems


def _number_or_none(v) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name == "size_band":
        return size_band(frame["employee_count"])
    if name.startswith("custom."):
        key = name[7:]
        return frame["custom"].map(lambda c: c.get(key) if isinstance(c, dict) else None)
    return frame[name]


def rule_holds(frame: pd.DataFrame, rule: Mapping) -> np.ndarray:
    """Whether the rule holds for each row (a missing value never matches)."""
    values = _column(frame, rule["field"])
    op, wanted = rule["op"], rule["value"]
    if op == "between":
        numbers = pd.to_numeric(values, errors="coerce")
        low, high = wanted
        hit = numbers.notna()
        if low is not None:
            hit &= numbers >= low
        if high is not None:
            hit &= numbers < high
        return hit.to_numpy(dtype=bool)
    if op == "has_any":
        wanted_set = {str(v).lower() for v in wanted}
        return values.map(lambda tags: bool(wanted_set & {str(t).lower() for t in (tags or ())})).to_numpy(bool)
    texts = values.map(lambda v: None if v is None or v != v else str(v).strip().lower())
    inside = texts.isin({str(v).strip().lower() for v in wanted}).to_numpy(bool)
    if op == "in":
        return inside
    return ~inside & texts.notna().to_numpy(bool)  # not_in: a known value outside the list


@dataclass
class RuleScores:
    scores: pd.DataFrame  # index = the frame's, one column per ICP key (0–100)
    best_icp: pd.Series  # the key of the best-scored ICP (None when no ICP is defined)
    best_score: pd.Series  # its score
    held: dict[str, np.ndarray]  # ICP key -> boolean matrix rows × rules


def rule_scores(frame: pd.DataFrame, icps: Sequence[Mapping]) -> RuleScores:
    """Every row scored against every ICP ({"key", "rules"}); ties go to the ICP listed first."""
    _require(frame)
    scores, held = {}, {}
    for icp in icps:
        rules = icp["rules"]
        matrix = np.column_stack([rule_holds(frame, r) for r in rules]) if rules else np.zeros((len(frame), 0), bool)
        weights = np.array([float(r.get("weight", 1)) for r in rules])
        total = weights.sum()
        scores[icp["key"]] = np.round(100 * (matrix @ weights) / total, 1) if total else np.zeros(len(frame))
        held[icp["key"]] = matrix
    table = pd.DataFrame(scores, index=frame.index)
    if table.shape[1]:
        best = table.idxmax(axis=1)
        best_score = table.max(axis=1)
    else:
        best = pd.Series(None, index=frame.index, dtype=object)
        best_score = pd.Series(np.nan, index=frame.index)
    return RuleScores(table, best, best_score, held)


def _require(frame: pd.DataFrame) -> None:
    missing = [c for c in FIRMOGRAPHICS if c not in frame.columns]
    if missing:
        raise FitInputError(f"the firmographic frame has no column {', '.join(missing)}")


# -- outcomes: who the best customers were --------------------------------------------------------


def label_outcomes(
    customers: pd.DataFrame, *, good_share: float = 0.4, poor_share: float = 0.4, min_tenure_days: int = 365
) -> pd.Series:
    """1 for a good customer (CLV in the top ``good_share``, not churned, a customer for at least
    ``min_tenure_days``), 0 for a poor one (churned, or CLV in the bottom ``poor_share``), <NA>
    for the rest. ``customers``: clv, tenure_days, churned (bool)."""
    clv = pd.to_numeric(customers["clv"], errors="coerce")
    rank = clv.rank(pct=True)
    churned = customers["churned"].astype(bool)
    good = (rank > 1 - good_share) & ~churned & (customers["tenure_days"] >= min_tenure_days)
    poor = churned | (rank <= poor_share)
    label = pd.Series(pd.NA, index=customers.index, dtype="Int64")
    label[poor] = 0
    label[good & ~poor] = 1
    return label


# -- the lookalike model --------------------------------------------------------------------------


def _tokens(frame: pd.DataFrame) -> list[list[str]]:
    """Each row's categorical features as "column=value" tokens. Tags are left out: an account's
    tags are mostly given after it became a customer (value tiers, scenes), which a lead cannot
    have and which would let the outcome leak into the features."""
    bands = size_band(frame["employee_count"])
    return [
        [f"industry={industry or '?'}", f"region={region or '?'}", f"size_band={band or '?'}"]
        for industry, region, band in zip(frame["industry"], frame["region"], bands, strict=True)
    ]


def _revenue(frame: pd.DataFrame) -> np.ndarray:
    revenue = pd.to_numeric(frame["annual_revenue"], errors="coerce").to_numpy(float)
    return np.log1p(np.clip(revenue, 0, None))


@dataclass
class Lookalike:
    """A trained lookalike: the vocabulary of tokens, the calibrated classifier and the linear
    model behind it (its coefficients explain a score)."""

    vocabulary: list[str]
    revenue_fill: float
    means: np.ndarray
    calibrated: CalibratedClassifierCV
    linear: LogisticRegression
    report: dict = field(default_factory=dict)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        index = {token: j for j, token in enumerate(self.vocabulary)}
        X = np.zeros((len(frame), len(self.vocabulary) + 2))
        for i, tokens in enumerate(_tokens(frame)):
            for token in tokens:
                j = index.get(token)
                if j is not None:
                    X[i, j] = 1.0
        revenue = _revenue(frame)
        known = ~np.isnan(revenue)
        X[:, -2] = np.where(known, revenue, self.revenue_fill)
        X[:, -1] = ~known
        return X

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Fit 0–100: the calibrated probability of being a good customer."""
        if not len(frame):
            return np.zeros(0)
        return np.round(100 * self.calibrated.predict_proba(self.matrix(frame))[:, 1], 1)

    def reasons(self, frame: pd.DataFrame, top: int = 3) -> list[list[dict]]:
        """Each row's strongest features: {"feature", "value", "effect"} (log-odds pushed)."""
        if not len(frame):
            return []
        X = self.matrix(frame)
        effect = (X - self.means) * self.linear.coef_[0]
        order = np.argsort(-np.abs(effect), axis=1)[:, :top]
        names = [*self.vocabulary, "annual_revenue=", "annual_revenue=?"]
        revenue = pd.to_numeric(frame["annual_revenue"], errors="coerce").to_numpy(float)
        out = []
        for i, row in enumerate(order):
            reasons = []
            for j in row:
                if abs(effect[i, j]) < 0.05:
                    continue
                feature, _, value = names[j].partition("=")
                if j == len(self.vocabulary) and not np.isnan(revenue[i]):
                    value = f"{revenue[i]:.0f}"
                if j < len(self.vocabulary) and X[i, j] == 0:
                    value = "!" + value  # the row lacks a feature good customers tend to have
                reasons.append({"feature": feature, "value": value, "effect": round(float(effect[i, j]), 2)})
            out.append(reasons)
        return out

    def dumps(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self, buffer)
        return buffer.getvalue()

    @staticmethod
    def loads(blob: bytes) -> Lookalike:
        return joblib.load(io.BytesIO(bytes(blob)))


class NotEnoughCustomers(ValueError):
    """Too few good or poor customers to learn from; the message says which."""


def train_lookalike(
    customers: pd.DataFrame, labels: pd.Series, *, test_share: float = 0.25, seed: int = 0
) -> Lookalike:
    """Learn who the good customers look like. ``customers``: the firmographic columns and
    ``customer_since`` (the time split: the last ``test_share`` won are held out), labels 1/0/<NA>
    as ``label_outcomes`` gives. The report has both the model's and (filled by the caller) the
    rules' separation on the held-out customers."""
    _require(customers)
    known = labels.notna()
    rows = customers[known].assign(label=labels[known].astype(int))
    rows = rows.sort_values("customer_since", kind="stable")
    cut = int(round(len(rows) * (1 - test_share)))
    train, test = rows.iloc[:cut], rows.iloc[cut:]
    for name, part in (("training", train), ("held-out", test)):
        good = int(part["label"].sum())
        if good < MIN_CLASS or len(part) - good < MIN_CLASS:
            raise NotEnoughCustomers(
                f"the {name} customers have {good} good and {len(part) - good} poor; {MIN_CLASS} of each are needed"
            )
    counts: dict[str, int] = {}
    for tokens in _tokens(train):
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
    vocabulary = sorted(t for t, n in counts.items() if n >= 3 and not t.endswith("=?"))
    fill = float(np.nanmedian(_revenue(train))) if np.isfinite(_revenue(train)).any() else 0.0
    model = Lookalike(vocabulary, fill, np.zeros(0), None, None)  # type: ignore[arg-type]
    X, y = model.matrix(train), train["label"].to_numpy()
    model.means = X.mean(axis=0)
    base = LogisticRegression(C=0.5, max_iter=2000)
    model.calibrated = CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False).fit(X, y)
    model.linear = model.calibrated.calibrated_classifiers_[0].estimator
    scores = model.score(test)
    model.report = {
        "train": {"customers": len(train), "good": int(y.sum()),
                  "from": _day(train["customer_since"].min()), "to": _day(train["customer_since"].max())},
        "test": {"customers": len(test), "good": int(test["label"].sum()),
                 "from": _day(test["customer_since"].min()), "to": _day(test["customer_since"].max())},
        "model": separation(test["label"].to_numpy(), scores),
    }
    model.test_index = test.index  # which customers were held out, for the rules' report
    return model


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


# -- how well a score separated good customers from poor ones -------------------------------------


def top_decile_lift(labels, scores) -> float | None:
    """The good-customer rate among the best-scored 10% (at least one row; ties broken by order)
    over the rate among all. None when there is no good customer."""
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    if not len(y) or y.sum() == 0:
        return None
    k = max(1, int(np.ceil(len(y) / 10)))
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def separation(labels, scores) -> dict:
    """ROC AUC (None with one class only) and top-decile lift of ``scores`` for ``labels`` (1/0)."""
    y = np.asarray(labels, dtype=int)
    auc = float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else None
    lift = top_decile_lift(y, scores)
    return {"auc": None if auc is None else round(auc, 3), "lift": None if lift is None else round(lift, 2),
            "n": int(len(y)), "good": int(y.sum())}
