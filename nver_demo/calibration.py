"""Confidence calibration: temperature scaling (Guo et al., 2017, "On Calibration of Modern
Neural Networks", https://arxiv.org/abs/1706.04599) and expected calibration error.

A head's softmax is often over- or under-confident. One scalar ``T`` fitted on held-out speakers
(minimising their negative log-likelihood) divides the logits: ``softmax(z / T)``. The top-1 does
not change; how much its probability can be trusted does. The reliability table (accuracy per
confidence bin, measured on unseen speakers) lets the app say in plain words how often a top-1 at
a given confidence is right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_BINS = 15


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The ``T`` minimising the NLL of ``y`` under ``softmax(logits / T)``: a 1-D convex problem
    in ``log T``, solved by golden-section search (no optimiser state, deterministic)."""
    y = np.asarray(y)
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(logits, y, np.exp(c)), nll(logits, y, np.exp(d))
    for _ in range(80):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(logits, y, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(logits, y, np.exp(d))
    return float(np.exp((a + b) / 2))


def reliability(probs: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> list[dict]:
    """Equal-width confidence bins of the top-1: ``lo, hi, count, confidence, accuracy`` each."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(y)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        m = which == b
        out.append({
            "lo": float(edges[b]), "hi": float(edges[b + 1]), "count": int(m.sum()),
            "confidence": float(conf[m].mean()) if m.any() else None,
            "accuracy": float(correct[m].mean()) if m.any() else None,
        })  # fmt: skip
    return out


def ece(probs: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over bins."""
    bins = reliability(probs, y, n_bins)
    n = sum(b["count"] for b in bins)
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]) / max(n, 1))


def plain_words(confidence: float, bins: Sequence[dict], min_count: int = 30) -> str | None:
    """A sentence on how often a top-1 at this confidence was right on unseen speakers, from
    the checkpoint's reliability table; None when that bin (and its neighbours) hold too few clips."""
    if not bins:
        return None
    idx = min(int(confidence * len(bins)), len(bins) - 1)
    lo, hi = idx, idx
    count = bins[idx]["count"]
    while count < min_count and (lo > 0 or hi < len(bins) - 1):  # widen to neighbouring bins
        lo, hi = max(lo - 1, 0), min(hi + 1, len(bins) - 1)
        count = sum(b["count"] for b in bins[lo : hi + 1])
    if count < min_count:
        return None
    right = sum(b["count"] * b["accuracy"] for b in bins[lo : hi + 1] if b["count"]) / count
    band = f"{bins[lo]['lo'] * 100:.0f}–{bins[hi]['hi'] * 100:.0f} %"
    return (
        f"When this model's top answer has {band} confidence, it was right "
        f"{right * 100:.0f} % of the time on speakers it never heard ({count:,} clips)."
    )


def summarize_oof(proba: np.ndarray, y: np.ndarray, fold_of: np.ndarray, n_bins: int = N_BINS) -> dict:
    """Calibration of out-of-fold probabilities from speaker-grouped cross-validation.

    The shipped temperature is fitted on every out-of-fold prediction (all unseen speakers).
    ``ece_after`` is cross-fitted, so it is not scored on the clips its temperature was fitted
    on: fold k's probabilities are rescaled by a temperature fitted on the other folds.
    """
    logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, None))
    y = np.asarray(y)
    after = np.zeros_like(logits)
    per_fold = []
    for k in np.unique(fold_of):
        test = fold_of == k
        t_k = fit_temperature(logits[~test], y[~test])
        per_fold.append(t_k)
        after[test] = softmax(logits[test], t_k)
    before = softmax(logits)
    return {
        "method": "temperature scaling on out-of-fold (unseen-speaker) logits; ECE cross-fitted by fold",
        "temperature": round(fit_temperature(logits, y), 4),
        "fold_temperatures": [round(t, 4) for t in per_fold],
        "n_bins": n_bins,
        "ece_before": round(ece(before, y, n_bins), 4),
        "ece_after": round(ece(after, y, n_bins), 4),
        "nll_before": round(nll(logits, y), 4),
        "nll_after": round(float(-np.mean(np.log(np.clip(after[np.arange(len(y)), y], 1e-12, None)))), 4),
        "bins_after": reliability(after, y, n_bins),
    }
