"""Risk factors that add up: exact Shapley values of a few players against a typical account.

For one account x and a reference (typical) account z, the value of a coalition S of features is
the model's prediction for x with the features outside S set to z's values:
v(S) = f(x_S, z_rest). The Shapley value of player i (Shapley 1953; the "baseline Shapley" of
Sundararajan & Najmi 2020, "The many Shapley values for model explanation", ICML, eq. 4) is

    φ_i = Σ_{S ⊆ N∖{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S))

and the values add up exactly: Σ φ_i = v(N) − v(∅) = f(x) − f(z), the account's risk minus the
risk of the typical account (the baseline). With many features an exact sum over 2^n coalitions
is out of reach, so the players are the ``players`` features that move this account's risk most
on their own, and one more player holding every other feature together ("other factors"): the
values are exact for that game, computed from 2^(players+1) predictions per account, no sampling.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd

OTHER = "_other"


def coalition_weights(n: int) -> dict[int, float]:
    """|S|!(n − |S| − 1)!/n! by coalition size |S|, for n players."""
    return {s: factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)}


def shapley(
    predict: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    reference: dict,
    single_effects: pd.DataFrame,
    players: int = 4,
) -> tuple[float, np.ndarray, list[list[tuple[str, float]]]]:
    """Per row of ``X``: the baseline f(z), the prediction f(x), and [(feature, φ), …] for the
    ``players`` features with the largest |single effect| (``single_effects``: same shape as X)
    plus (OTHER, φ) for all the rest; the φ of a row add up to f(x) − f(z)."""
    features = list(X.columns)
    n_rows, n_features = X.shape
    k = min(players, n_features)
    ref_row = pd.DataFrame([{f: reference[f] for f in features}])[features]
    baseline = float(predict(ref_row)[0])
    if n_rows == 0:
        return baseline, np.empty(0), []
    order = np.argsort(-np.abs(single_effects[features].to_numpy(dtype=float)), axis=1, kind="stable")[:, :k]
    # player_of[r, f]: the player (0 … k−1) feature f belongs to in row r; k is "other"
    player_of = np.full((n_rows, n_features), k)
    player_of[np.arange(n_rows)[:, None], order] = np.arange(k)[None, :]
    n = k + 1 if k < n_features else k
    masks = np.array([[(m >> p) & 1 for p in range(n)] for m in range(2**n)], dtype=bool)
    values = X.to_numpy(dtype=object)
    ref_values = ref_row.to_numpy(dtype=object)[0]
    stacked = []
    for mask in masks:
        member = mask[player_of]
        stacked.append(np.where(member, values, ref_values[None, :]))
    frame = pd.DataFrame(np.concatenate(stacked), columns=features)
    for column in features:  # back to the columns' own types (object arrays lose them)
        frame[column] = frame[column].astype(X[column].dtype) if X[column].dtype != object else frame[column]
    v = np.asarray(predict(frame), dtype=float).reshape(len(masks), n_rows)
    index = {tuple(m): i for i, m in enumerate(masks)}
    weight = coalition_weights(n)
    phi = np.zeros((n_rows, n))
    for i in range(n):
        others = [p for p in range(n) if p != i]
        for size in range(n):
            for subset in combinations(others, size):
                without = np.zeros(n, dtype=bool)
                without[list(subset)] = True
                with_i = without.copy()
                with_i[i] = True
                phi[:, i] += weight[size] * (v[index[tuple(with_i)]] - v[index[tuple(without)]])
    prediction = v[index[tuple(np.ones(n, dtype=bool))]]
    names = np.array(features, dtype=object)
    rows = []
    for r in range(n_rows):
        items = [(str(names[order[r, p]]), float(phi[r, p])) for p in range(k)]
        if n > k:
            items.append((OTHER, float(phi[r, k])))
        rows.append(items)
    return baseline, prediction, rows
