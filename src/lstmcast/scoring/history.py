"""Baselines from a series' *whole* history (``[T] -> [H]``): a seasonal naive forecast never
depends on a model's input window, and a baseline that cannot be computed comes with a reason
string (:func:`unavailable_reason`) instead of vanishing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lstmcast.scoring.baselines import (
    BASELINES,
    SEASONAL_BASELINES,
    check_horizon,
    check_season,
    forecast_baseline,
)

__all__ = ["HistoryBaseline", "forecast_from_history", "history_baselines", "unavailable_reason"]

# --------------------------------------------------------------------------- from a whole history


@dataclass(frozen=True)
class HistoryBaseline:
    """One baseline forecast from a series' whole history, or the reason it has none.

    ``forecast`` is ``[H]`` (or ``[H, C]``) when the baseline could be computed; otherwise it is
    ``None`` and ``reason`` says why, in words fit to print next to a score table.
    """

    name: str
    season: int
    forecast: np.ndarray | None
    reason: str | None

    @property
    def label(self) -> str:
        """``"seasonal_naive[m=48]"`` for a seasonal baseline, else the name."""
        return f"{self.name}[m={self.season}]" if self.name in SEASONAL_BASELINES else self.name


def _as_history(history: ArrayLike) -> np.ndarray:
    arr = np.asarray(history, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"history must be one whole series [T] (or [T, C] for C targets), got shape {arr.shape}. "
            "For windows [N, L, C] use the window baselines (naive, seasonal_naive, ...)."
        )
    return arr


def unavailable_reason(name: str, length: int, season: int = 1) -> str | None:
    """Why baseline ``name`` cannot be computed from a history of ``length`` steps, or None.

    >>> unavailable_reason("seasonal_naive", 200, 336)
    'seasonal naive (m=336) needs one full season of history: 336 steps, the series has 200'
    """
    if name not in BASELINES:
        raise ValueError(f"Unknown baseline {name!r}. Valid names: {', '.join(sorted(BASELINES))}.")
    if length < 1:
        return f"{name.replace('_', ' ')} needs at least one past value; the series is empty"
    if name == "seasonal_naive":
        if season < 2:
            return ("seasonal naive needs a seasonal period m >= 2; none is known for this data "
                    "(no time column, or a frequency without a cycle such as yearly): pass season=m")
        if length < season:
            return (f"seasonal naive (m={season}) needs one full season of history: {season} steps, "
                    f"the series has {length}")
    if name == "drift" and length < 2:
        return f"drift needs at least 2 past values to estimate a slope; the series has {length}"
    return None


def forecast_from_history(name: str, history: ArrayLike, horizon: int, season: int = 1) -> np.ndarray:
    """Baseline ``name`` from a series' *whole* history (not a model's input window).

    ``history [T] -> [H]`` or ``[T, C] -> [H, C]``. A seasonal naive forecast thus exists as
    soon as the series holds one season, however short the model's ``input_length``; Naive2
    runs its seasonality test on the whole series, as M4 does. ``window_mean`` is the mean of
    the whole history here. Raises ValueError with :func:`unavailable_reason`'s text when the
    baseline cannot be computed, or when the values it uses are missing (NaN).
    """
    x = _as_history(history)
    horizon = check_horizon(horizon)
    season = check_season(season)
    reason = unavailable_reason(name, x.shape[0], season)
    if reason is not None:
        raise ValueError(reason[0].upper() + reason[1:] + ".")
    windows = x[None] if x.ndim == 2 else x[None, :, None]  # [1, T, C]
    out = forecast_baseline(name, windows, horizon, season)[0]  # [H, C]
    if not np.isfinite(out).all():
        raise ValueError(
            f"{name} gives missing values: the history it uses (its last "
            f"{season if name == 'seasonal_naive' else 1} value(s), or all of it) contains NaN. "
            "Fill or drop missing values first (data.fill)."
        )
    return out if x.ndim == 2 else out[:, 0]


def history_baselines(
    history: ArrayLike,
    horizon: int,
    seasons: Sequence[int] = (),
    names: Sequence[str] = ("naive", "seasonal_naive", "drift"),
) -> list[HistoryBaseline]:
    """Every baseline in ``names`` from a whole history, never dropped silently.

    Seasonal baselines get one entry per period in ``seasons`` (e.g. ``seasonal_periods("30min")``
    = (48, 336)); with no period they still get an entry, whose ``reason`` says so. Each
    entry holds a forecast ``[H]`` (``[H, C]``) or the reason it has none.
    """
    x = _as_history(history)
    out = []
    for name in names:
        periods = [int(m) for m in seasons if m > 1] if name in SEASONAL_BASELINES else [1]
        for season in periods or [1]:
            try:
                out.append(HistoryBaseline(name, season, forecast_from_history(name, x, horizon, season), None))
            except ValueError as exc:
                out.append(HistoryBaseline(name, season, None, str(exc)))
    return out
