"""Classification metrics as plain data (JSON-ready)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 in percent (macro over all ``n_classes``, absent ones included)."""
    return {
        "accuracy": 100.0 * float(accuracy_score(y_true, y_pred)),
        "macro_f1": 100.0
        * float(f1_score(y_true, y_pred, labels=np.arange(n_classes), average="macro", zero_division=0)),
    }


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> list[list[int]]:
    """Rows = true class, columns = predicted class."""
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)).tolist()


def summarize(folds: list[dict[str, float]]) -> dict[str, float]:
    """Mean and (population) std over folds for every score key."""
    out: dict[str, float] = {}
    for key in folds[0]:
        vals = np.array([f[key] for f in folds], dtype=float)
        out[f"{key}_mean"] = float(vals.mean())
        out[f"{key}_std"] = float(vals.std())
    return out
