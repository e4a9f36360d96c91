"""Baseline forecasts and seasonal periods (pure numpy): re-exported from
:mod:`lstmcast.scoring.baselines` (windows), :mod:`lstmcast.scoring.history` (whole histories)
and :mod:`lstmcast.scoring.seasonality` (periods from a frequency)."""

from lstmcast.scoring.baselines import (
    BASELINES,
    SEASONAL_BASELINES,
    acf,
    deseasonalize,
    drift,
    forecast_baseline,
    naive,
    naive2,
    seasonal_naive,
    seasonality_test,
    window_mean,
)
from lstmcast.scoring.history import (
    HistoryBaseline,
    forecast_from_history,
    history_baselines,
    unavailable_reason,
)
from lstmcast.scoring.seasonality import (
    MAX_PERIOD,
    MAX_PRIMARY_PERIOD,
    seasonal_periods,
    seasonality_from_freq,
)

__all__ = [
    "BASELINES",
    "MAX_PERIOD",
    "MAX_PRIMARY_PERIOD",
    "SEASONAL_BASELINES",
    "HistoryBaseline",
    "acf",
    "deseasonalize",
    "drift",
    "forecast_baseline",
    "forecast_from_history",
    "history_baselines",
    "naive",
    "naive2",
    "seasonal_naive",
    "seasonal_periods",
    "seasonality_from_freq",
    "seasonality_test",
    "unavailable_reason",
    "window_mean",
]
