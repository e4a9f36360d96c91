"""Forecast metrics (pure numpy): re-exported from :mod:`lstmcast.scoring.metrics`, where they
live so that ``fit`` can score its validation windows without importing the evaluation layer."""

from lstmcast.scoring.metrics import (
    crps_gaussian,
    crps_quantiles,
    interval_coverage,
    mae,
    mape,
    mase,
    mse,
    owa,
    pinball_loss,
    point_metrics,
    rmse,
    smape,
    smape_m3,
)

__all__ = [
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
    "smape",
    "smape_m3",
]
