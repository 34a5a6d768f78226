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

Everything works on the model's input matrix, one row per account, where a feature may span
several columns (``groups`` names each column's feature, as one-hot encoding makes them): setting
a feature to its typical value is setting its columns to the typical account's. The predictions
for all accounts and all coalitions are made in a few large calls, not one per account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from math import factorial

import numpy as np

OTHER = "_other"
ROWS_PER_CALL = 1 << 16  # 65,536 rows of ~80 columns: about 40 MB per prediction call

Predict = Callable[[np.ndarray], np.ndarray]


def coalition_weights(n: int) -> dict[int, float]:
    """|S|!(n − |S| − 1)!/n! by coalition size |S|, for n players."""
    return {s: factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)}


def shapley_matrix(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(masks, W): the 2^n coalitions as rows of booleans (bit p of the row number: player p is
    in), and W with φ = v @ W for v the coalitions' values: W[m, i] is +weight(|m| − 1) when i is
    in coalition m (it is S ∪ {i}) and −weight(|m|) when not (it is S)."""
    masks = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    weight = coalition_weights(n)
    sizes = masks.sum(axis=1)
    W = np.zeros((2**n, n))
    for m, mask in enumerate(masks):
        for i in range(n):
            W[m, i] = weight[sizes[m] - 1] if mask[i] else -weight[sizes[m]]
    return masks, W


def predict_in_batches(
    predict: Predict, blocks: Iterable[np.ndarray], rows_per_call: int = ROWS_PER_CALL
) -> np.ndarray:
    """The predictions for the blocks' rows, in order, from calls of about ``rows_per_call`` rows."""
    out, pending, pending_rows = [], [], 0

    def flush():
        # column by column in memory: a tree ensemble reads one feature of every row per split,
        # and 65,536 rows took a fifth of the time this way here
        out.append(np.asarray(predict(np.asfortranarray(np.concatenate(pending))), dtype=float))

    for block in blocks:
        pending.append(block)
        pending_rows += len(block)
        if pending_rows >= rows_per_call:
            flush()
            pending, pending_rows = [], 0
    if pending:
        flush()
    return np.concatenate(out) if out else np.empty(0)


def _differs(X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per cell, whether it differs from the reference's column (missing equals missing)."""
    return ~((X == reference[None, :]) | (np.isnan(X) & np.isnan(reference)[None, :]))


def single_effects(
    predict: Predict,
    X: np.ndarray,
    reference: np.ndarray,
    groups: np.ndarray,
    n_features: int,
    prediction: np.ndarray,
) -> np.ndarray:
    """Per row and feature j, f(x) − f(x with feature j at the reference's value): how much that
    feature moves the row's prediction on its own. ``prediction`` is f(X). A feature already at
    its typical value moves nothing, and needs no prediction."""
    differs = _differs(X, reference)
    jobs = []
    for j in range(n_features):
        columns = groups == j
        rows = np.flatnonzero(differs[:, columns].any(axis=1))
        if rows.size:
            jobs.append((j, rows, columns))

    def swapped():
        for _, rows, columns in jobs:
            block = X[rows]
            block[:, columns] = reference[columns]
            yield block

    moved = predict_in_batches(predict, swapped())
    effects = np.zeros((len(X), n_features))
    start = 0
    for j, rows, _ in jobs:
        effects[rows, j] = prediction[rows] - moved[start : start + rows.size]
        start += rows.size
    return effects


def shapley(
    predict: Predict,
    X: np.ndarray,
    reference: np.ndarray,
    groups: np.ndarray,
    single: np.ndarray,
    prediction: np.ndarray,
    players: int = 4,
) -> tuple[float, np.ndarray, np.ndarray]:
    """(baseline f(z), strongest, φ) for the rows of ``X`` (the model's input matrix; ``groups``:
    each column's feature; ``reference``: the typical row; ``prediction``: f(X)). ``strongest``
    [r, p] is the feature of player p of row r: the ``players`` features with the largest
    |single effect| (``single``: rows × features). φ[r, p] is that player's Shapley value, with
    φ[r, players] for all the other features together when there are any. The φ of a row add up
    to f(x) − f(z)."""
    n_rows, n_features = single.shape
    k = min(players, n_features)
    baseline = float(predict(reference[None, :])[0])
    strongest = np.argsort(-np.abs(single), axis=1, kind="stable")[:, :k]
    n = k + 1 if k < n_features else k
    if n_rows == 0:
        return baseline, strongest, np.empty((0, n))
    # player_of[r, f]: the player (0 … k−1) feature f belongs to in row r; k is "other"
    player_of = np.full((n_rows, n_features), k)
    player_of[np.arange(n_rows)[:, None], strongest] = np.arange(k)[None, :]
    player_of_column = player_of[:, groups]
    masks, W = shapley_matrix(n)
    inner = range(1, len(masks) - 1)  # the empty coalition is the typical account, the full one x itself
    values = predict_in_batches(
        predict, (np.where(masks[m][player_of_column], X, reference[None, :]) for m in inner)
    )
    v = np.empty((len(masks), n_rows))
    v[0], v[-1], v[1:-1] = baseline, prediction, values.reshape(len(inner), n_rows)
    return baseline, strongest, v.T @ W
