"""The Theta method as the M4 competition benchmarks it: pure numpy, one call for a batch.

``theta(history [N, L, C], horizon, season) -> [N, H, C]``, each (window, channel) series ``y``
forecast on its own (the :mod:`lstmcast.scoring.baselines` contract). The steps follow
``Theta_classic`` and ``Benchmarks`` in M4's ``Benchmarks and Evaluation.R``
(Mcompetitions/M4-methods), the benchmark behind the published Theta figures:

1. seasonal adjustment exactly as Naive2 does it (:func:`~lstmcast.scoring.baselines.seasonally_adjusted`:
   M4's 90% autocorrelation test, multiplicative classical decomposition), so only positive,
   seasonal series are adjusted;
2. the theta=0 line: the least-squares line through the adjusted series, extended;
3. the theta=2 line ``2 y - line`` forecast by simple exponential smoothing (SES) whose smoothing
   weight ``alpha`` and initial level minimise the in-sample squared one-step errors (R's
   ``ses``: an ETS(A,N,N) fit);
4. the forecast is the mean of the two lines' forecasts, reseasonalised.

The SES fit here is exact where R's is numerical: for a given ``alpha`` the best initial level
has a closed form (the one-step errors are linear in it), and ``alpha`` is searched on a grid of
steps of 0.01 in [0.01, 0.99], then of 0.0005 around the best; all series at once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lstmcast.scoring.baselines import (
    check_history,
    check_horizon,
    check_season,
    seasonally_adjusted,
)

__all__ = ["ses_fit", "ses_sse", "theta"]

_COARSE = np.linspace(0.01, 0.99, 99)
_FINE = np.linspace(-0.01, 0.01, 41)


def ses_sse(y: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SES of ``y [S, T]`` for each smoothing weight ``alpha [S, A]``, with the best initial level.

    The level after step ``t`` is ``a_t + c_t * l0`` (``a`` the level from ``l0 = 0``, ``c_t =
    (1 - alpha)^(t+1)``), so each one-step error ``y_t - a_{t-1} - c_{t-1} l0`` is linear in ``l0``
    and the squared errors are least for ``l0 = sum(c (y - a)) / sum(c²)``. Returns the sum of
    squared errors, the initial level and the last level, each ``[S, A]``.
    """
    keep = 1.0 - alpha
    a = np.zeros_like(alpha)  # a_{t-1}
    c = np.ones_like(alpha)  # c_{t-1}
    s_ee = np.zeros_like(alpha)
    s_ce = np.zeros_like(alpha)
    s_cc = np.zeros_like(alpha)
    for t in range(y.shape[1]):
        yt = y[:, t : t + 1]  # [S, 1]
        e = yt - a
        s_ee += e * e
        s_ce += c * e
        s_cc += c * c
        a = alpha * yt + keep * a
        c = keep * c
    l0 = s_ce / s_cc
    return s_ee - s_ce * l0, l0, a + c * l0


def ses_fit(series: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Fit SES to each row of ``series [S, T]``: (alpha [S], last level [S]), the last level
    being the flat forecast of every step ahead."""
    y = np.asarray(series, dtype=np.float64)
    rows = np.arange(y.shape[0])
    sse, _, last = ses_sse(y, np.broadcast_to(_COARSE, (y.shape[0], _COARSE.size)).copy())
    best = _COARSE[np.argmin(sse, axis=1)]  # [S]
    fine = np.clip(best[:, None] + _FINE[None, :], 1e-4, 0.9999)  # [S, 41]
    sse, _, last = ses_sse(y, fine)
    pick = np.argmin(sse, axis=1)
    return fine[rows, pick], last[rows, pick]


def theta(history: ArrayLike, horizon: int, season: int = 1) -> np.ndarray:
    """M4's Theta benchmark forecast of every (window, channel) series. ``[N, L, C] -> [N, H, C]``.

    Needs ``L >= 2`` (a line through one point has no slope: then the forecast is that point).
    A series with a non-positive value is never seasonally adjusted (the decomposition is
    multiplicative); NaN in a series gives NaN forecasts for it.
    """
    x = check_history(history)
    horizon = check_horizon(horizon)
    season = check_season(season)
    n, length, channels = x.shape
    y = np.moveaxis(x, 1, -1).reshape(n * channels, length)  # [S, L]
    if length < 2:
        return np.repeat(x[:, -1:, :], horizon, axis=1)
    adjusted, si = seasonally_adjusted(y, season)  # [S, L], [S, m]
    t = np.arange(length, dtype=np.float64)
    tc = t - t.mean()
    slope = (adjusted - adjusted.mean(axis=1, keepdims=True)) @ tc / (tc @ tc)  # [S]
    intercept = adjusted.mean(axis=1) - slope * t.mean()
    ahead = np.arange(length, length + horizon, dtype=np.float64)  # [H]
    line_in = intercept[:, None] + slope[:, None] * t  # [S, L]
    line_out = intercept[:, None] + slope[:, None] * ahead  # [S, H]
    _, level = ses_fit(2.0 * adjusted - line_in)  # [S]
    forecast = 0.5 * (level[:, None] + line_out)  # [S, H]
    forecast = forecast * si[:, ahead.astype(int) % season] / 100.0
    return np.moveaxis(forecast.reshape(n, channels, horizon), 1, -1)  # [N, H, C]
