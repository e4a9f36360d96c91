"""The statistical part of a forecast: the Theta method and exponential smoothing (simple or with
a damped trend), mixed into the network's forecast by weights (``model.theta_weight``,
``model.ets_weight``).

The forecast is ``(1 - w_theta - w_ets) * network + w_theta * theta + w_ets * ets``
(the quantiles move by the same shift as the mean). Each method reads a series' last
:data:`HISTORY_WINDOWS` windows of rows (:mod:`lstmcast.scoring.theta`,
:mod:`lstmcast.scoring.ets`); a row whose statistical forecast is not finite keeps the
network's. Histories of equal length are forecast in one batch (stride-1 windows of one series,
or the series of an M-competition set, share few lengths), in chunks of bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmcast.scoring.baselines import check_horizon
from lstmcast.scoring.ets import ets
from lstmcast.scoring.theta import theta

__all__ = ["HISTORY_WINDOWS", "METHODS", "StatisticalPart", "of_histories"]

METHODS: dict[str, Callable[..., np.ndarray]] = {"theta": theta, "ets": ets}
HISTORY_WINDOWS = 4  # the last 4 windows of rows: on M3 as good as the whole history for Theta (docs/accuracy.md)
_CHUNK = 2048


def of_histories(method: str, histories: Sequence[np.ndarray], horizon: int, season: int, rows: int) -> np.ndarray:
    """``method`` ("theta" or "ets") from each history's last ``rows`` rows: ``[n_i, T]`` each
    -> ``[N, H, T]``."""
    if not histories:
        return np.zeros((0, check_horizon(horizon), 0))
    fn = METHODS[method]
    tails = [np.asarray(h, dtype=np.float64)[-rows:] for h in histories]
    out = np.empty((len(tails), horizon, tails[0].shape[1]))
    by_length: dict[int, list[int]] = {}
    for i, tail in enumerate(tails):
        by_length.setdefault(len(tail), []).append(i)
    for idx in by_length.values():
        for lo in range(0, len(idx), _CHUNK):  # bounded memory: [chunk, parameters] per step
            part = idx[lo : lo + _CHUNK]
            out[part] = fn(np.stack([tails[i] for i in part]), horizon, season)
    return out


@dataclass(frozen=True)
class StatisticalPart:
    """The methods of a forecast's statistical part, their weights, season and history rows.
    The methods computed (:attr:`methods`) are those whose weight is not 0, or ``compute`` where
    given (validation windows, on which weights still to be chosen are scored)."""

    weights: Mapping[str, float]
    season: int
    rows: int
    compute: frozenset[str] | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        if self.compute is not None:
            return tuple(m for m in METHODS if m in self.compute)
        return tuple(m for m in METHODS if self.weights.get(m))

    def forecasts(self, histories: Sequence[np.ndarray], steps: int) -> dict[str, np.ndarray]:
        """Each method's forecast from each raw history ``[n_i, T]`` -> ``{method: [N, steps, T]}``."""
        return {m: of_histories(m, histories, steps, self.season, self.rows) for m in self.methods}

    def apply(self, mean: np.ndarray, quants: np.ndarray | None,
              forecasts: Mapping[str, np.ndarray]) -> tuple[np.ndarray, Any]:
        """mean [N, H', T] (+ quantiles [N, H', T, Q]) moved toward each method's forecast by its weight."""
        shift = np.zeros_like(mean)
        for m in self.methods:
            stat = forecasts[m]
            shift += np.where(np.isfinite(stat), self.weights.get(m, 0.0) * (stat - mean), 0.0)
        return mean + shift, None if quants is None else quants + shift[..., None]
