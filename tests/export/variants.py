"""Tiny fitted models, one per option the export must carry (shared by export and serving tests).

Each variant is (config, frame, future frame for predict or None). Training takes well under a
second each; the data are 300-row sines so windows are plentiful.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.forecaster import Forecaster

TRAIN = TrainConfig(max_epochs=2, batch_size=64, patience=0)


def sine_frame(n: int = 300, seed: int = 0, dated: bool = False, series: tuple[str, ...] = ()) -> pd.DataFrame:
    """value (target), value2 (second target), temp (past covariate), promo (future covariate)."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, key in enumerate(series or ("",)):
        t = np.arange(n)
        part = pd.DataFrame({
            "value": 10 + 3 * np.sin(2 * np.pi * t / 24 + k) + 0.3 * rng.standard_normal(n),
            "value2": 100 - 20 * np.cos(2 * np.pi * t / 12) + rng.standard_normal(n),
            "temp": np.cos(2 * np.pi * t / 48) + 0.1 * rng.standard_normal(n),
            "promo": (rng.random(n) < 0.2).astype(float),
        })
        if dated:
            part.insert(0, "date", pd.date_range("2024-01-01", periods=n, freq="h"))
        if series:
            part.insert(0, "store", key)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def export_config(data: dict, model: dict) -> ForecastConfig:
    base = dict(targets=("value",), input_length=16, horizon=3)
    base.update(data)
    model = {"hidden_size": 8, "head": "point", "normalization": "none", "patch_length": 0, "ensemble": 1, **model}
    return ForecastConfig(DataConfig(**base), ModelConfig(**model), TRAIN)


# name -> (data options, model options, frame options)
VARIANTS: dict[str, tuple[dict, dict, dict]] = {
    # (each also carries options of lstmcast.models.variants that no other combination has)
    "point_stacked_last": ({}, {"num_layers": 2, "normalization": "last", "forget_bias": 1.0}, {}),
    "gaussian_bidirectional_mean": ({}, {"head": "gaussian", "bidirectional": True, "normalization": "mean"}, {}),
    "quantile_attention_bidirectional": ({}, {"head": "quantile", "attention": True, "attention_heads": 2,
                                              "bidirectional": True, "num_layers": 2}, {}),
    "recursive_future": ({"future_features": ("promo",)}, {"strategy": "recursive", "normalization": "last"}, {}),
    "many_series_covariates_calendar": (
        {"series_col": "store", "features": ("temp",), "future_features": ("promo",), "time_col": "date",
         "calendar_features": True},
        {"head": "gaussian"}, {"dated": True, "series": ("a", "b")}),
    "channel_independent_two_targets": ({"targets": ("value", "value2")},
                                        {"channel_independent": True, "head": "quantile"}, {}),
    "patches_conformal_quantile": ({}, {"patch_length": 4, "head": "quantile", "conformal": True,
                                        "normalization": "last", "seasonal_skip": 4, "skip_cycles": 3}, {}),
    # the forecast-first defaults (standard instance norm, quantile head, derived patches) on dated data
    "defaults_dated": ({"input_length": None, "time_col": "date"}, {"head": "quantile", "normalization": "standard",
                                                                    "patch_length": None, "ensemble": 3}, {"dated": True}),
    "ensemble_of_three": ({}, {"ensemble": 3, "head": "quantile", "normalization": "standard"}, {}),
    "gru_stacked_bidirectional_quantile": ({}, {"encoder": "gru", "num_layers": 2, "bidirectional": True,
                                                "attention": True, "attention_heads": 2,
                                                "head": "quantile", "normalization": "standard"}, {}),
}


def fit_variant(name: str) -> tuple[Forecaster, pd.DataFrame, pd.DataFrame | None]:
    """(fitted forecaster, its data, the future covariates predict needs after the data or None)."""
    data, model, frame_options = VARIANTS[name]
    frame = sine_frame(**frame_options)
    forecaster = Forecaster(export_config(data, model)).fit(frame)
    future = None
    if data.get("future_features"):
        future = future_frame(frame, forecaster)
    return forecaster, frame, future


def future_frame(frame: pd.DataFrame, forecaster: Forecaster) -> pd.DataFrame:
    """The known-future covariates for the horizon after each series of ``frame``."""
    d = forecaster.config.data
    H = d.horizon
    rng = np.random.default_rng(1)
    keys = frame[d.series_col].unique() if d.series_col else [None]
    rows = []
    for key in keys:
        part = frame[frame[d.series_col] == key] if key is not None else frame
        block = {c: rng.random(H).round() for c in d.future_features}
        if d.time_col:
            block[d.time_col] = pd.date_range(part[d.time_col].iloc[-1], periods=H + 1, freq="h")[1:]
        if key is not None:
            block[d.series_col] = [key] * H
        rows.append(pd.DataFrame(block))
    return pd.concat(rows, ignore_index=True)
