"""RFM analysis of buyers: recency, frequency and monetary value per account as of a date, their
1–5 scores, the widely used named segments (champions ... lost), and the eight-cell value map
Chinese users expect (重要价值客户 ... 一般挽留客户).

Input is an orders frame with columns account_id, date, amount (one row per order, amount ≥ 0;
net refunds out before). As of a date: recency = days since the last order, frequency = number of
orders, monetary = total amount. Orders after the as-of date are refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .value_frames import AnalyticsInputError, amounts, as_of_day, days, ids, not_after, require_frame

ORDER_COLUMNS = ("account_id", "date", "amount")

# The R × FM grid of the common RFM segment map (Putler's eleven segments; the same ranges are
# used by many tools): rows are the recency score 5..1, columns the FM score 1..5, where FM is
# the mean of the F and M scores rounded half up. Where the published ranges overlap, the more
# specific segment wins (champions over loyal, can't-lose over at-risk).
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    #    FM = 1            2                     3                  4              5
    5: ("new", "potential_loyalist", "loyal", "champions", "champions"),
    4: ("promising", "potential_loyalist", "loyal", "champions", "champions"),
    3: ("about_to_sleep", "need_attention", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "at_risk"),
    1: ("lost", "lost", "at_risk", "cant_lose", "cant_lose"),
}

SEGMENT_LABELS: dict[str, tuple[str, str]] = {
    "champions": ("Champions", "冠军客户"),
    "loyal": ("Loyal", "忠诚客户"),
    "potential_loyalist": ("Potential loyalists", "潜在忠诚客户"),
    "new": ("New customers", "新客户"),
    "promising": ("Promising", "有潜力客户"),
    "need_attention": ("Need attention", "需要关注客户"),
    "about_to_sleep": ("About to sleep", "即将沉睡客户"),
    "at_risk": ("At risk", "有流失风险客户"),
    "cant_lose": ("Can't lose them", "不能失去的客户"),
    "hibernating": ("Hibernating", "沉睡客户"),
    "lost": ("Lost", "已流失客户"),
}

# The eight-cell RFM value map used widely in China: each of R, F, M is high or low against the
# base's mean (or median). High R means recent: fewer days since the last order than the mean.
# Key: (R high, F high, M high).
VALUE_CLASSES: dict[tuple[bool, bool, bool], tuple[str, str, str]] = {
    (True, True, True): ("important_value", "Important value", "重要价值客户"),
    (True, False, True): ("important_develop", "Important to develop", "重要发展客户"),
    (False, True, True): ("important_keep", "Important to keep", "重要保持客户"),
    (False, False, True): ("important_win_back", "Important to win back", "重要挽留客户"),
    (True, True, False): ("general_value", "General value", "一般价值客户"),
    (True, False, False): ("general_develop", "General to develop", "一般发展客户"),
    (False, True, False): ("general_keep", "General to keep", "一般保持客户"),
    (False, False, False): ("general_win_back", "General to win back", "一般挽留客户"),
}

VALUE_COLUMNS = ("recency_days", "frequency", "monetary")
SCORE_COLUMNS = ("r_score", "f_score", "m_score", "fm_score", "rfm_code")


def rfm_values(orders: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per account (index account_id, sorted): recency_days, frequency, monetary as of ``as_of``."""
    require_frame(orders, "orders", ORDER_COLUMNS)
    if orders.empty:
        return pd.DataFrame(
            {
                "recency_days": pd.Series(dtype=np.int64),
                "frequency": pd.Series(dtype=np.int64),
                "monetary": pd.Series(dtype=float),
            },
            index=pd.Index([], name="account_id"),
        )
    account = ids(orders, "orders", "account_id")
    day = days(orders, "orders", "date")
    money = amounts(orders, "orders", "amount")
    limit = as_of_day(as_of)
    not_after(orders, "orders", "date", day, limit)
    grouped = pd.DataFrame({"account_id": account.to_numpy(), "day": day, "amount": money}).groupby(
        "account_id", sort=True
    )
    table = pd.DataFrame(
        {
            "recency_days": limit - grouped["day"].max(),
            "frequency": grouped.size(),
            "monetary": grouped["amount"].sum(),
        }
    )
    return table


def quintile_scores(values, *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1–5 by position in the base: score = 1 + ⌊5·(rank − 1)/n⌋ with rank the 1-based
    'min' rank (as SQL's PERCENT_RANK), so equal values always get equal scores, the result does
    not depend on row order, and the best fifth scores 5. With many ties some scores stay empty
    (if most accounts ordered once, they all score F = 1)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.isfinite(array).all():
        raise AnalyticsInputError("values", values, "scores need finite numbers")
    ranked = pd.Series(array if higher_is_better else -array).rank(method="min").to_numpy()
    return (1 + np.floor(5 * (ranked - 1) / array.size)).astype(np.int64)


def rfm_scores(values: pd.DataFrame) -> pd.DataFrame:
    """Add r_score (recent = 5), f_score, m_score, fm_score (mean of F and M rounded half up) and
    rfm_code ('545') to a frame with ``VALUE_COLUMNS`` (as from ``rfm_values``)."""
    require_frame(values, "values", VALUE_COLUMNS)
    scored = values.copy()
    scored["r_score"] = quintile_scores(values["recency_days"], higher_is_better=False)
    scored["f_score"] = quintile_scores(values["frequency"])
    scored["m_score"] = quintile_scores(values["monetary"])
    scored["fm_score"] = (scored["f_score"] + scored["m_score"] + 1) // 2
    scored["rfm_code"] = (
        scored["r_score"].astype(str) + scored["f_score"].astype(str) + scored["m_score"].astype(str)
    )
    return scored


def rfm_segments(scores: pd.DataFrame) -> pd.DataFrame:
    """Add segment (a key of ``SEGMENT_LABELS``), segment_label and segment_label_zh, looked up in
    ``SEGMENT_GRID`` by r_score and fm_score."""
    require_frame(scores, "scores", ("r_score", "fm_score"))
    r = scores["r_score"].to_numpy(dtype=np.int64)
    fm = scores["fm_score"].to_numpy(dtype=np.int64)
    for name, score in (("r_score", r), ("fm_score", fm)):
        if len(score) and ((score < 1) | (score > 5)).any():
            raise AnalyticsInputError(
                name, int(score[(score < 1) | (score > 5)][0]), "scores run from 1 to 5"
            )
    grid = np.array([SEGMENT_GRID[row] for row in (5, 4, 3, 2, 1)], dtype=object)
    segment = grid[5 - r, fm - 1] if len(r) else np.array([], dtype=object)
    out = scores.copy()
    out["segment"] = segment
    out["segment_label"] = pd.Series(segment, index=out.index).map(
        {k: v[0] for k, v in SEGMENT_LABELS.items()}
    )
    out["segment_label_zh"] = pd.Series(segment, index=out.index).map(
        {k: v[1] for k, v in SEGMENT_LABELS.items()}
    )
    return out


def value_classes(values: pd.DataFrame, *, threshold: str = "mean") -> pd.DataFrame:
    """Add the eight-cell map (``VALUE_CLASSES``): value_class, value_class_label,
    value_class_zh. Each of R, F, M is high when strictly better than the base's ``threshold``
    ("mean", the usual choice in Chinese practice, or "median", steadier when a few very large
    buyers pull the mean up) of the raw values: recency_days below it, frequency and monetary
    above it. A value equal to the threshold is low."""
    require_frame(values, "values", VALUE_COLUMNS)
    if threshold not in ("mean", "median"):
        raise AnalyticsInputError("threshold", threshold, "must be 'mean' or 'median'")
    out = values.copy()
    if values.empty:
        for column in ("value_class", "value_class_label", "value_class_zh"):
            out[column] = pd.Series(dtype=object)
        return out
    centre = getattr(values[list(VALUE_COLUMNS)].astype(float), threshold)()
    r_high = values["recency_days"] < centre["recency_days"]
    f_high = values["frequency"] > centre["frequency"]
    m_high = values["monetary"] > centre["monetary"]
    cell = 4 * r_high.to_numpy(int) + 2 * f_high.to_numpy(int) + m_high.to_numpy(int)
    table = np.empty((8, 3), dtype=object)
    for (r, f, m), names in VALUE_CLASSES.items():
        table[4 * r + 2 * f + m] = names
    out["value_class"] = table[cell, 0]
    out["value_class_label"] = table[cell, 1]
    out["value_class_zh"] = table[cell, 2]
    return out


def rfm_table(orders: pd.DataFrame, as_of, *, threshold: str = "mean") -> pd.DataFrame:
    """Everything above in one frame indexed by account_id: values, scores, segment and the
    eight-cell value class."""
    return value_classes(rfm_segments(rfm_scores(rfm_values(orders, as_of))), threshold=threshold)
