"""Evaluation: metrics (pure numpy), baselines and the standard benchmark protocols."""

from lstmcast.evaluation.baselines import (
    BASELINES,
    drift,
    forecast_baseline,
    naive,
    naive2,
    seasonal_naive,
    seasonality_from_freq,
    window_mean,
)
from lstmcast.evaluation.metrics import (
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
)

__all__ = [
    "BASELINES",
    "crps_gaussian",
    "crps_quantiles",
    "drift",
    "forecast_baseline",
    "interval_coverage",
    "mae",
    "mape",
    "mase",
    "mse",
    "naive",
    "naive2",
    "owa",
    "pinball_loss",
    "point_metrics",
    "rmse",
    "seasonal_naive",
    "seasonality_from_freq",
    "smape",
    "window_mean",
]
