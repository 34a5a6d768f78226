"""How good are our risk scores and flags? One evaluation, used by the backtest, the churn model's
training and the public Telco check alike.

:func:`evaluate` scores predictions against outcomes (ROC AUC, PR AUC, Brier score, a calibration
table, precision and recall at a threshold) and, given when each account was first flagged and
when it churned, the early warning's lead time (recall of churners flagged at least 90 days
ahead, precision of flags, the distribution of lead times). :func:`cross_validate_model` runs it
on each fold of a stratified K-fold split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from .uplift import wilson

LEAD_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class CalibrationBin:
    bin: int
    count: int
    low: float  # lowest score in the bin
    high: float
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class LeadTimeReport:
    min_lead_days: int
    horizon_days: int
    churners: int
    churners_flagged_before: int  # flagged on or before the churn date, however late
    churners_flagged_in_time: int  # flagged at least min_lead_days before churning
    recall_in_time: float | None
    flagged: int
    flags_judged: int  # flagged accounts whose horizon has been observed (or that churned)
    flags_followed_by_churn: int  # churned within horizon_days of the first flag
    precision: float | None
    lead_days: dict = field(default_factory=dict)  # mean and quantiles of days from first flag to churn
    # 95% Wilson score intervals [low, high] of recall_in_time and precision (None where they are):
    # with a few dozen churners a recall of 0.6 may be anything from 0.4 to 0.8
    recall_in_time_ci: list[float] | None = None
    precision_ci: list[float] | None = None


@dataclass(frozen=True)
class ScoreReport:
    n: int
    positives: int
    base_rate: float | None
    roc_auc: float | None  # None when only one class is present
    pr_auc: float | None  # average precision
    brier: float | None  # None when scores are not probabilities
    threshold: float
    flagged: int
    precision: float | None
    recall: float | None
    calibration: list[CalibrationBin]
    lead_time: LeadTimeReport | None = None

    def to_dict(self) -> dict:
        """JSON-ready (``--json`` output, stored model metrics)."""
        return asdict(self)


def evaluate(
    y_true,
    scores,
    *,
    threshold: float = 0.5,
    bins: int = 10,
    first_flag=None,
    churn_date=None,
    min_lead_days: int = 90,
    horizon_days: int = 180,
    observed_until=None,
) -> ScoreReport:
    """Score predictions (higher = more likely to churn) against outcomes (1 = churned).

    The calibration table splits the rows into ``bins`` groups of equal size by score (deciles by
    default) and compares the mean predicted probability with the observed churn rate in each.
    Pass ``first_flag`` and ``churn_date`` (per-account dates, see :func:`lead_time_metrics`)
    to add the early warning's lead-time analysis.
    """
    y = _binary(y_true, "y_true")
    s = np.asarray(scores, dtype=float)
    if s.shape != y.shape:
        raise ValueError(f"scores has {s.size} values for {y.size} outcomes")
    if np.isnan(s).any():
        raise ValueError(f"scores holds {int(np.isnan(s).sum())} missing values; every row needs a score")
    n, positives = y.size, int(y.sum())
    both = 0 < positives < n
    probabilities = bool(n) and s.min() >= 0 and s.max() <= 1
    flagged = s >= threshold
    true_flags = int((flagged & (y == 1)).sum())
    report = ScoreReport(
        n=int(n),
        positives=positives,
        base_rate=positives / n if n else None,
        roc_auc=float(roc_auc_score(y, s)) if both else None,
        pr_auc=float(average_precision_score(y, s)) if both else None,
        brier=float(np.mean((s - y) ** 2)) if probabilities else None,
        threshold=float(threshold),
        flagged=int(flagged.sum()),
        precision=true_flags / int(flagged.sum()) if flagged.any() else None,
        recall=true_flags / positives if positives else None,
        calibration=calibration_table(y, s, bins),
        lead_time=None,
    )
    if first_flag is not None or churn_date is not None:
        if first_flag is None or churn_date is None:
            raise ValueError("lead-time analysis needs both first_flag and churn_date")
        lead = lead_time_metrics(
            first_flag,
            churn_date,
            min_lead_days=min_lead_days,
            horizon_days=horizon_days,
            observed_until=observed_until,
        )
        report = replace(report, lead_time=lead)
    return report


def calibration_table(y, scores, bins: int = 10) -> list[CalibrationBin]:
    """Equal-count bins by score: mean predicted vs observed rate (ties broken by row order)."""
    y = np.asarray(y, dtype=float)
    s = np.asarray(scores, dtype=float)
    if not s.size:
        return []
    order = np.argsort(s, kind="stable")
    groups = np.array_split(order, min(bins, s.size))
    return [
        CalibrationBin(
            bin=i + 1,
            count=int(g.size),
            low=float(s[g].min()),
            high=float(s[g].max()),
            mean_predicted=float(s[g].mean()),
            observed_rate=float(y[g].mean()),
        )
        for i, g in enumerate(groups)
    ]


def lead_time_metrics(
    first_flag, churn_date, *, min_lead_days: int = 90, horizon_days: int = 180, observed_until=None
) -> LeadTimeReport:
    """How early the early warning spoke.

    ``first_flag``: per account (the index), the date it was first flagged (NaT if never).
    ``churn_date``: per account, the date it churned (NaT if it did not). Accounts in either are
    the population. A churner counts as caught when its first flag came at least
    ``min_lead_days`` before the churn date. A flag is right when the account churned within
    ``horizon_days`` of it; with ``observed_until``, flags whose horizon runs past it and whose
    account has not churned cannot be judged yet and are left out of the precision.
    Flags raised after an account churned do not count as flags.
    """
    flags = _dates(first_flag, "first_flag")
    churns = _dates(churn_date, "churn_date")
    index = flags.index.union(churns.index)
    flags, churns = flags.reindex(index), churns.reindex(index)
    churned = churns.notna()
    lead = (churns - flags).dt.days
    before = churned & flags.notna() & (lead >= 0)
    in_time = before & (lead >= min_lead_days)
    flagged = flags.notna() & ~(churned & (lead < 0))
    followed = flagged & churned & (lead <= horizon_days)
    judged = flagged.copy()
    if observed_until is not None:
        horizon_end = flags + pd.Timedelta(days=horizon_days)
        judged = flagged & (followed | (horizon_end <= pd.Timestamp(observed_until)))
    leads = lead[before].astype(float)
    lead_days = {}
    if len(leads):
        lead_days = {
            "mean": float(leads.mean()),
            **{f"p{int(q * 100)}": float(leads.quantile(q)) for q in LEAD_QUANTILES},
        }
    n_churned, n_judged = int(churned.sum()), int(judged.sum())
    n_in_time, n_right = int(in_time.sum()), int((followed & judged).sum())
    return LeadTimeReport(
        min_lead_days=int(min_lead_days),
        horizon_days=int(horizon_days),
        churners=n_churned,
        churners_flagged_before=int(before.sum()),
        churners_flagged_in_time=int(in_time.sum()),
        recall_in_time=int(in_time.sum()) / n_churned if n_churned else None,
        flagged=int(flagged.sum()),
        flags_judged=n_judged,
        flags_followed_by_churn=int((followed & judged).sum()),
        precision=int((followed & judged).sum()) / n_judged if n_judged else None,
        lead_days=lead_days,
        recall_in_time_ci=interval(n_in_time, n_churned),
        precision_ci=interval(n_right, n_judged),
    )


def interval(successes: int, n: int) -> list[float] | None:
    """The 95% Wilson score interval of successes/n, rounded to 4 places; None when n is 0."""
    if not n:
        return None
    return [round(bound, 4) for bound in wilson(successes, n)]


def churn_scope(churn_date: pd.Series, start, end, *, min_lead_days: int = 90, observed_until=None):
    """Which churners a replay of [start, end] can judge: (in scope, out of scope). In scope,
    the accounts whose first churn after ``start`` falls where a flag ``min_lead_days`` ahead
    could have been raised within the replay and observed (per account, its churn date); out of
    scope, the accounts that churned after ``start`` outside that span (judged on neither side)."""
    churns = _dates(churn_date, "churn_date")
    lo = pd.Timestamp(start) + pd.Timedelta(days=min_lead_days)
    hi = pd.Timestamp(end) + pd.Timedelta(days=min_lead_days)
    if observed_until is not None:
        hi = min(hi, pd.Timestamp(observed_until))
    first = churns[churns > pd.Timestamp(start)].groupby(level=0).min()
    in_scope = first[(first >= lo) & (first <= hi)]
    return in_scope, set(first.index) - set(in_scope.index)


@dataclass(frozen=True)
class FlagPrecision:
    horizon_days: int
    flag_days: int  # (account, date) pairs flagged
    judged: int  # those whose horizon has been observed (or whose account churned)
    followed_by_churn: int
    precision: float | None


def flag_precision(
    flags: pd.DataFrame, churn_date, *, horizon_days: int = 180, observed_until=None
) -> FlagPrecision:
    """Point-in-time precision: of the accounts flagged on a day, the share that churned within
    ``horizon_days`` after it, pooled over the days (what a CSM sees in today's at-risk list).

    ``flags``: columns account and date, one row per account flagged on a replayed day.
    ``churn_date``: per account (the index), its next churn date (NaT if none). A flag whose
    horizon runs past ``observed_until`` and whose account has not churned cannot be judged yet.
    Flags on or after the churn date are not flags (the account had already left)."""
    churns = _dates(churn_date, "churn_date")
    rows = flags[["account", "date"]].copy()
    rows["date"] = pd.to_datetime(rows["date"])
    churned = pd.Series(churns.reindex(rows["account"].to_numpy()).to_numpy(), index=rows.index)
    lead = (churned - rows["date"]).dt.days
    rows = rows[~(lead <= 0)]
    lead = lead[rows.index]
    followed = lead.between(1, horizon_days)
    judged = followed.copy()
    if observed_until is not None:
        judged = followed | (rows["date"] + pd.Timedelta(days=horizon_days) <= pd.Timestamp(observed_until))
    else:
        judged[:] = True
    n_judged = int(judged.sum())
    hits = int((followed & judged).sum())
    return FlagPrecision(
        horizon_days=int(horizon_days),
        flag_days=int(len(rows)),
        judged=n_judged,
        followed_by_churn=hits,
        precision=hits / n_judged if n_judged else None,
    )


@dataclass(frozen=True)
class CrossValidation:
    folds: list[ScoreReport]
    fold_auc: list[float]
    mean_auc: float
    std_auc: float
    pooled: ScoreReport  # every row scored by the fold model that did not see it
    scores: np.ndarray | None = field(default=None, repr=False)  # those scores, row by row

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "scores"}


def cross_validate_model(
    model_factory: Callable[[], object], X, y, folds: int = 5, seed: int = 0, groups=None
) -> CrossValidation:
    """Stratified K-fold: fit ``model_factory()`` on K−1 folds, :func:`evaluate` its
    ``predict_proba`` on the held-out fold. With ``groups`` (e.g. account ids when an account
    has rows at several dates) no group is split across folds, so nothing leaks between them."""
    y = _binary(y, "y")
    pooled = np.full(y.size, np.nan)
    reports = []
    for train, test in fold_indices(y, folds, seed, groups):
        model = model_factory()
        model.fit(_rows(X, train), y[train])
        probabilities = model.predict_proba(_rows(X, test))[:, 1]
        pooled[test] = probabilities
        reports.append(evaluate(y[test], probabilities))
    aucs = [r.roc_auc for r in reports]
    if any(a is None for a in aucs):
        raise ValueError("a fold held only one class; use fewer folds")
    return CrossValidation(
        folds=reports,
        fold_auc=aucs,
        mean_auc=float(np.mean(aucs)),
        std_auc=float(np.std(aucs)),
        pooled=evaluate(y, pooled),
        scores=pooled,
    )


def fold_indices(y, folds: int = 5, seed: int = 0, groups=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) row positions of a stratified K-fold split, shuffled with ``seed``; with
    ``groups`` no group is split across folds. The same arguments give the same folds, so a model
    cross-validated here and calibrated on the same folds sees the same held-out rows."""
    y = _binary(y, "y")
    if groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(y.size), y))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(y.size), y, np.asarray(groups)))


def _rows(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def _binary(values, name) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool:
        return array.astype(int)
    try:
        numbers = array.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold 0/1 (or true/false) outcomes") from None
    if np.isnan(numbers).any() or not np.isin(numbers, (0.0, 1.0)).all():
        raise ValueError(
            f"{name} must hold 0/1 (or true/false) outcomes, found {sorted(set(numbers[:1000].tolist()))[:5]}"
        )
    return numbers.astype(int)


def _dates(values, name) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise ValueError(f"{name} must be a pandas Series indexed by account")
    return pd.to_datetime(values)


# -- flagging on a risk score -------------------------------------------------------------------


def first_flags(scores: pd.DataFrame, threshold: float, confirm_days: int = 0) -> pd.Series:
    """Per account, the first date its score had stayed at or above ``threshold`` for
    ``confirm_days`` (see :func:`held_flags`)."""
    return held_flags(scores, threshold, confirm_days).groupby("account")["as_of"].min()


def held_flags(scores: pd.DataFrame, threshold: float, confirm_days: int = 0) -> pd.DataFrame:
    """The (account, as_of) rows on which the score had stayed at or above ``threshold`` for
    ``confirm_days`` (a run of consecutive dates above it, the first one counting as day 0).
    ``scores``: columns account, as_of, score; one row per account and replayed date (an
    account missing on a date breaks its run)."""
    rows = scores[["account", "as_of", "score"]].sort_values(["account", "as_of"], kind="stable")
    rows = rows.assign(as_of=pd.to_datetime(rows["as_of"]), above=rows["score"].to_numpy() >= threshold)
    dates = np.sort(rows["as_of"].unique())
    position = pd.Series(np.arange(len(dates)), index=dates)
    step = rows["as_of"].map(position).to_numpy()
    account = rows["account"].to_numpy()
    above = rows["above"].to_numpy()
    # a run starts where the row is above and the row before it (same account, previous date) is not
    continues = np.r_[False, (account[1:] == account[:-1]) & (step[1:] == step[:-1] + 1) & above[:-1]]
    run = np.cumsum(above & ~continues)
    start = pd.Series(rows["as_of"].to_numpy()).groupby(run).transform("first").to_numpy()
    held = above & ((rows["as_of"].to_numpy() - start) >= np.timedelta64(confirm_days, "D"))
    return rows.loc[held, ["account", "as_of"]]


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    recall_in_time: float | None
    precision: float | None
    flagged: int


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float | None  # None: no threshold reaches the target precision
    target_precision: float
    precision: float | None
    recall_in_time: float | None
    curve: list[CurvePoint]

    def to_dict(self) -> dict:
        return asdict(self)


CURVE_QUANTILES = np.linspace(0.5, 0.995, 34)
CURVE_STEPS = np.linspace(0.02, 0.98, 49)


def flag_curve(
    scores: pd.DataFrame,
    churn_date: pd.Series,
    *,
    thresholds=None,
    include=(),
    confirm_days: int = 0,
    min_lead_days: int = 90,
    horizon_days: int = 180,
    observed_until=None,
) -> list[CurvePoint]:
    """The early warning's precision–recall trade-off over thresholds on a risk score: at each
    threshold, the accounts flagged (:func:`first_flags`) judged as :func:`lead_time_metrics`
    judges them (recall of churners flagged ``min_lead_days`` ahead, precision of flags followed
    by churn within ``horizon_days``). Thresholds: the score's quantiles from the median up, and
    every 0.02 from 0.02 to 0.98, and those in ``include`` (e.g. the one in use)."""
    if thresholds is None:
        quantiles = np.quantile(scores["score"], CURVE_QUANTILES) if len(scores) else []
        thresholds = np.unique(np.r_[np.round(np.r_[quantiles, CURVE_STEPS], 4), list(include)])
    churns = _dates(churn_date, "churn_date")
    points = []
    for threshold in thresholds:
        flags = first_flags(scores, float(threshold), confirm_days)
        report = lead_time_metrics(
            flags.reindex(flags.index.union(churns.index)),
            churns,
            min_lead_days=min_lead_days,
            horizon_days=horizon_days,
            observed_until=observed_until,
        )
        points.append(CurvePoint(float(threshold), report.recall_in_time, report.precision, report.flagged))
    return points


def choose_threshold(curve: list[CurvePoint], target_precision: float) -> ThresholdChoice:
    """The threshold with the best recall among those whose precision reaches the target (the
    lowest such threshold on ties); None when none does."""
    if not 0 < target_precision < 1:
        raise ValueError(f"the target precision is a share between 0 and 1, got {target_precision!r}")
    reaching = [p for p in curve if p.precision is not None and p.precision >= target_precision]
    best = max(reaching, key=lambda p: (p.recall_in_time or 0.0, -p.threshold), default=None)
    return ThresholdChoice(
        threshold=best.threshold if best else None,
        target_precision=float(target_precision),
        precision=best.precision if best else None,
        recall_in_time=best.recall_in_time if best else None,
        curve=list(curve),
    )
