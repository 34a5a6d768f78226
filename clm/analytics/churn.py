"""The learned churn model: a calibrated probability that an account churns within the horizon,
with each account's risk taken apart into factors in plain words.

Training rows are account snapshots: the account's metrics as of a date and whether it churned
in the ``horizon_days`` after it. Logistic regression and gradient boosting are both tried;
cross-validation over every labelled row (no account split across folds) picks one. The model in
use learns from every labelled row, with its calibration cross-validated on the same folds, and
every row keeps its out-of-fold probability (for choosing a flag threshold on predictions no model
made from that row). Apart from it, the same recipe learns on the earlier dates alone and is
scored on the latest ones (leaving out training rows whose outcome window reaches into them): the
out-of-time check stored as ``validation``. Too little history raises :class:`NotEnoughHistory`,
and the rules stand alone.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from .attribution import OTHER, Predict, shapley, single_effects
from .evaluation import cross_validate_model, evaluate, fold_indices

KINDS = ("logistic", "gradient_boosting")
FORMAT = "clm-churn-model/1"
MISSING_TEXT = "(missing)"
MIN_TRAIN_POSITIVES = 10


class NotEnoughHistory(ValueError):
    """Too little history to learn from; the message says what is short. The rules stand alone."""


# -- pipelines ----------------------------------------------------------------------------------


def as_text(values) -> np.ndarray:
    """Categorical columns as plain text, missing values as one category of their own."""
    frame = pd.DataFrame(values)
    return frame.astype(object).where(frame.notna(), MISSING_TEXT).astype(str).to_numpy(dtype=object)


def split_features(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(numeric, categorical) column names: numbers and true/false are numeric, the rest text."""
    numeric, categorical = [], []
    for column in frame.columns:
        if column in exclude:
            continue
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(column)
        else:
            categorical.append(column)
    return numeric, categorical


def make_pipeline(
    kind: str, numeric: Sequence[str], categorical: Sequence[str], *, seed: int = 0
) -> Pipeline:
    """Preprocessing and classifier, fitted together so each fold learns its own medians,
    scales and categories (nothing is learned from rows it will be scored on).

    logistic: numbers median-imputed (with a was-missing indicator) and standardised, text
    one-hot encoded. gradient_boosting: numbers as they are (missing values handled natively),
    text one-hot encoded."""
    text = Pipeline(
        [("as_text", FunctionTransformer(as_text)), ("one_hot", OneHotEncoder(handle_unknown="ignore"))]
    )
    if kind == "logistic":
        numbers = Pipeline(
            [("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())]
        )
        classifier = LogisticRegression(max_iter=2000)
    elif kind == "gradient_boosting":
        numbers = "passthrough"
        text = Pipeline(
            [
                ("as_text", FunctionTransformer(as_text)),
                ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        classifier = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=15,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        )
    else:
        raise ValueError(f"unknown model kind {kind!r} (kinds: {', '.join(KINDS)})")
    columns = ColumnTransformer(
        [("numeric", numbers, list(numeric)), ("categorical", text, list(categorical))],
        sparse_threshold=0 if kind == "gradient_boosting" else 0.3,
    )
    return Pipeline([("features", columns), ("classifier", classifier)])


def column_features(columns: ColumnTransformer, features: Sequence[str]) -> np.ndarray:
    """For each column the fitted ``columns`` step puts out, the index in ``features`` of the
    feature it encodes. Every step of make_pipeline works column by column (text conversion,
    imputing with a was-missing indicator, scaling, one-hot encoding), so a feature's value
    reaches its own columns and no others."""
    position = {f: i for i, f in enumerate(features)}
    width = max((span.stop for span in columns.output_indices_.values()), default=0)
    owners = np.full(width, -1)
    for name, transformer, inputs in columns.transformers_:
        span = columns.output_indices_[name]
        if span.stop == span.start:
            continue
        names = list(inputs)
        steps = (
            [step for _, step in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
        )
        for step in steps:
            names = _step_outputs(step, names)
        if len(names) != span.stop - span.start:
            raise ValueError(f"the {name} step puts out {span.stop - span.start} columns, not {len(names)}")
        owners[span] = [position[n] for n in names]
    return owners


def _step_outputs(step, inputs: list[str]) -> list[str]:
    """The feature of each column ``step`` puts out, given the feature of each column it takes."""
    if isinstance(step, str) or isinstance(step, FunctionTransformer | StandardScaler):
        return inputs  # "passthrough", as_text and scaling: one column out per column in
    if (
        isinstance(step, OneHotEncoder)
        and step.drop is None
        and step.max_categories is None
        and step.min_frequency is None
    ):
        return [f for f, categories in zip(inputs, step.categories_, strict=True) for _ in categories]
    if isinstance(step, SimpleImputer):
        kept = [
            f
            for f, s in zip(inputs, step.statistics_, strict=True)
            if step.keep_empty_features or not pd.isna(s)
        ]
        return kept + ([inputs[i] for i in step.indicator_.features_] if step.add_indicator else [])
    raise ValueError(f"cannot tell which of its inputs each column of {type(step).__name__} encodes")


# -- time split ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeSplit:
    train: np.ndarray  # boolean masks over the rows
    validation: np.ndarray
    validation_start: pd.Timestamp
    train_end: pd.Timestamp  # the last as-of date a training row may have


def time_split(as_of, *, validation_share: float = 0.25, gap_days: int = 90) -> TimeSplit:
    """Validate on the latest ``validation_share`` of the distinct as-of dates (at least one);
    train on as-of dates at least ``gap_days`` before the first of them, so that no training
    label (churn within ``gap_days`` of its as-of date) is read from the validation period."""
    dates = pd.to_datetime(pd.Series(as_of)).dt.normalize()
    distinct = np.sort(dates.unique())
    if len(distinct) < 2:
        raise NotEnoughHistory(f"a time split needs at least 2 as-of dates, found {len(distinct)}")
    n_validation = min(len(distinct) - 1, max(1, round(validation_share * len(distinct))))
    validation_start = pd.Timestamp(distinct[-n_validation])
    train_end = validation_start - pd.Timedelta(days=gap_days)
    validation = (dates >= validation_start).to_numpy()
    train = (dates <= train_end).to_numpy()
    return TimeSplit(train, validation, validation_start, train_end)


# -- the model ----------------------------------------------------------------------------------


@dataclass
class ChurnModel:
    estimator: object  # fitted, calibrated: predict_proba over the feature columns
    kind: str
    numeric: list[str]
    categorical: list[str]
    reference: dict  # per feature, the typical value (training median or most common)
    labels: dict = field(default_factory=dict)  # per feature, a name in plain words
    metadata: dict = field(default_factory=dict)
    # After training, per row of the training frame, a probability from a model that did not learn
    # from that row (see train_churn_model); not stored.
    held_out: pd.Series | None = field(default=None, repr=False)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def version(self) -> str:
        return self.metadata.get("version", "")

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ValueError(f"the churn model needs columns that are not in the data: {', '.join(missing)}")
        return X[self.features]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The probability of churning within the horizon, per row."""
        return self._risk(self._frame(X))

    def _risk(self, frame: pd.DataFrame) -> np.ndarray:
        return _probability(self.estimator, frame)

    def _encoded(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, Predict]:
        """The rows and the typical account as the classifier sees them (after the column-by-column
        preprocessing), the feature of each of their columns, and the calibrated risk of such
        rows: the same model, split where the classifier starts. Setting a feature to its typical
        value is then setting its columns to the typical account's, and the preprocessing runs
        once rather than once per swap or coalition."""
        parts = self.estimator.calibrated_classifiers_
        # the pipeline, or FrozenEstimator(pipeline) in models calibrated on a held-out slice
        pipelines = [
            part.estimator.estimator if isinstance(part.estimator, FrozenEstimator) else part.estimator
            for part in parts
        ]
        columns = pipelines[0].named_steps["features"]
        if any(p.named_steps["features"] is not columns for p in pipelines):
            raise ValueError(
                "the calibrated classifiers of this churn model do not share their preprocessing"
            )
        view = copy.copy(self.estimator)
        view.calibrated_classifiers_ = [copy.copy(part) for part in parts]
        for part, pipeline in zip(view.calibrated_classifiers_, pipelines, strict=True):
            part.estimator = pipeline[-1]
        typical = pd.DataFrame([self.reference])[self.features]
        rows = _dense(columns.transform(self._frame(X)))
        return (
            rows,
            _dense(columns.transform(typical))[0],
            column_features(columns, self.features),
            (lambda matrix: _probability(view, matrix)),
        )

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row and feature, how much the feature's value moves the probability: the
        prediction minus the prediction with that feature set to its typical value."""
        if X.empty:
            return pd.DataFrame(np.empty((0, len(self.features))), index=X.index, columns=self.features)
        rows, typical, groups, risk = self._encoded(X)
        effects = single_effects(risk, rows, typical, groups, len(self.features), risk(rows))
        return pd.DataFrame(effects, index=X.index, columns=self.features)

    def top_factors(self, X: pd.DataFrame, n: int = 3, min_effect: float = 0.005) -> pd.Series:
        """Per row, up to ``n`` factors that raise the churn risk most, as dicts with feature,
        label, value, typical, effect (probability points) and a sentence."""
        effects = self.contributions(X)
        frame = self._frame(X)
        values = effects.to_numpy()
        order = np.argsort(-values, axis=1, kind="stable")[:, :n]
        features = np.array(self.features, dtype=object)
        rows = []
        for r in range(len(frame)):
            factors = []
            for c in order[r]:
                effect = float(values[r, c])
                if effect < min_effect:
                    break
                feature = features[c]
                value = frame.iat[r, c]
                factors.append(self._factor(feature, value, effect))
            rows.append(factors)
        return pd.Series(rows, index=X.index, dtype=object)

    def explain_risk(self, X: pd.DataFrame, players: int = 4) -> pd.Series:
        """Per row, the risk taken apart so that it adds up: factors [{feature, label, value,
        typical, effect, baseline, text}, …] whose effects (probability units) sum exactly to the
        row's probability minus ``baseline``, the risk of a typical account (every feature at its
        typical value). The features that move the risk most are factors of their own, the rest
        one factor (feature ``_other``); see clm.analytics.attribution."""
        frame = self._frame(X)
        if frame.empty:
            return pd.Series([], index=X.index, dtype=object)
        rows, typical, groups, risk = self._encoded(frame)
        prediction = risk(rows)
        single = single_effects(risk, rows, typical, groups, len(self.features), prediction)
        baseline, strongest, phi = shapley(risk, rows, typical, groups, single, prediction, players)
        values, features = frame.to_numpy(dtype=object), self.features
        out = []
        for r, (columns, effects) in enumerate(zip(strongest, phi.tolist(), strict=True)):
            factors = [self._factor(features[c], values[r, c], effects[p]) for p, c in enumerate(columns)]
            if len(effects) > len(columns):
                effect = effects[-1]
                factors.append({"feature": OTHER, "label": "other factors", "value": None, "typical": None,
                                "effect": effect, "text": f"other factors: {effect * 100:+.1f} points"})  # fmt: skip
            out.append([{**factor, "baseline": baseline} for factor in factors])
        return pd.Series(out, index=X.index, dtype=object)

    def _factor(self, feature, value, effect) -> dict:
        label = self.labels.get(feature, feature.replace("_", " "))
        shown, typical = _plain(value), _plain(self.reference[feature])
        points = round(effect * 100)
        return {
            "feature": feature,
            "label": label,
            "value": None if pd.isna(value) else (value.item() if isinstance(value, np.generic) else value),
            "typical": self.reference[feature],
            "effect": effect,
            "text": f"{label} is {shown} (typical: {typical}): raises the churn risk by {points} point{'' if points == 1 else 's'}",
        }

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        model = replace(self, held_out=None)
        joblib.dump({"format": FORMAT, "sklearn": sklearn.__version__, "model": model}, buffer, compress=3)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChurnModel:
        """Load a model stored by :meth:`to_bytes`. Pickled: load only bytes this system stored."""
        try:
            payload = joblib.load(io.BytesIO(data))
        except Exception as error:
            raise ValueError(f"these bytes are not a stored churn model ({error})") from None
        if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
            raise ValueError(f"these bytes are not a stored churn model (expected format {FORMAT})")
        if payload.get("sklearn") != sklearn.__version__:
            warnings.warn(
                f"churn model {payload['model'].version} was trained with scikit-learn {payload.get('sklearn')}, "
                f"this is {sklearn.__version__}: retrain it (clm train)",
                stacklevel=2,
            )
        return payload["model"]


def _probability(estimator, X) -> np.ndarray:
    # one OpenMP thread, as in training: on a small, busy machine gradient boosting's threads
    # wait on each other (1,212 rows took 4.5 s with two threads and 0.12 s with one here)
    with threadpool_limits(limits=1, user_api="openmp"):
        return estimator.predict_proba(X)[:, 1]


def calibrator_input(classifier, probabilities) -> np.ndarray:
    """Out-of-fold probabilities on the scale a CalibratedClassifierCV calibrator was fitted on:
    the decision function when ``classifier`` has one (for logistic regression and binary
    gradient boosting, the log-odds of the probability: log(p / (1 − p))), else the probabilities."""
    p = np.asarray(probabilities, dtype=float)
    if not hasattr(classifier, "decision_function"):
        return p
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)


def _dense(matrix) -> np.ndarray:
    """The preprocessing's output as a dense float matrix (logistic's may be sparse)."""
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)


def _plain(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "missing"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | float | np.number):
        return f"{float(value):.3g}"
    return str(value)


def reference_values(frame: pd.DataFrame, numeric, categorical) -> dict:
    """The typical value of each feature: the median of numbers, the most common text."""
    reference = {}
    for column in numeric:
        median = pd.to_numeric(frame[column], errors="coerce").median()
        reference[column] = float(median) if pd.notna(median) else 0.0
    for column in categorical:
        mode = frame[column].dropna().mode()
        reference[column] = mode.iloc[0] if len(mode) else MISSING_TEXT
    return reference


ISOTONIC_FROM = 1000  # churn examples from which the calibration is isotonic rather than sigmoid


def calibration_method(positives: int) -> str:
    """Sigmoid (Platt) calibration, or isotonic from ISOTONIC_FROM churn examples on: isotonic
    regression bends to any monotone shape, but scikit-learn's CalibratedClassifierCV reference
    advises against it with too few calibration samples (<<1000): it overfits."""
    return "isotonic" if positives >= ISOTONIC_FROM else "sigmoid"


MIN_OBSERVED = 30  # training rows a numeric feature needs a value in to be learnt from


def train_churn_model(
    frame: pd.DataFrame,
    *,
    label: str = "churned",
    as_of: str = "as_of",
    account: str = "account",
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    horizon_days: int = 90,
    validation_share: float = 0.25,
    min_positives: int = 30,
    min_dates: int = 2,
    kinds: Sequence[str] = KINDS,
    folds: int = 5,
    calibration: str = "auto",
    seed: int = 0,
    version: str | None = None,
    threads: int | None = 1,
) -> ChurnModel:
    """Learn P(churn within ``horizon_days``) from account snapshots.

    ``frame``: one row per (account, as-of date) with the features, ``label`` (1 when the
    account churned within the horizon after that date) and the ``as_of`` date. The account id
    is never a feature. Raises :class:`NotEnoughHistory` with fewer than ``min_positives``
    churn examples or ``min_dates`` as-of dates, or when the time split of the out-of-time check
    leaves nothing to learn from or to validate on. ``calibration``: sigmoid, isotonic, or auto
    (:func:`calibration_method`).

    ``threads`` caps the OpenMP threads gradient boosting uses (None: all cores). One is the
    default because on a small, busy machine its threads wait on each other: a fit took ten
    times longer with two threads than with one here.
    """
    with threadpool_limits(limits=threads, user_api="openmp"):
        for column in (label, as_of, account):
            if column not in frame.columns:
                raise ValueError(f"the training frame needs a {column!r} column")
        y = frame[label]
        if y.isna().any() or not y.astype(float).isin((0.0, 1.0)).all():
            raise ValueError(f"{label!r} must be 0/1 (churned within {horizon_days} days of the as-of date)")
        y = y.astype(int).to_numpy()
        if numeric is None and categorical is None:
            numeric, categorical = split_features(frame, exclude=(label, as_of, account))
        numeric, categorical = list(numeric or []), list(categorical or [])
        if account in numeric + categorical or label in numeric + categorical:
            raise ValueError("the account id and the outcome cannot be features")
        if not numeric + categorical:
            raise ValueError("the churn model needs at least one feature")

        positives, dates = int(y.sum()), int(pd.to_datetime(frame[as_of]).dt.normalize().nunique())
        if positives < min_positives or dates < min_dates:
            raise NotEnoughHistory(
                f"not enough history to learn a churn model: {positives} churn example(s) (need {min_positives}) "
                f"over {dates} as-of date(s) (need {min_dates}); the early-warning rules stand alone"
            )
        split = time_split(frame[as_of], validation_share=validation_share, gap_days=horizon_days)
        y_train, y_valid = y[split.train], y[split.validation]
        if y_train.sum() < MIN_TRAIN_POSITIVES:
            raise NotEnoughHistory(
                f"not enough history before {split.train_end.date()} to learn from: {int(y_train.sum())} churn "
                f"example(s) (need {MIN_TRAIN_POSITIVES}) once the latest dates are kept for validation"
            )
        if y_valid.sum() == 0 or y_valid.sum() == y_valid.size:
            raise NotEnoughHistory(
                f"the validation period (as-of {split.validation_start.date()} on) needs both churned and retained accounts"
            )
        # a number barely observed before the validation period (a trend that needs a year of
        # surveys, on a short history) teaches nothing, and gradient boosting cannot bin a column
        # with fewer than two distinct values in a cross-validation fold
        seen = frame.loc[split.train, numeric]
        numeric = [f for f in numeric if seen[f].count() >= MIN_OBSERVED and seen[f].nunique() >= 2]
        features = numeric + categorical
        X, accounts = frame[features], frame[account].to_numpy()
        method = calibration_method(positives) if calibration == "auto" else calibration

        # Which kind: cross-validation over every labelled row, no account split across folds.
        n_folds = max(2, min(folds, int(pd.Series(accounts[y == 1]).nunique())))
        splits = fold_indices(y, n_folds, seed, accounts)
        cv, pooled = {}, {}
        for kind in kinds:
            result = cross_validate_model(
                lambda kind=kind: make_pipeline(kind, numeric, categorical, seed=seed), X, y, n_folds, seed, accounts
            )
            cv[kind] = {"fold_auc": result.fold_auc, "mean_auc": result.mean_auc}
            pooled[kind] = result.scores
        chosen = max(cv, key=lambda k: cv[k]["mean_auc"])

        # The model in use learns from every labelled row. Its calibration is cross-validated on the
        # same folds: one calibrator fitted on the out-of-fold scores (those above), then the
        # classifier fitted on all rows (CalibratedClassifierCV with ensemble=False).
        calibrated = CalibratedClassifierCV(
            make_pipeline(chosen, numeric, categorical, seed=seed), method=method, cv=splits, ensemble=False
        ).fit(X, y)
        calibrated.cv = n_folds  # the folds' row positions need not be stored with the model
        # Held out, per row: its out-of-fold score on the calibrated scale (the fold models are
        # deterministic, so these are the scores the calibrator was fitted on).
        calibrator = calibrated.calibrated_classifiers_[0].calibrators[0]
        # The calibrator reads what CalibratedClassifierCV gave it: the decision function where the
        # classifier has one (both kinds here: the log-odds), not the probabilities; fed those, it
        # squeezed every row into a narrow band (0.37–0.50 on a simulated company), and the early
        # warning's threshold was chosen on that scale, not the one the model scores on.
        inputs = calibrator_input(make_pipeline(chosen, numeric, categorical, seed=seed), pooled[chosen])
        held_out = pd.Series(np.clip(calibrator.predict(inputs), 0, 1), index=frame.index)

        # The honest check, out of time: the same recipe on the earlier dates alone, scored on the
        # latest ones (no training label reads the validation period).
        train_splits = fold_indices(
            y_train, max(2, min(folds, int(pd.Series(accounts[split.train][y_train == 1]).nunique()))),
            seed, accounts[split.train],
        )  # fmt: skip
        earlier = CalibratedClassifierCV(
            make_pipeline(chosen, numeric, categorical, seed=seed), method=method, cv=train_splits, ensemble=False
        ).fit(X[split.train], y_train)
        earlier.cv = len(train_splits)
        raw = earlier.calibrated_classifiers_[0].estimator
        raw_report = evaluate(y_valid, _probability(raw, X[split.validation]))
        report = evaluate(y_valid, _probability(earlier, X[split.validation]))

        trained_at = datetime.now(UTC)
        as_of_dates = pd.to_datetime(frame[as_of])
        metadata = {
            "version": version or f"{chosen}-{trained_at:%Y%m%dT%H%M%SZ}",
            "trained_at": trained_at.isoformat(),
            "sklearn_version": sklearn.__version__,
            "kind": chosen,
            "calibration": method,
            "calibration_folds": n_folds,
            "horizon_days": horizon_days,
            "features": features,
            "training_window": [as_of_dates.min().date().isoformat(), as_of_dates.max().date().isoformat()],
            "rows": {"train": int(len(frame)), "validation": int(split.validation.sum())},
            "positives": {"train": positives, "validation": int(y_valid.sum())},
            "cross_validation": cv,
            # the out-of-time check: learnt on the earlier window, scored on the validation window
            "check_window": [
                as_of_dates[split.train].min().date().isoformat(),
                split.train_end.date().isoformat(),
            ],
            "validation_window": [
                split.validation_start.date().isoformat(),
                as_of_dates.max().date().isoformat(),
            ],
            "validation_uncalibrated": raw_report.to_dict(),
            "validation": report.to_dict(),
        }
        return ChurnModel(
            estimator=calibrated,
            kind=chosen,
            numeric=numeric,
            categorical=categorical,
            reference=reference_values(frame, numeric, categorical),
            labels=dict(labels or {}),
            metadata=metadata,
            held_out=held_out,
        )
