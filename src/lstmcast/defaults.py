"""Settings derived from the data at fit time, when the config leaves them open (``None``).

* ``data.input_length``: two cycles of the longest seasonal period the frequency carries that
  the history allows, within :data:`LONG_SEASON_WINDOW` steps (hourly data: two weeks, 2 x 168
  steps; half-hourly and daily data keep their main season: 2 x 48, 2 x 7), and at least twice
  the horizon: ``max(2 * horizon, 2 * season)``. The history allows
  a season when the median series holds its two cycles plus the horizon; otherwise the next
  shorter season is tried, down to the main one, whose window is then capped so that the
  median series still has one full window (shorter series are padded, see
  :mod:`lstmcast.data.prepare`).
* ``model.seasonal_skip``: the longest seasonal period S inside the window when the seasonal
  naive of period S is strong in the history: over the last :data:`SKIP_ORIGINS` horizons before
  the validation block of every series, its error is at most :data:`SKIP_RATIO` times the naive
  forecast's (:func:`strength_sums`). The network then forecasts the residual over that
  seasonal naive; otherwise 0 (none).
* ``model.patch_length``: the main (shortest) seasonal period when the window holds at least
  two of them (the LSTM then reads one embedding per period, SegRNN-style), else no patches;
  the window is rounded up to a whole number of patches.

The seasonal periods come from the data's frequency (:func:`seasons_for`). The choices are
measured in the README's accuracy table (``benchmarks/accuracy.py``), over data sets of several
frequencies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from lstmcast.config import ForecastConfig
from lstmcast.errors import ConfigError


def seasons_for(frequency: str | None) -> tuple[int, ...]:
    """Every seasonal period of data at ``frequency``, the main one first (``()`` when none)."""
    from lstmcast.scoring.seasonality import seasonal_periods

    if frequency is None or str(frequency).lstrip("-").isdigit():
        return ()
    try:
        return tuple(int(p) for p in seasonal_periods(str(frequency)) if int(p) > 1)
    except (TypeError, ValueError):
        return ()


def season_for(frequency: str | None) -> int:
    """The main seasonal period of data at ``frequency`` (1 when none is known)."""
    seasons = seasons_for(frequency)
    return seasons[0] if seasons else 1


# A longer season sets the window only when its two cycles fit in this many steps: the lookbacks
# measured here (hourly 2 x 168 = 336) and used by the long-horizon literature (PatchTST: 336-512).
# Beyond it (daily data: 2 x 365; 15-minute data: 2 x 672) the window would be unmeasured and
# would leave a few years of history with a fraction of its training windows.
LONG_SEASON_WINDOW = 512


def window_length(horizon: int, seasons: Sequence[int], lengths: Sequence[int]) -> int:
    """The derived ``data.input_length``: ``max(2 * horizon, 2 * season)`` for the longest of
    ``seasons`` whose two cycles fit in :data:`LONG_SEASON_WINDOW` steps and which the median of
    ``lengths`` holds with the horizon; else the main season's window, capped at the median
    length minus the horizon."""
    typical = sorted(lengths)[len(lengths) // 2] if lengths else None
    room = None if typical is None else typical - horizon
    for season in sorted(seasons, reverse=True)[:-1]:  # the longer seasons, longest first
        if 2 * season > LONG_SEASON_WINDOW:
            continue
        if room is None or 2 * season <= room:
            return max(2 * horizon, 2 * season)
    length = max(2 * horizon, 2 * (min(seasons) if seasons else 1))
    return length if room is None else max(1, min(length, room))


# The seasonal skip is taken when the seasonal naive's error is at most this share of the naive's.
# Measured (benchmarks/seasonal_strength.py, S = the longest season in the window): half-hourly
# demand 0.11 (S=336), M4 Hourly 0.39 (S=168) and AirPassengers 0.61 (S=12), where the skip
# lowers the error; ETTh2 1.01, M3 quarterly 1.16, ETTh1 2.16, where it raises it. The threshold
# sits between the two groups (docs/forecasting.md).
SKIP_RATIO = 0.75
SKIP_ORIGINS = 5
_SKIP_SERIES = 2000  # series looked at (evenly spaced) when there are more


def strength_sums(histories: Sequence[np.ndarray], horizon: int, period: int,
                  skip_last: int = 0) -> tuple[float, float]:
    """The seasonal naive's mean absolute error at ``period`` and the naive forecast's (the last
    value), each summed over series and origins: the ``horizon`` steps after each of the last
    :data:`SKIP_ORIGINS` origins that end ``skip_last`` steps or more before a series' end, each
    series in units of its mean absolute step. Their ratio is the seasonal strength."""
    step = max(1, len(histories) // _SKIP_SERIES)
    seasonal = naive = 0.0
    lags = np.array([h - period * (h // period + 1) for h in range(horizon)])
    for values in histories[::step]:
        y = np.asarray(values, dtype=np.float64)
        y = y[: max(0, len(y) - skip_last)]
        y = y[np.isfinite(y)]
        scale = float(np.mean(np.abs(np.diff(y)))) if len(y) > 1 else 0.0
        if not scale > 0:
            continue
        for k in range(1, SKIP_ORIGINS + 1):
            origin = len(y) - horizon * k
            if origin < period + 1:
                break
            truth = y[origin : origin + horizon]
            seasonal += float(np.mean(np.abs(truth - y[origin + lags]))) / scale
            naive += float(np.mean(np.abs(truth - y[origin - 1]))) / scale
    return seasonal, naive


def skip_period(config: ForecastConfig, seasons: Sequence[int], length: int,
                strength: Callable[[int], float] | None) -> int:
    """The derived ``model.seasonal_skip``: the longest season S in the window when
    ``strength(S)`` (the seasonal naive's error over the naive's) is at most :data:`SKIP_RATIO`."""
    fitting = [s for s in seasons if 1 < s <= length]
    if not fitting or strength is None or config.model.strategy == "recursive":
        return 0
    period = max(fitting)
    return period if strength(period) <= SKIP_RATIO else 0


def resolve(config: ForecastConfig, frequency: str | None, lengths: Sequence[int],
            strength: Callable[[int], float] | None = None) -> ForecastConfig:
    """``config`` with ``data.input_length``, ``model.patch_length`` and ``model.seasonal_skip``
    filled in when ``None`` (``strength``: the data's seasonal strength at a period, see
    :func:`strength_sums`; without it the skip is 0)."""
    d, m = config.data, config.model
    season = season_for(frequency)
    length = d.input_length
    if length is None:
        length = window_length(d.horizon, seasons_for(frequency), lengths)
    patch = m.patch_length
    if patch is None:
        patch = season if season > 1 and length >= 2 * season else 0
        if patch:
            length = math.ceil(length / patch) * patch
    if d.input_length is not None and patch and d.input_length % patch:
        patch = 0  # a window the user fixed that no whole number of periods divides: no patches
    skip = m.seasonal_skip
    if skip is None:
        skip = skip_period(config, seasons_for(frequency), length, strength)
    if skip > length:
        raise ConfigError(f"model.seasonal_skip={skip} needs a window of at least that many steps; "
                          f"data.input_length is {length}. Lengthen the window or shorten the period.")
    if skip and m.skip_cycles * skip > length:
        raise ConfigError(f"model.skip_cycles={m.skip_cycles} needs {m.skip_cycles} cycles of model.seasonal_skip={skip} "
                          f"steps in the window; data.input_length is {length}. Set model.skip_cycles={max(1, length // skip)} "
                          f"or lengthen the window.")
    return dataclasses.replace(config, data=dataclasses.replace(d, input_length=int(length)),
                               model=dataclasses.replace(m, patch_length=int(patch), seasonal_skip=int(skip)))
