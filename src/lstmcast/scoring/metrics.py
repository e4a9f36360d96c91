"""Forecast accuracy metrics: pure numpy functions of arrays.

Every function takes array-likes, converts them to float64 and returns a Python ``float``
averaged over *all* elements (windows, steps, channels, ...), unless its docstring says
otherwise. Shapes are written with the symbols used across lstmcast:

    N  windows (or series)      H  forecast horizon (steps)
    C  channels / targets       Q  quantile levels
    T  length of an in-sample (training) series

``y_true`` and the forecast must have the *same* shape (no broadcasting: a silently
broadcast ``[N, H]`` against ``[N, H, 1]`` is a classic source of wrong scores); a shape
mismatch or an empty input raises ``ValueError``.

NaN handling: none of these metrics skips NaN. A NaN anywhere in the inputs makes the
result NaN, so that missing values are never silently dropped from a score. Drop or
impute them before scoring.

This module must not import torch (see STYLE.md: the numeric core stays pure numpy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "POINT_METRICS",
    "crps_gaussian",
    "crps_quantiles",
    "interval_coverage",
    "mae",
    "mape",
    "mase",
    "mse",
    "owa",
    "pinball_loss",
    "point_metrics",
    "rmse",
    "score_point",
    "smape",
    "smape_m3",
]


# --------------------------------------------------------------------------- helpers


def _as_float_array(x: ArrayLike, name: str) -> np.ndarray:
    """Convert ``x`` to a float64 ndarray, raising a clear error if it is empty or not numeric."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be numeric array-like; got {type(x).__name__} that cannot be "
            f"converted to float64 ({exc}). Pass a numpy array, list or pandas object of numbers."
        ) from exc
    if arr.size == 0:
        raise ValueError(
            f"{name} is empty (shape {arr.shape}); a metric needs at least one value. "
            "Check that the forecast window or test split is not empty."
        )
    return arr


def _check_same_shape(**arrays: np.ndarray) -> None:
    """Raise ValueError naming every array if their shapes differ."""
    shapes = {name: arr.shape for name, arr in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(
            f"Arrays must have the same shape, got {listed}. Reshape them to match "
            "(e.g. forecast[..., None] or y.squeeze(-1)); metrics do not broadcast."
        )


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    yt = _as_float_array(y_true, "y_true")
    yp = _as_float_array(y_pred, "y_pred")
    _check_same_shape(y_true=yt, y_pred=yp)
    return yt, yp


def _check_quantiles(quantiles: ArrayLike, q_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Validate quantile levels ``[Q]`` against ``q_pred`` of shape ``y_true.shape + (Q,)``."""
    q = _as_float_array(quantiles, "quantiles")
    if q.ndim != 1:
        raise ValueError(
            f"quantiles must be 1-D [Q], got shape {q.shape}. Pass e.g. [0.1, 0.5, 0.9]."
        )
    if not np.all((q > 0) & (q < 1)):
        raise ValueError(
            f"quantile levels must lie strictly between 0 and 1, got {q.tolist()}. "
            "Pass probabilities such as 0.1, 0.5, 0.9 (not percentages)."
        )
    expected = (*y_true.shape, q.size)
    if q_pred.shape != expected:
        raise ValueError(
            f"q_pred must have shape y_true.shape + (Q,) = {expected} (a trailing quantile axis "
            f"with one entry per level), got {q_pred.shape}."
        )
    return q


# --------------------------------------------------------------------------- point metrics


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, ``mean(|y - ŷ|)``.

    Inputs:
        y_true: ``[...]`` actual values.
        y_pred: ``[...]`` forecasts, same shape.
    Returns:
        float, averaged over every element.
    """
    yt, yp = _pair(y_true, y_pred)
    return float(np.mean(np.abs(yt - yp)))


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean squared error, ``mean((y - ŷ)²)``. Shapes as in :func:`mae`."""
    yt, yp = _pair(y_true, y_pred)
    return float(np.mean(np.square(yt - yp)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, ``sqrt(mse)`` over all elements. Shapes as in :func:`mae`."""
    return math.sqrt(mse(y_true, y_pred))


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error in percent, ``100 * mean(|y - ŷ| / |y|)``.

    Inputs:
        y_true: ``[...]`` actual values; none may be zero.
        y_pred: ``[...]`` forecasts, same shape.
    Returns:
        float, percent (``12.5`` means 12.5 %).
    Raises:
        ValueError: if any actual is 0 (MAPE is undefined there); the message says how many
            and where the first one is. Use :func:`smape` or :func:`mase` for such series.
    """
    yt, yp = _pair(y_true, y_pred)
    zero = yt == 0
    if zero.any():
        first = tuple(int(i) for i in np.argwhere(zero)[0])
        raise ValueError(
            f"MAPE is undefined where y_true == 0, and y_true has {int(zero.sum())} zero "
            f"value(s) (first at index {first}). Use smape() or mase() for series with zeros."
        )
    return float(100.0 * np.mean(np.abs(yt - yp) / np.abs(yt)))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE in percent, M4 definition: ``mean(200 * |y - ŷ| / (|y| + |ŷ|))``.

    Ranges from 0 to 200. Where both ``y`` and ``ŷ`` are exactly 0 the term is 0/0; it is
    defined here as 0 (a perfect forecast) rather than NaN. (The M4 data have no zeros.)

    Inputs:
        y_true: ``[...]`` actual values.
        y_pred: ``[...]`` forecasts, same shape.
    Returns:
        float, percent.
    """
    yt, yp = _pair(y_true, y_pred)
    num = 200.0 * np.abs(yt - yp)
    den = np.abs(yt) + np.abs(yp)
    both_zero = den == 0
    terms = num / np.where(both_zero, 1.0, den)
    return float(np.mean(terms))


def smape_m3(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE in percent, M3 variant: ``mean(200 * |y - ŷ| / (y + ŷ))``.

    The denominator has no absolute values (Makridakis & Hibon 2000; the N-BEATS paper's
    M3 tables). It equals :func:`smape` whenever ``y`` and ``ŷ`` are both non-negative, and
    differs (it can be negative or explode) when a forecast is negative. Shapes as in
    :func:`mae`; raises ValueError where ``y + ŷ == 0`` (undefined).
    """
    yt, yp = _pair(y_true, y_pred)
    den = yt + yp
    if (den == 0).any():
        raise ValueError(
            f"The M3 sMAPE is undefined where y_true + y_pred == 0 ({int((den == 0).sum())} "
            "value(s)). Use smape() (the M4 definition) for such forecasts."
        )
    return float(np.mean(200.0 * np.abs(yt - yp) / den))


def _mase_scale(insample: np.ndarray, season: int) -> np.ndarray:
    """In-sample seasonal-naive MAE along the last axis: ``[..., T] -> [...]``."""
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise ValueError(
            f"season must be a positive int (1 for non-seasonal data), got {season!r}."
        )
    if insample.shape[-1] <= season:
        raise ValueError(
            f"MASE needs an in-sample series longer than season={season}, got length "
            f"{insample.shape[-1]}. Pass more history or a smaller season."
        )
    return np.mean(np.abs(insample[..., season:] - insample[..., :-season]), axis=-1)


def mase(y_true: ArrayLike, y_pred: ArrayLike, insample: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error, M4 definition.

    ``mean(|y - ŷ|) / scale`` with ``scale = mean_t |insample[t] - insample[t - m]|``, the
    in-sample MAE of the seasonal naive forecast with period ``m = season``.

    Inputs:
        y_true: ``[H]`` (or any shape) out-of-sample actuals of *one* series.
        y_pred: forecasts, same shape as ``y_true``.
        insample: ``[T]`` the series' training values, ``T > season``.
        season: seasonal period ``m`` (1 = non-seasonal: scale by the naive forecast).
    Returns:
        float. For a collection of series compute one MASE per series and average them
        (as M4 does; see :func:`lstmcast.evaluation.protocols.score_m4`).
    Raises:
        ValueError: if ``insample`` is not 1-D, too short, or constant at lag ``season``
            (scale 0: MASE undefined).
    """
    yt, yp = _pair(y_true, y_pred)
    ins = _as_float_array(insample, "insample")
    if ins.ndim != 1:
        raise ValueError(
            f"insample must be 1-D [T] (the training values of one series), got shape "
            f"{ins.shape}. Score several series one at a time and average the results."
        )
    scale = float(_mase_scale(ins, season))
    if scale == 0:
        raise ValueError(
            f"MASE is undefined: insample is constant at lag season={season} (scale 0). "
            "Use mae() for this series or check that season is right."
        )
    return float(np.mean(np.abs(yt - yp)) / scale)


def owa(smape: float, mase: float, smape_naive2: float, mase_naive2: float) -> float:
    """Overall weighted average (M4): ``((sMAPE / sMAPE_N2) + (MASE / MASE_N2)) / 2``.

    Inputs are dataset-level averages (sMAPE in percent, MASE) of the method and of the
    Naive2 benchmark on the same series. OWA < 1 means better than Naive2.
    """
    for name, value in (("smape_naive2", smape_naive2), ("mase_naive2", mase_naive2)):
        if not value > 0:
            raise ValueError(
                f"{name} must be positive to be a denominator, got {value!r}. "
                "Pass the Naive2 benchmark's dataset-level score on the same series."
            )
    return float((smape / smape_naive2 + mase / mase_naive2) / 2.0)


# --------------------------------------------------------------------------- probabilistic


def pinball_loss(
    y_true: ArrayLike, q_pred: ArrayLike, quantiles: Sequence[float] | ArrayLike
) -> float:
    """Pinball (quantile) loss averaged over elements and quantile levels.

    For level ``q`` and error ``e = y - ŷ_q`` the loss is ``max(q * e, (q - 1) * e)``.

    Inputs:
        y_true: ``[...]`` actual values (e.g. ``[N, H, C]``).
        q_pred: ``[..., Q]`` quantile forecasts: ``y_true``'s shape plus a trailing axis
            with one entry per level.
        quantiles: ``[Q]`` levels in (0, 1).
    Returns:
        float, ``mean`` over all elements and all Q levels (not a sum over levels).
    """
    yt = _as_float_array(y_true, "y_true")
    qp = _as_float_array(q_pred, "q_pred")
    q = _check_quantiles(quantiles, qp, yt)
    err = yt[..., None] - qp  # [..., 1] - [..., Q] -> [..., Q]
    return float(np.mean(np.maximum(q * err, (q - 1.0) * err)))


def interval_coverage(y_true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Fraction of actuals inside the closed interval ``[lower, upper]``.

    Inputs:
        y_true, lower, upper: ``[...]`` same shape; ``lower <= upper`` everywhere.
    Returns:
        float in [0, 1] (NaN if any input is NaN).
    Raises:
        ValueError: on shape mismatch or if some ``lower > upper`` (crossed quantiles).
    """
    yt = _as_float_array(y_true, "y_true")
    lo = _as_float_array(lower, "lower")
    hi = _as_float_array(upper, "upper")
    _check_same_shape(y_true=yt, lower=lo, upper=hi)
    crossed = lo > hi
    if crossed.any():
        first = tuple(int(i) for i in np.argwhere(crossed)[0])
        raise ValueError(
            f"lower > upper at {int(crossed.sum())} position(s) (first at index {first}). "
            "Pass the lower quantile as lower, or sort the quantile forecasts first."
        )
    if np.isnan(yt).any() or np.isnan(lo).any() or np.isnan(hi).any():
        return float("nan")
    return float(np.mean((yt >= lo) & (yt <= hi)))


_erf = np.frompyfunc(math.erf, 1, 1)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    erf = np.asarray(_erf(z / math.sqrt(2.0)), dtype=np.float64)  # object array -> float64
    return 0.5 * (1.0 + erf)


def crps_gaussian(y_true: ArrayLike, mean: ArrayLike, std: ArrayLike) -> float:
    """Continuous ranked probability score of Gaussian forecasts, closed form.

    ``CRPS(N(μ, σ²), y) = σ [z (2Φ(z) - 1) + 2φ(z) - 1/√π]`` with ``z = (y - μ) / σ``
    (Gneiting & Raftery 2007). Lower is better; for ``σ -> 0`` it tends to ``|y - μ|``.

    Inputs:
        y_true, mean, std: ``[...]`` same shape; ``std > 0``.
    Returns:
        float, mean CRPS over all elements (in the units of ``y``).
    """
    yt = _as_float_array(y_true, "y_true")
    mu = _as_float_array(mean, "mean")
    sd = _as_float_array(std, "std")
    _check_same_shape(y_true=yt, mean=mu, std=sd)
    if not np.all(sd > 0):
        bad = int(np.sum(~(sd > 0)))
        raise ValueError(
            f"std must be positive, got {bad} value(s) <= 0 or NaN (min {np.nanmin(sd)!r}). "
            "Pass standard deviations, not variances or log-scales, and clip them at a small epsilon."
        )
    z = (yt - mu) / sd
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    crps = sd * (z * (2.0 * _normal_cdf(z) - 1.0) + 2.0 * pdf - 1.0 / math.sqrt(math.pi))
    return float(np.mean(crps))


def crps_quantiles(
    y_true: ArrayLike, q_pred: ArrayLike, quantiles: Sequence[float] | ArrayLike
) -> float:
    """CRPS approximated from quantile forecasts: ``2 * pinball_loss`` averaged over levels.

    CRPS equals ``2 ∫₀¹ pinball_q dq``; with a finite set of levels the integral is
    approximated by the mean over the given levels, so the result is an approximation whose
    quality depends on how densely and evenly the levels cover (0, 1) (e.g. 0.05, 0.1, ...,
    0.95). Shapes as in :func:`pinball_loss`.
    """
    return 2.0 * pinball_loss(y_true, q_pred, quantiles)


# --------------------------------------------------------------------------- registry and bundle

POINT_METRICS: dict[str, Callable[[ArrayLike, ArrayLike], float]] = {
    "mae": mae, "mse": mse, "rmse": rmse, "mape": mape, "smape": smape, "smape_m3": smape_m3,
}
"""Every point metric of ``(y_true, y_pred)`` by name: the one table that :func:`point_metrics`, the
window scores of ``fit`` / ``evaluate`` and the backtest folds read (through :func:`score_point`)."""


def score_point(y_true: ArrayLike, y_pred: ArrayLike, names: Sequence[str]) -> dict[str, float]:
    """``{name: POINT_METRICS[name](y_true, y_pred)}`` in the order of ``names`` (shapes as in :func:`mae`)."""
    unknown = [name for name in names if name not in POINT_METRICS]
    if unknown:
        raise ValueError(f"Unknown point metric(s) {unknown}; expected names from {sorted(POINT_METRICS)}.")
    return {name: POINT_METRICS[name](y_true, y_pred) for name in names}


def point_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, insample: ArrayLike | None = None, season: int = 1
) -> dict[str, float]:
    """The standard point-forecast metrics in one dict.

    Inputs:
        y_true, y_pred: ``[...]`` same shape.
        insample: optional ``[T]`` training values of the (single) series; enables ``"mase"``.
        season: seasonal period for MASE.
    Returns:
        ``{"mae", "mse", "rmse", "smape"}`` and ``"mase"`` when ``insample`` is given.
    """
    out = score_point(y_true, y_pred, ("mae", "mse", "rmse", "smape"))
    if insample is not None:
        out["mase"] = mase(y_true, y_pred, insample, season=season)
    return out
