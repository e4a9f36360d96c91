"""Forecast metrics (pure numpy): re-exported from :mod:`lstmcast.scoring.metrics`, where they
live so that ``fit`` can score its validation windows without importing the evaluation layer."""

from lstmcast.scoring.metrics import (
    POINT_METRICS,
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
    score_point,
    smape,
    smape_m3,
)

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
