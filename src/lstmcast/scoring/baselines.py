"""Baseline forecasts on a batch of windows: pure numpy, no fitting, no torch.

Every baseline has the same contract:

    Inputs:   history  [N, L, C]   N windows, L past steps, C channels (one series per (n, c))
              horizon  H >= 1      steps to forecast
    Returns:  forecast [N, H, C]   float64, a new array

Each (window, channel) pair is forecast independently from its own L past values, so a
batch of windows from :mod:`lstmcast.data` windows (or the ``[N, L, C]`` inputs of a
benchmark protocol) can be scored against any model with the same code.

The same baselines from a series' *whole* history (:mod:`lstmcast.scoring.history`) (``[T] -> [H]``, so a seasonal naive
forecast never depends on a model's input window) are :func:`forecast_from_history` and
:func:`history_baselines`; a baseline that cannot be computed comes with a reason string
(:func:`unavailable_reason`) instead of vanishing. Seasonal periods from a pandas frequency:
:func:`~lstmcast.scoring.seasonality.seasonality_from_freq` (the main one) and
:func:`~lstmcast.scoring.seasonality.seasonal_periods` (all of them).

``naive2`` follows the M4 competition's benchmark code (Mcompetitions/M4-methods,
``ML_benchmarks.py`` and ``Benchmarks and Evaluation.R``): see its docstring for the
details that matter to reproduce the official scores.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "BASELINES",
    "SEASONAL_BASELINES",
    "acf",
    "centered_moving_average",
    "check_history",
    "check_horizon",
    "check_season",
    "deseasonalize",
    "drift",
    "forecast_baseline",
    "naive",
    "naive2",
    "seasonal_naive",
    "seasonality_test",
    "seasonally_adjusted",
    "window_mean",
]



# --------------------------------------------------------------------------- validation


def check_history(history: ArrayLike) -> np.ndarray:
    """Return ``history`` as a float64 ``[N, L, C]`` array or raise a ValueError saying how to fix it."""
    arr = np.asarray(history, dtype=np.float64)
    if arr.ndim != 3:
        raise ValueError(
            f"history must be 3-D [N, L, C] (windows, past steps, channels), got shape {arr.shape}. "
            "For one univariate series x of length L pass x[None, :, None]; for a batch of "
            "univariate windows X[N, L] pass X[..., None]."
        )
    n, length, channels = arr.shape
    if n == 0 or length == 0 or channels == 0:
        raise ValueError(
            f"history is empty (shape {arr.shape} = [N, L, C]); every baseline needs at least "
            "one window, one past step and one channel."
        )
    return arr


def check_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive int (number of steps H), got {horizon!r}.")
    return int(horizon)


def check_season(season: int) -> int:
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise ValueError(
            f"season must be a positive int (the seasonal period m, 1 for none), got {season!r}. "
            "seasonality_from_freq('h') gives 24 for hourly data."
        )
    return int(season)


# --------------------------------------------------------------------------- simple baselines


def naive(history: ArrayLike, horizon: int) -> np.ndarray:
    """Repeat the last observed value: ``ŷ[t+h] = y[t]``. ``[N, L, C] -> [N, H, C]``."""
    x = check_history(history)
    horizon = check_horizon(horizon)
    return np.repeat(x[:, -1:, :], horizon, axis=1)  # [N, 1, C] -> [N, H, C]


def seasonal_naive(history: ArrayLike, horizon: int, season: int) -> np.ndarray:
    """Repeat the last full season: ``ŷ[t+h] = y[t + h - m * ceil(h / m)]``.

    ``[N, L, C] -> [N, H, C]``; needs ``L >= season``. With ``season=1`` this is :func:`naive`.
    """
    x = check_history(history)
    horizon = check_horizon(horizon)
    season = check_season(season)
    length = x.shape[1]
    if length < season:
        raise ValueError(
            f"seasonal_naive needs at least one full season of history: L={length} < season={season}. "
            "Use a longer input window or a smaller season."
        )
    idx = length - season + np.arange(horizon) % season  # [H] positions in the last season
    return x[:, idx, :]


def drift(history: ArrayLike, horizon: int) -> np.ndarray:
    """Random walk with drift: ``ŷ[t+h] = y[t] + h * (y[t] - y[0]) / (L - 1)``.

    The line through the first and last value of each window, extended. ``[N, L, C] -> [N, H, C]``;
    needs ``L >= 2``.
    """
    x = check_history(history)
    horizon = check_horizon(horizon)
    length = x.shape[1]
    if length < 2:
        raise ValueError(
            f"drift needs at least 2 past steps to estimate a slope, got L={length}. "
            "Use naive() for single-step history."
        )
    slope = (x[:, -1, :] - x[:, 0, :]) / (length - 1)  # [N, C]
    steps = np.arange(1, horizon + 1, dtype=np.float64)[None, :, None]  # [1, H, 1]
    return x[:, -1:, :] + steps * slope[:, None, :]  # [N, 1, C] + [1, H, 1] * [N, 1, C]


def window_mean(history: ArrayLike, horizon: int) -> np.ndarray:
    """Mean of the input window repeated: ``ŷ[t+h] = mean(y[t-L+1..t])``. ``[N, L, C] -> [N, H, C]``."""
    x = check_history(history)
    horizon = check_horizon(horizon)
    return np.repeat(x.mean(axis=1, keepdims=True), horizon, axis=1)


# --------------------------------------------------------------------------- M4 Naive2


def acf(series: ArrayLike, lag: int) -> np.ndarray:
    """Sample autocorrelation at ``lag`` along the last axis, as in the M4 benchmark code.

    ``sum_{t>=k} (x[t] - m)(x[t-k] - m) / sum_t (x[t] - m)²`` with ``m`` the series mean
    (identical to R's ``acf``). ``[..., T] -> [...]``; NaN for a constant series.
    """
    x = np.asarray(series, dtype=np.float64)
    xc = x - x.mean(axis=-1, keepdims=True)
    denom = np.sum(xc * xc, axis=-1)
    num = np.sum(xc[..., lag:] * xc[..., : xc.shape[-1] - lag], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / denom


def seasonality_test(series: ArrayLike, season: int) -> np.ndarray:
    """M4's 90% autocorrelation test for seasonality at lag ``season``, along the last axis.

    A series is seasonal when ``|acf(season)| > 1.645 * sqrt((1 + 2 * sum_{k<season} acf(k)²) / T)``.

    ``[..., T] -> [...]`` bool. Details chosen to reproduce the official M4 Naive2 scores:

    * ``acf(1)`` is **squared** in the sum, as in the R code that produced the official
      statistical benchmarks (``SeasonalityTest`` in ``Benchmarks and Evaluation.R``:
      ``sqrt(cumsum(c(1, 2 * xacf^2)))``). M4's ``ML_benchmarks.py`` forgets the square on
      ``acf(1)``; its authors note the discrepancy and kept it only for their NN benchmarks.
      On M4 Hourly both variants call the same 413 of 414 series seasonal, so the official
      Hourly Naive2 scores are reproduced either way.
    * Series shorter than ``3 * season`` are not seasonal (R's guard), nor are constant
      series or ``season <= 1``.
    * Unlike R, no ``lag.max`` truncation: R's ``acf`` only computes ``10 * log10(T)`` lags by
      default, so R calls *every* series with ``10 * log10(T) < season`` non-seasonal (e.g.
      hourly windows shorter than 252 steps). That is an accident of R's defaults; here the
      test is evaluated at the requested lag for every ``T >= 3 * season``. For the M4 data
      (T >= 700 hourly) both agree.
    """
    x = np.asarray(series, dtype=np.float64)
    season = check_season(season)
    length = x.shape[-1]
    if season <= 1 or length < 3 * season:
        return np.zeros(x.shape[:-1], dtype=bool)
    acfs = np.stack([acf(x, k) for k in range(1, season + 1)], axis=-1)  # [..., season]
    s = np.sum(acfs[..., : season - 1] ** 2, axis=-1)
    limit = 1.645 * np.sqrt((1.0 + 2.0 * s) / length)
    with np.errstate(invalid="ignore"):
        seasonal = np.abs(acfs[..., season - 1]) > limit
    return seasonal & np.isfinite(acfs[..., season - 1])


def centered_moving_average(x: np.ndarray, season: int) -> np.ndarray:
    """Classical centred moving average of order ``season`` along the last axis, NaN at the ends.

    Even ``season``: the 2 x m MA, weights ``[0.5, 1, ..., 1, 0.5] / m`` over ``m + 1`` points
    (R ``decompose``; equal to M4's pandas ``rolling(m, center=True)`` then
    ``rolling(2, center=True)`` then ``np.roll(-1)``). Odd ``season``: the plain m-point MA.
    ``[..., T] -> [..., T]``.
    """
    length = x.shape[-1]
    out = np.full(x.shape, np.nan)
    csum = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x, axis=-1)], axis=-1)
    half = season // 2
    if season % 2 == 0:
        if length < season + 1:
            return out
        # sum of x[t-half .. t+half] minus half of both ends, for t in [half, T - half)
        t = np.arange(half, length - half)
        full = csum[..., t + half + 1] - csum[..., t - half]
        out[..., t] = (full - 0.5 * x[..., t - half] - 0.5 * x[..., t + half]) / season
    else:
        if length < season:
            return out
        t = np.arange(half, length - half)
        out[..., t] = (csum[..., t + half + 1] - csum[..., t - half]) / season
    return out


def deseasonalize(series: ArrayLike, season: int) -> np.ndarray:
    """Multiplicative seasonal indices (in percent) by classical decomposition, as M4 computes them.

    If :func:`seasonality_test` says the series is seasonal: ratio to the centred moving
    average, averaged per position in the cycle (NaN-skipping), normalised to average 100.
    Otherwise all indices are 100.

    Inputs:
        series: ``[..., T]`` positive values (the whole in-sample series).
        season: period ``m``.
    Returns:
        ``[..., m]`` indices; index ``j`` belongs to time steps ``t`` with ``t % m == j``
        counted from the start of the series (so the forecast for step ``T + h`` uses index
        ``(T + h) % m``).

    The moving average follows R's ``decompose`` (2 x m MA for even m). M4's Python
    ``moving_averages`` switches on the parity of the *series length* instead of the window
    (a bug its authors acknowledge); for even-length series, such as all of M4 Hourly, the two
    coincide.
    """
    x = np.asarray(series, dtype=np.float64)
    season = check_season(season)
    lead = x.shape[:-1]
    indices = np.full((*lead, season), 100.0)
    seasonal = seasonality_test(x, season)
    if not seasonal.any():
        return indices
    xs = x[seasonal]  # [S, T] only the seasonal series
    length = xs.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = xs * 100.0 / centered_moving_average(xs, season)  # [S, T]
    periods = -(-length // season)
    padded = np.full((xs.shape[0], periods * season), np.nan)
    padded[:, :length] = ratio
    si = np.nanmean(padded.reshape(xs.shape[0], periods, season), axis=1)  # [S, m]
    si = si / (np.sum(si, axis=-1, keepdims=True) / (season * 100.0))
    indices[seasonal] = si
    return indices


def seasonally_adjusted(series: ArrayLike, season: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``series [S, T]`` divided by its seasonal indices, and the indices ``[S, m]``
    (percent), as M4's Theta and Damped benchmarks adjust: :func:`deseasonalize` for the rows
    whose values are all positive (the decomposition is multiplicative), 100 for the others and
    for ``season == 1``. Index ``j`` belongs to the steps ``t`` with ``t % m == j``."""
    y = np.asarray(series, dtype=np.float64)
    season = check_season(season)
    si = np.full((y.shape[0], season), 100.0)
    positive = np.all(y > 0, axis=1)
    if season > 1 and positive.any():
        si[positive] = deseasonalize(y[positive], season)
    return y / si[:, np.arange(y.shape[1]) % season] * 100.0, si


def naive2(history: ArrayLike, horizon: int, season: int) -> np.ndarray:
    """M4 Naive2: naive forecast of the seasonally adjusted series, reseasonalised.

    For each (window, channel) series ``y`` of length L:

    1. :func:`seasonality_test` at lag ``season`` (90% ACF test, on the whole window);
    2. if seasonal, multiplicative indices ``s`` from :func:`deseasonalize` (classical
       decomposition with a centred moving average), else ``s = 100``;
    3. ``ŷ[L + h] = y[L-1] / s[(L-1) % m] * s[(L + h) % m]`` (h = 0..H-1).

    ``[N, L, C] -> [N, H, C]``. Multiplicative, so meant for positive series (as M4's are).
    With ``season=1`` or non-seasonal data it equals :func:`naive`. The M4 evaluation also
    clips negative forecasts to 0; that is left to the protocol
    (:func:`lstmcast.evaluation.protocols.score_m4`) and irrelevant for positive series.
    """
    x = check_history(history)
    horizon = check_horizon(horizon)
    season = check_season(season)
    length = x.shape[1]
    series = np.moveaxis(x, 1, -1)  # [N, L, C] -> [N, C, L]
    si = deseasonalize(series, season)  # [N, C, m]
    last_adjusted = series[..., -1] / si[..., (length - 1) % season] * 100.0  # [N, C]
    future = si[..., (length + np.arange(horizon)) % season] / 100.0  # [N, C, H]
    forecast = last_adjusted[..., None] * future  # [N, C, H]
    return np.moveaxis(forecast, -1, 1)  # [N, C, H] -> [N, H, C]


# --------------------------------------------------------------------------- registry


BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "window_mean": window_mean,
    "naive2": naive2,
}
"""Name -> baseline function. Those taking ``season`` are listed in ``SEASONAL_BASELINES``."""

SEASONAL_BASELINES = frozenset({"seasonal_naive", "naive2"})


def forecast_baseline(name: str, history: ArrayLike, horizon: int, season: int = 1) -> np.ndarray:
    """Run the baseline called ``name`` on ``history [N, L, C]``, returning ``[N, H, C]``.

    ``season`` is passed to the seasonal baselines (``seasonal_naive``, ``naive2``) and
    ignored by the others.
    """
    try:
        func = BASELINES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown baseline {name!r}. Valid names: {', '.join(sorted(BASELINES))}."
        ) from None
    if name in SEASONAL_BASELINES:
        return func(history, horizon, season)
    return func(history, horizon)
