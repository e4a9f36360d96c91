"""The standard benchmark protocols run end to end with an lstmcast model.

    result = run_ett("data", dataset="ETTh1", horizon=96)   # the directory of ETTh1.csv; ~10 min on 2 cores
    result = run_m4_hourly("data")                          # m4_hourly_train.csv, m4_hourly_test.csv
    result = run_ett(data_dir, quick=True)                  # seconds: a slice, tiny model

The data directory is always given (``lstmcast bench ... --data-dir DIR``); the scripts that
publish the tables of docs/benchmarks.md (``benchmarks/ett.py``, ``benchmarks/m4_hourly.py``)
add the hardware description and the markdown.

Each run trains one model exactly under the published protocol (see
:mod:`lstmcast.evaluation.protocols`), scores it, reproduces the protocol's baselines on the same
windows and returns a JSON-ready dict with the published figures beside them, the training time
and the hardware. ``quick=True`` trains a tiny model for one epoch on a slice of the training
windows and scores a slice of the test windows (ETT: the first 256; M4: every series, from a
short training tail), for CI; the baselines are then also scored on the full protocol, where they
equal the published figures.

ETT (Informer; DLinear, AAAI 2023): rows 0..8639 train, 8640..11519 validation (early stopping),
11520..14399 test; z-score fitted on the training rows (applied before the model, so the model's
own scaler is ``none`` and its outputs are in the protocol's units); stride-1 windows of
``input_length`` rows whose inputs may reach into the previous split; MSE/MAE over windows, steps
and the 7 channels, the last partial test batch of 32 dropped.

M4 Hourly (Makridakis et al., IJF 2020): one global model over all 414 series (per-series scaler
fitted on each training series, per-window instance normalisation); validation = the last 48
points of every training series, for early stopping; forecasts of the 48 steps after each
training series, clipped at 0 as the competition's benchmark code does; sMAPE/MASE/OWA.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmcast.config import ForecastConfig
from lstmcast.data.splits import SplitBounds
from lstmcast.errors import ConfigError, DataError
from lstmcast.evaluation import baselines as B
from lstmcast.evaluation import protocols as P

if TYPE_CHECKING:
    from lstmcast.training.loop import Callback

__all__ = [
    "ETT_DATASETS",
    "PUBLISHED_ETT",
    "PUBLISHED_M4_HOURLY",
    "describe_config",
    "environment",
    "ett_config",
    "m4_hourly_config",
    "resolve_data_dir",
    "result_table",
    "run_ett",
    "run_m4_hourly",
]

ETT_DATASETS: tuple[str, ...] = ("ETTh1", "ETTh2")

# Published figures, multivariate, input 336 (DLinear, Zeng et al., AAAI 2023, Table 2; the
# ETTh1 rows are also in shared/data/README.md). (MSE, MAE) per horizon.
PUBLISHED_ETT: dict[str, dict[str, dict[int, tuple[float, float]]]] = {
    "ETTh1": {
        "Repeat": {96: (1.295, 0.713), 192: (1.325, 0.733), 336: (1.323, 0.744), 720: (1.339, 0.756)},
        "DLinear": {96: (0.375, 0.399), 192: (0.405, 0.416), 336: (0.439, 0.443), 720: (0.472, 0.490)},
    },
    "ETTh2": {
        "Repeat": {96: (0.432, 0.422), 192: (0.534, 0.473), 336: (0.591, 0.508), 720: (0.588, 0.517)},
        "DLinear": {96: (0.289, 0.353), 192: (0.383, 0.418), 336: (0.448, 0.465), 720: (0.605, 0.551)},
    },
}

# Official M4 Hourly scores (Makridakis et al., IJF 2020; shared/data/README.md).
PUBLISHED_M4_HOURLY: dict[str, dict[str, float]] = {
    "Naive": {"smape": 43.003},
    "Seasonal naive": {"smape": 13.912, "mase": 1.193},
    "Naive2": {"smape": 18.383, "mase": 2.395, "owa": 1.000},
    "RNN benchmark": {"smape": 14.698, "owa": 1.036},
    "ES-LSTM (winner)": {"smape": 9.328, "owa": 0.440},
}

ETT_QUICK_TEST_WINDOWS = 256  # 8 batches of 32
ETT_QUICK_TRAIN_WINDOWS = 512
M4_QUICK_TRAIN_WINDOWS = 8  # per series
M4_VALIDATION = P.M4_HOURLY_HORIZON  # the last 48 points of each training series


# =========================================================================== data directory


def resolve_data_dir(data_dir: str | os.PathLike[str] | None, files: Sequence[str]) -> Path:
    """The benchmark directory, checked to hold ``files``; a DataError saying what to do if not."""
    if data_dir is None:
        raise DataError(f"Give the benchmark data directory (CLI: --data-dir DIR), the one holding "
                        f"{', '.join(files)} (see shared/data/README.md).")
    path = Path(data_dir)
    where = f"{path} (resolved: {path.resolve()})"
    if not path.is_dir():
        raise DataError(
            f"Benchmark data directory {where} does not exist. Pass --data-dir DIR with the unmodified "
            f"benchmark files ({', '.join(files)}; see shared/data/README.md)."
        )
    missing = [name for name in files if not (path / name).is_file()]
    if missing:
        raise DataError(
            f"Benchmark data directory {where} lacks {', '.join(missing)}. Put the unmodified "
            "files there (see shared/data/README.md) or pass --data-dir DIR."
        )
    return path


def environment() -> dict[str, Any]:
    """What a run was measured on, from the standard library and torch alone: processor, core
    count, torch threads, versions, device (the published tables add the CPU model name)."""
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "device": "cuda" if torch.cuda.is_available() else "cpu"}


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}.")


def _apply(config: ForecastConfig, overrides: Sequence[str] | dict[str, Any]) -> ForecastConfig:
    if not overrides:
        return config
    return config.with_overrides(overrides if isinstance(overrides, dict) else list(overrides))


# =========================================================================== ETT


def ett_config(horizon: int = 96, input_length: int = 336, quick: bool = False) -> ForecastConfig:
    """The benchmark's model: a channel-independent LSTM(256) over 48-step patches
    (SegRNN-style), window-mean instance normalisation, a direct linear head for the H steps
    trained on the absolute error (the median head); early stopping on the validation rows.
    ``quick``: a tiny model trained for one epoch."""
    patch = 48 if input_length % 48 == 0 else 24 if input_length % 24 == 0 else 0
    raw: dict[str, dict[str, Any]] = {
        "data": {"targets": list(P.ETT_CHANNELS), "time_col": "date", "input_length": input_length,
                 "horizon": horizon, "scaler": "none"},
        "model": {"normalization": "mean", "channel_independent": True, "patch_length": patch, "hidden_size": 256,
                  "head": "quantile", "quantiles": [0.5]},
        "train": {"max_epochs": 10, "batch_size": 64, "learning_rate": 1e-3, "patience": 3,
                  "time_budget": 1500.0, "threads": 1},
    }
    if quick:
        raw["model"]["hidden_size"] = 16
        raw["train"].update(max_epochs=1, batch_size=128, time_budget=0.0)
    return ForecastConfig.from_dict(raw)


def run_ett(
    data_dir: str | os.PathLike[str],
    dataset: str = "ETTh1",
    horizon: int = 96,
    input_length: int = 336,
    *,
    quick: bool = False,
    overrides: Sequence[str] | dict[str, Any] = (),
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train and score one model under the ETT long-horizon protocol (multivariate, 7 channels);
    ``data_dir`` holds ``{dataset}.csv``.

    Returns ``{"benchmark", "dataset", "horizon", "input_length", "quick", "model": {"mse",
    "mae", ...}, "baselines": {"repeat": {...}}, "baselines_full": {...}, "published": {...},
    "training": {...}, "config": {...}, "hardware": {...}}``. ``baselines`` are scored on the
    same test windows as the model; ``baselines_full`` on the whole protocol test set.
    """
    from lstmcast.forecaster import Forecaster

    _check_choice("dataset", dataset, ETT_DATASETS)
    _check_choice("horizon", horizon, P.ETT_HORIZONS)
    path = resolve_data_dir(data_dir, [f"{dataset}.csv"]) / f"{dataset}.csv"
    config = _apply(ett_config(horizon, input_length, quick), overrides)
    if config.data.horizon != horizon or config.data.input_length != input_length:
        raise ConfigError("Set the horizon and input length with --horizon / --input-length, not --set.")
    raw = P.load_ett(path)
    frame, bounds = _ett_frame(raw, horizon, input_length, quick)
    started = time.perf_counter()
    forecaster = Forecaster(config).fit(frame, callbacks=callbacks, bounds_fn=bounds, source=str(path))
    train_seconds = time.perf_counter() - started
    w = forecaster.windows(frame, "test", source=str(path), bounds_fn=bounds)
    full_inputs, full_targets = P.ett_windows(P.scale_ett(raw), "test", input_length, horizon)  # [N, L, 7], [N, H, 7]
    count = len(full_targets) if not quick else ETT_QUICK_TEST_WINDOWS
    inputs, targets = full_inputs[:count], full_targets[:count]
    if not (np.array_equal(w.truth[:count], targets) and np.array_equal(w.history[:count], inputs)):
        raise RuntimeError("The forecaster's test windows differ from the protocol's; this is a bug.")
    started_eval = time.perf_counter()
    mean, _ = forecaster.model_.forward_scaled(w.x[:count], None, w.offset[:count], w.scale[:count])  # [N, H, 7]
    scores = P.score_ett(mean, targets)
    predict_seconds = time.perf_counter() - started_eval
    return {
        "benchmark": "ett",
        "dataset": dataset,
        "horizon": horizon,
        "input_length": input_length,
        "quick": quick,
        "model": {**scores, "n_test_windows": count},
        "baselines": {"repeat": P.score_ett(B.naive(inputs, horizon), targets)},
        "baselines_full": {"repeat": P.score_ett(B.naive(full_inputs, horizon), full_targets),
                           "n_test_windows": len(full_targets)},
        "published": {name: dict(zip(("mse", "mae"), figures[horizon], strict=True))
                      for name, figures in PUBLISHED_ETT[dataset].items()},
        "training": _training(forecaster, train_seconds, predict_seconds),
        "config": config.to_dict(),
        "hardware": environment(),
    }


def _ett_frame(raw: pd.DataFrame, horizon: int, input_length: int,
               quick: bool) -> tuple[pd.DataFrame, Callable[[int], SplitBounds]]:
    """The protocol's z-scored rows as a frame with its date column, and the row bounds of its
    train / validation / test parts (``quick``: only the last training windows)."""
    scaled = P.scale_ett(raw)[: P.ett_splits()["test"].stop]  # [14400, 7], the protocol's z-score
    frame = pd.DataFrame(scaled, index=raw.index[: len(scaled)], columns=list(P.ETT_CHANNELS))
    frame = frame.reset_index()  # the date column
    train_end, val_end = P.ett_splits()["train"].stop, P.ett_splits()["val"].stop
    first_row = 0
    if quick:  # train on the last ETT_QUICK_TRAIN_WINDOWS training windows only
        first_row = train_end - horizon + 1 - ETT_QUICK_TRAIN_WINDOWS - input_length
        frame = frame.iloc[first_row:].reset_index(drop=True)

    def bounds(n: int) -> SplitBounds:
        return SplitBounds(n, train_end - first_row, val_end - first_row)

    return frame, bounds


def _training(forecaster: Any, seconds: float, predict_seconds: float) -> dict[str, Any]:
    history = forecaster.history_
    return {
        "seconds": round(seconds, 1),
        "epochs": len(history.history),
        "best_epoch": history.best_epoch,
        "stop_reason": history.stop_reason,
        "n_windows": forecaster.meta_.get("n_windows"),
        "parameters": sum(p.numel() for p in forecaster.network_.parameters()),
        "threads": forecaster.meta_.get("threads"),
        "predict_seconds": round(predict_seconds, 2),
    }


# =========================================================================== M4 Hourly


def m4_hourly_config(quick: bool = False) -> ForecastConfig:
    """One global model over the 414 series: an LSTM(256) over 24-step patches of the last 336
    hours, per-series z-score and window-mean instance normalisation, a direct 48-step head
    trained on the absolute error (the median head). ``quick``: a tiny model, one epoch."""
    raw: dict[str, dict[str, Any]] = {
        "data": {"targets": ["value"], "series_col": "series", "input_length": 336,
                 "horizon": P.M4_HOURLY_HORIZON, "scaler": "standard"},
        "model": {"normalization": "mean", "patch_length": 24, "hidden_size": 256, "head": "quantile", "quantiles": [0.5]},
        "train": {"max_epochs": 20, "batch_size": 256, "learning_rate": 1e-3, "patience": 3,
                  "time_budget": 1500.0, "threads": 1},
    }
    if quick:
        raw["model"]["hidden_size"] = 16
        raw["train"].update(max_epochs=1, batch_size=512, time_budget=0.0)
    return ForecastConfig.from_dict(raw)


def run_m4_hourly(
    data_dir: str | os.PathLike[str],
    *,
    quick: bool = False,
    overrides: Sequence[str] | dict[str, Any] = (),
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train one global model on M4 Hourly and score it with sMAPE / MASE / OWA; ``data_dir``
    holds ``m4_hourly_train.csv`` and ``m4_hourly_test.csv``.

    Returns ``{"benchmark", "quick", "model": {"smape", "mase", "owa"}, "baselines":
    {"naive", "seasonal_naive", "naive2"}, "published": {...}, "training", "config",
    "hardware"}``; all on the 414 official test series.
    """
    from lstmcast.forecaster import Forecaster

    files = ("m4_hourly_train.csv", "m4_hourly_test.csv")
    root = resolve_data_dir(data_dir, files)
    series = P.load_m4_hourly(root / files[0], root / files[1])
    config = _apply(m4_hourly_config(quick), overrides)
    d = config.data
    H, L = P.M4_HOURLY_HORIZON, int(d.input_length or 0)
    if d.horizon != H or d.series_col != "series" or d.targets != ("value",):
        raise ConfigError(
            f"M4 Hourly fixes data.horizon={H}, data.series_col='series' and data.targets=['value']; "
            "do not override them."
        )
    keep = L + 2 * H + M4_QUICK_TRAIN_WINDOWS - 1 if quick else None
    frame = pd.concat(
        [pd.DataFrame({"series": s.id, "value": s.train[-keep:] if keep else s.train}) for s in series],
        ignore_index=True,
    )
    started = time.perf_counter()
    forecaster = Forecaster(config).fit(frame, callbacks=callbacks, source="M4 Hourly (training series)",
                                        bounds_fn=lambda n: SplitBounds(n, n - M4_VALIDATION, n))
    train_seconds = time.perf_counter() - started
    started_eval = time.perf_counter()
    table = forecaster.predict(frame, source="M4 Hourly (training series)").to_frame()
    predict_seconds = time.perf_counter() - started_eval
    by_series = {key: group["mean"].to_numpy() for key, group in table.groupby("series", sort=False)}
    forecasts = np.stack([np.clip(by_series[s.id], 0.0, None) for s in series])  # [414, 48]
    scores = P.score_m4(forecasts, series)
    baselines = {}
    for name in ("naive", "seasonal_naive", "naive2"):
        preds = [B.forecast_baseline(name, s.train[None, :, None], H, P.M4_HOURLY_SEASON)[0, :, 0]
                 for s in series]
        baselines[name] = {k: v for k, v in P.score_m4(preds, series).items() if k in ("smape", "mase", "owa")}
    return {
        "benchmark": "m4-hourly",
        "quick": quick,
        "model": {k: scores[k] for k in ("smape", "mase", "owa")},
        "baselines": baselines,
        "published": PUBLISHED_M4_HOURLY,
        "training": _training(forecaster, train_seconds, predict_seconds),
        "config": config.to_dict(),
        "hardware": environment(),
        "n_series": len(series),
    }


# =========================================================================== tables


def result_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The result as (header, rows) for printing: ours, the reproduced baselines, the published
    figures. Values are floats (or None where a figure does not exist)."""
    if result["benchmark"] == "ett":
        metrics = ["mse", "mae"]
        header = ["method", "MSE", "MAE", "source"]
        n = result["model"]["n_test_windows"]
        rows = [["lstmcast LSTM (ours)", *(result["model"][m] for m in metrics), f"measured, {n} test windows"]]
        rows.append(["Repeat", *(result["baselines"]["repeat"][m] for m in metrics),
                     f"reproduced, {n} test windows"])
        if result["quick"]:
            full = result["baselines_full"]
            rows.append(["Repeat", *(full["repeat"][m] for m in metrics),
                         f"reproduced, all {full['n_test_windows']} test windows"])
        for name, figures in result["published"].items():
            rows.append([name, *(figures[m] for m in metrics), "published (DLinear, AAAI 2023)"])
        return header, rows
    metrics = ["smape", "mase", "owa"]
    header = ["method", "sMAPE", "MASE", "OWA", "source"]
    rows = [["lstmcast LSTM (ours)", *(result["model"][m] for m in metrics), "measured"]]
    names = {"naive": "Naive", "seasonal_naive": "Seasonal naive", "naive2": "Naive2"}
    for key, name in names.items():
        rows.append([name, *(result["baselines"][key].get(m) for m in metrics), "reproduced"])
    for name, figures in result["published"].items():
        rows.append([name, *(figures.get(m) for m in metrics), "published (M4, IJF 2020)"])
    return header, rows


def describe_config(config: dict[str, Any]) -> str:
    """One line naming the model options that matter for the benchmark."""
    d, m, t = config["data"], config["model"], config["train"]
    parts = [f"LSTM(hidden {m['hidden_size']} x {m['num_layers']})"]
    if m.get("patch_length"):
        parts.append(f"patches of {m['patch_length']}")
    if m.get("channel_independent"):
        parts.append("channel-independent")
    parts.append(f"normalization={m.get('normalization')}")
    parts.append(f"head={m['head']}")
    parts.append(f"L={d['input_length']}, H={d['horizon']}")
    parts.append(f"batch {t['batch_size']}, lr {t['learning_rate']:g}, <= {t['max_epochs']} epochs, "
                 f"patience {t['patience']}")
    return ", ".join(parts)
