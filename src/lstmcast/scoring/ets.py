"""Exponential smoothing: simple (ETS(A,N,N)) or with a damped trend (ETS(A,Ad,N)), chosen per
series by AIC. Pure numpy, one call for a batch.

``ets(history [N, L, C], horizon, season) -> [N, H, C]`` and ``damped(...)`` (the damped trend
alone), each (window, channel) series ``y`` forecast on its own (the
:mod:`lstmcast.scoring.baselines` contract). The damped trend is the M4 benchmarks' ``Damped``
(Gardner & McKenzie, 1985):

1. seasonal adjustment exactly as Naive2 and :mod:`~lstmcast.scoring.theta` do it (M4's 90%
   autocorrelation test, multiplicative classical decomposition), so only positive, seasonal
   series are adjusted;
2. level ``l`` and trend ``b`` smoothed with weights ``alpha`` and ``beta`` and the trend damped
   by ``phi``: ``l_t = alpha y_t + (1 - alpha)(l_{t-1} + phi b_{t-1})``,
   ``b_t = beta (l_t - l_{t-1}) + (1 - beta) phi b_{t-1}``; the forecast ``h`` steps ahead is
   ``l_T + (phi + .. + phi^h) b_T``, reseasonalised;
3. ``alpha``, ``beta`` and ``phi`` are those of a grid (:data:`ALPHAS`, ``beta`` a share
   :data:`BETA_SHARES` of ``alpha``, :data:`PHIS`) with the least in-sample squared one-step
   error; the initial level and trend are the least-squares line through the first
   :data:`INIT_POINTS` points (the heuristic of R's ``ets``). All series and parameters at once.

:func:`ets` fits both that and simple exponential smoothing (:func:`lstmcast.scoring.theta.ses_fit`:
the best ``alpha`` and initial level) to the adjusted series and keeps, per series, the one of
least AIC, ``n log(SSE / n) + 2 k`` with k = 3 (alpha, the initial level, the variance) and 6
(alpha, beta, phi, the initial level and trend, the variance), as R's ``ets`` compares models.
On the M3 sets' official holdouts (sMAPE; docs/accuracy.md) the choice scores yearly / quarterly /
other 16.31 / 9.34 / 4.30, the damped trend alone 16.82 / 9.64 / 4.28 and statsforecast's
AutoETS 16.29 / 9.48 / 4.35.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike

from lstmcast.scoring.baselines import (
    check_history,
    check_horizon,
    check_season,
    seasonally_adjusted,
)
from lstmcast.scoring.theta import ses_fit, ses_sse

__all__ = ["ALPHAS", "BETA_SHARES", "INIT_POINTS", "PHIS", "damped", "damped_fit", "ets"]

ALPHAS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.98)
BETA_SHARES = (0.01, 0.05, 0.1, 0.2, 0.4)  # beta = share * alpha (ETS' bound: beta <= alpha)
PHIS = (0.8, 0.85, 0.9, 0.94, 0.98)  # R's ets bounds phi to [0.8, 0.98]
INIT_POINTS = 10
_GRID = np.array([(a, a * s, p) for a, s, p in itertools.product(ALPHAS, BETA_SHARES, PHIS)]).T  # [3, P]


def damped_fit(series: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit the damped trend to each row of ``series [S, T]`` (T >= 2, finite): the chosen
    ``(alpha, beta, phi)`` as ``[S, 3]``, the last level ``[S]``, the last trend ``[S]`` and
    the in-sample sum of squared one-step errors ``[S]``."""
    y = np.asarray(series, dtype=np.float64)
    S, T = y.shape
    k = min(T, INIT_POINTS)
    t = np.arange(k, dtype=np.float64) - (k - 1) / 2
    head = y[:, :k]
    slope = (head - head.mean(axis=1, keepdims=True)) @ t / (t @ t)  # [S]
    level = (head.mean(axis=1) - slope * (k - 1) / 2)[:, None]  # [S, 1]: the line at t = 0
    alpha, beta, phi = (g[None, :] for g in _GRID)  # [1, P]
    lev = level - phi * slope[:, None]  # [S, P]: l_{-1}, so that the first one-step forecast is the line at 0
    b = np.broadcast_to(slope[:, None], lev.shape).copy()  # [S, P]
    sse = np.zeros_like(lev)
    for step in range(T):
        yt = y[:, step : step + 1]
        expected = lev + phi * b
        e = yt - expected
        sse += e * e
        new = expected + alpha * e
        b = phi * b + beta * e  # ETS' error form: Holt's beta is this beta / alpha
        lev = new
    best = np.argmin(sse, axis=1)  # [S]
    rows = np.arange(S)
    return _GRID[:, best].T, lev[rows, best], b[rows, best], sse[rows, best]


def _forecast(history: ArrayLike, horizon: int, season: int, choose: bool) -> np.ndarray:
    x = check_history(history)
    horizon = check_horizon(horizon)
    season = check_season(season)
    if x.shape[1] < 2:
        return np.repeat(x[:, -1:, :], horizon, axis=1)
    n, length, channels = x.shape
    adjusted, si = seasonally_adjusted(np.moveaxis(x, 1, -1).reshape(n * channels, length), season)  # [S, L], [S, m]
    params, level, trend, sse = damped_fit(adjusted)
    phi = params[:, 2:3]  # [S, 1]
    damping = np.cumsum(phi ** np.arange(1, horizon + 1)[None, :], axis=1)  # [S, H]: phi + .. + phi^h
    forecast = level[:, None] + damping * trend[:, None]
    if choose:
        alpha, flat = ses_fit(adjusted)
        flat_sse = ses_sse(adjusted, alpha[:, None])[0][:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            aic_damped = length * np.log(sse / length) + 2 * 6
            aic_flat = length * np.log(flat_sse / length) + 2 * 3
        simple = ~(aic_damped < aic_flat)  # ties and perfect fits keep the simpler model
        forecast = np.where(simple[:, None], flat[:, None], forecast)
    forecast = forecast * si[:, np.arange(length, length + horizon) % season] / 100.0
    return np.moveaxis(forecast.reshape(n, channels, horizon), 1, -1)  # [N, H, C]


def damped(history: ArrayLike, horizon: int, season: int = 1) -> np.ndarray:
    """The damped-trend forecast of every (window, channel) series. ``[N, L, C] -> [N, H, C]``.

    A series of one point is forecast flat; one with a non-positive value is never seasonally
    adjusted (the decomposition is multiplicative); NaN in a series gives NaN forecasts for it.
    """
    return _forecast(history, horizon, season, choose=False)


def ets(history: ArrayLike, horizon: int, season: int = 1) -> np.ndarray:
    """Simple or damped-trend exponential smoothing, whichever has the lower AIC per series.
    ``[N, L, C] -> [N, H, C]``; the same conventions as :func:`damped`."""
    return _forecast(history, horizon, season, choose=True)
