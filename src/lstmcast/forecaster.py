"""Forecaster: the one class that wires config + scalers + network + fit loop.

    Forecaster(config).fit(frame) -> self
    .predict(frame) -> Forecast        (the H steps after the end of each series)
    .historical_forecasts(frame)       (every window of the frame's test part, with the truth)
    .evaluate(frame) -> dict           (metrics on the frame's last part, next to baselines)
    .save(dir) / Forecaster.load(dir)  (plain files: JSON + safetensors, never pickles)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from lstmcast import __version__
from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.data.io import as_pandas, future_index, infer_frequency, prepare_frame, sha256_file
from lstmcast.data.scaling import Scaler
from lstmcast.data.splits import SplitBounds, check_length
from lstmcast.data.windows import input_target_windows
from lstmcast.errors import ConfigError, DataError, ModelFileError, NotFittedError
from lstmcast.forecast import Forecast, quantile_column
from lstmcast.models.network import LSTMForecastNet
from lstmcast.training.loop import Callback, FitResult, TensorBatches, fit_loop

if TYPE_CHECKING:
    from lstmcast.training.distributed import DistributedContext

FORMAT_VERSION = 1
MODEL_FILES = ("config.json", "scaler.json", "weights.safetensors", "meta.json")
_SINGLE = "__single__"


@dataclass
class SeriesData:
    """One prepared series: its key, time index and values [T, C] in original units."""

    key: str
    index: pd.Index
    values: np.ndarray


@dataclass
class WindowBatch:
    """Windows of one or more series, ready for the network and for scoring.

    X [N, L, C] scaled inputs, future [N, H, Kf] scaled known-future covariates, truth [N, H, T]
    and history [N, L, T] in original units, offset/scale [N, T] of each window's series.
    """

    x: np.ndarray
    future: np.ndarray | None
    truth: np.ndarray | None
    history: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    series: list[str]
    origins: list[Any]
    times: list[pd.Index]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"Device {name!r} was asked for, but CUDA is not available here; use --device cpu.")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"Device {name!r} was asked for, but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s), numbered from 0; use --device cuda:0 or cpu.")
    if name.startswith("mps") and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"Device {name!r} was asked for, but Apple's MPS is not available here (it needs an Apple "
                          "silicon Mac and a torch built with MPS); use --device cpu.")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"Device {name!r} is not usable here ({exc}); use --device cpu.") from None


def auto_threads(model: ModelConfig, train: TrainConfig) -> int:
    """Threads for CPU training: small LSTMs run fastest on one thread (thread start-up and
    oversubscription cost more than the matrix work they share); larger ones use up to 4."""
    if train.threads:
        return train.threads
    work = model.hidden_size * (2 if model.bidirectional else 1) * model.num_layers
    cores = os.cpu_count() or 1
    return 1 if work <= 128 else min(4, cores)


def calendar_columns(index: pd.Index) -> list[str]:
    """Calendar features suited to the spacing of a DatetimeIndex."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            "data.calendar_features=true needs a date/time column; the data has an integer step "
            "index. Name the time column with --time-col or turn calendar features off."
        )
    step = pd.Series(index[:50]).diff().median() if len(index) > 1 else pd.Timedelta(days=1)
    names = []
    if step < pd.Timedelta(days=1):
        names += ["hour_sin", "hour_cos"]
    if step < pd.Timedelta(days=7):
        names += ["dow_sin", "dow_cos"]
    names += ["year_sin", "year_cos"]
    return names


def calendar_values(index: pd.DatetimeIndex, names: Sequence[str]) -> np.ndarray:
    """[len(index), len(names)] sin/cos encodings of hour of day, day of week, day of year."""
    hour = (index.hour + index.minute / 60.0).to_numpy() / 24.0
    dow = (index.day_of_week.to_numpy() + hour) / 7.0
    doy = (index.day_of_year.to_numpy() - 1 + hour) / 365.25
    phase = {"hour": hour, "dow": dow, "year": doy}
    cols = []
    for name in names:
        kind, fn = name.split("_")
        cols.append((np.sin if fn == "sin" else np.cos)(2 * np.pi * phase[kind]))
    return np.stack(cols, axis=1) if cols else np.zeros((len(index), 0))


class Forecaster:
    """An LSTM forecaster. Constructors store; ``fit`` computes and returns self.

    Learned state (after ``fit`` or ``load``) ends in ``_``: ``network_``, ``scalers_``
    (one per series), ``meta_`` (columns, frequency, training range), ``history_``.
    """

    def __init__(self, config: ForecastConfig | None = None, *, data: DataConfig | None = None,
                 model: ModelConfig | None = None, train: TrainConfig | None = None) -> None:
        config = config or ForecastConfig()
        if not isinstance(config, ForecastConfig):
            raise ConfigError(f"config must be a ForecastConfig; got {type(config).__name__}.")
        changes = {k: v for k, v in (("data", data), ("model", model), ("train", train)) if v is not None}
        self.config = dataclasses.replace(config, **changes) if changes else config

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError("This Forecaster is not fitted yet; call fit(frame) or Forecaster.load(dir) first.")

    @property
    def channels(self) -> list[str]:
        """Input channels in network order: targets, past covariates, future covariates, calendar."""
        d = self.config.data
        return [*d.input_columns, *self.meta_.get("calendar", [])] if hasattr(self, "meta_") else list(d.input_columns)

    @property
    def n_future(self) -> int:
        return len(self.config.data.future_features) + len(getattr(self, "meta_", {}).get("calendar", []))

    def _prepare(self, frame: pd.DataFrame, source: str) -> list[SeriesData]:
        d = self.config.data
        tidy = prepare_frame(frame, list(d.input_columns), time_col=d.time_col, series_col=d.series_col,
                             fill=d.fill, fill_gaps=d.fill_gaps, source=source)
        groups = [(_SINGLE, tidy)] if d.series_col is None else list(tidy.groupby(d.series_col, sort=False, observed=True))
        out = []
        for key, group in groups:
            values = group[list(d.input_columns)].to_numpy(np.float64)
            calendar = getattr(self, "meta_", {}).get("calendar") or (
                calendar_columns(group.index) if d.calendar_features else [])
            if calendar:
                values = np.concatenate([values, calendar_values(group.index, calendar)], axis=1)
            out.append(SeriesData(str(key), group.index, values))
        return out

    def _infer_targets(self, frame: pd.DataFrame) -> None:
        d = self.config.data
        if d.targets:
            return
        skip = {d.time_col, d.series_col, *d.features, *d.future_features}
        numeric = [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
                   and str(c).lower() not in ("date", "time", "timestamp", "datetime", "ds")]
        if len(numeric) != 1:
            raise ConfigError(
                "Name the column(s) to forecast: DataConfig(targets=[...]) or --target COL. "
                f"Numeric columns found: {[str(c) for c in numeric]}."
            )
        self.config = dataclasses.replace(self.config, data=dataclasses.replace(d, targets=(str(numeric[0]),)))

    def _scaler_for(self, series: SeriesData) -> Scaler:
        scaler = self.scalers_.get(series.key)
        if scaler is None:  # a series unseen in training is scaled by its own history
            scaler = Scaler(self.config.data.scaler).fit(series.values)
        return scaler

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, *, callbacks: Sequence[Callback] = (), checkpoint: str | Path | None = None,
            resume: str | Path | None = None, source: str = "the training data",
            distributed: DistributedContext | None = None,
            bounds_fn: Callable[[int], SplitBounds] | None = None) -> Forecaster:
        """Train on ``frame`` (time-ordered; one series, or many with ``data.series_col``).

        Each series is split chronologically into train / validation / test parts by
        ``data.val_fraction`` and ``data.test_fraction``; scalers are fitted on the training
        part only; the test part is held out (see :meth:`evaluate`).

        ``distributed`` (from :func:`lstmcast.training.distributed.init_distributed`, under
        torchrun) trains data-parallel: this process takes its share of every global batch of
        ``train.batch_size`` windows; only rank 0 writes the checkpoint.

        ``bounds_fn(n_rows) -> SplitBounds`` replaces the fractions with explicit row bounds
        per series (e.g. the last 48 rows of every series for validation, as in M4).
        """
        frame = as_pandas(frame, source)
        self._infer_targets(frame)
        m, t = self.config.model, self.config.train
        device = resolve_device(t.device)
        threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
        try:
            if device.type == "cpu":
                torch.set_num_threads(1 if t.deterministic and not t.threads else auto_threads(m, t))
            if t.deterministic:
                torch.use_deterministic_algorithms(True)
            return self._fit(frame, callbacks, checkpoint, resume, source, distributed, bounds_fn, device)
        finally:  # leave the process's torch settings as they were
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)

    def _fit(self, frame: pd.DataFrame, callbacks: Sequence[Callback], checkpoint: str | Path | None,
             resume: str | Path | None, source: str, distributed: DistributedContext | None,
             bounds_fn: Callable[[int], SplitBounds] | None, device: torch.device) -> Forecaster:
        d, m, t = self.config.data, self.config.model, self.config.train
        started = time.perf_counter()
        torch.manual_seed(t.seed)
        self.meta_ = {}
        series = self._prepare(frame, source)  # calendar channels included when asked for
        calendar = calendar_columns(series[0].index) if d.calendar_features else []
        self.meta_ = {"calendar": calendar}
        n_targets = len(d.targets)
        L, H = d.input_length, d.horizon
        self.scalers_: dict[str, Scaler] = {}
        scaled_parts, starts = [], {"train": [], "val": [], "test": []}
        offset = 0
        ranges = {}
        for s in series:
            what = "The series" if s.key == _SINGLE else f"Series {s.key!r}"
            if bounds_fn is None:
                bounds = check_length(len(s.values), L, H, d.val_fraction, d.test_fraction, what=what)
            else:
                bounds = bounds_fn(len(s.values))
                if not len(bounds.target_starts("train", L, H)):
                    raise DataError(
                        f"{what} has {len(s.values)} rows and bounds_fn leaves rows 0..{bounds.train_end - 1} "
                        f"for training: no window of input_length={L} + horizon={H} fits. Give it more "
                        "training rows or use smaller data.input_length / data.horizon."
                    )
            scaler = Scaler(d.scaler).fit(s.values[: bounds.train_end])
            self.scalers_[s.key] = scaler
            scaled_parts.append(scaler.transform(s.values).astype(np.float32))
            for part in starts:
                starts[part].append(np.asarray(bounds.target_starts(part, L, H)) + offset)
            offset += len(s.values)
            ranges[s.key] = _ranges(s.index, bounds)
        values = torch.from_numpy(np.concatenate(scaled_parts)).to(device)  # [T_total, C]
        net = LSTMForecastNet(len(self.channels), n_targets, self.n_future, H, m, d.normalization).to(device)
        batches = {part: _window_source(values, np.concatenate(idx), L, H, n_targets, self.n_future, device)
                   for part, idx in starts.items()}
        batches["train"].per_epoch = t.epoch_windows
        ckpt_path = Path(checkpoint) if checkpoint is not None else None
        resume_state = _load_checkpoint(Path(resume)) if resume is not None else None
        parts = (lambda b: net.loss(*b), batches["train"], batches["val"] if len(batches["val"]) else None, None)
        if distributed is not None:  # this process's share of every batch; DDP averages gradients
            parts = distributed.prepare(net, *parts[:3])
            ckpt_path = ckpt_path if distributed.is_main else None
        loss_fn, train_b, val_b, sync = parts
        result = fit_loop(net, loss_fn, train_b, val_b, t, callbacks, checkpoint=ckpt_path, resume=resume_state,
                          sync=sync)
        self.network_ = net.eval()
        self.history_: FitResult = result
        freq = infer_frequency(series[0].index)
        self.meta_ = {
            "calendar": calendar,
            "frequency": freq,
            "channels": [*d.input_columns, *calendar],
            "series": [s.key for s in series],
            "ranges": ranges,
            "n_windows": {part: len(b) for part, b in batches.items()},
            "train_seconds": round(time.perf_counter() - started, 3),
            "device": str(device),
            "threads": torch.get_num_threads(),
        }
        if m.conformal:
            self.calibrate(frame, part="val", source=source, bounds_fn=bounds_fn)
        return self

    def calibrate(self, frame: pd.DataFrame, part: str = "val", source: str = "the data",
                  bounds_fn: Callable[[int], SplitBounds] | None = None) -> Forecaster:
        """Split-conformal calibration of the prediction intervals on ``part`` of ``frame``
        (by default the validation part, never seen by the weights): rescales the head's
        spread so each central interval covers its nominal share of those windows."""
        from lstmcast.models.heads import conformal_spread

        self._check_fitted()
        if not self.quantile_levels:
            raise ConfigError("calibrate() needs a probabilistic head (model.head=gaussian or quantile).")
        w = self.windows(frame, part, source, bounds_fn=bounds_fn)
        mean, quants = self._forward(w.x, w.future, w.offset, w.scale)
        head = self.network_.head
        factor = conformal_spread(head, torch.from_numpy(mean), torch.from_numpy(quants),
                                  torch.from_numpy(np.ascontiguousarray(w.truth)), self.quantile_levels)
        with torch.no_grad():
            head.spread.mul_(factor.to(head.spread.device, head.spread.dtype))
        self.meta_["calibration"] = {"part": part, "windows": len(w.truth),
                                     "mean_spread": float(head.spread.mean())}
        return self

    # ------------------------------------------------------------------ predict
    @torch.no_grad()
    def _forward(self, x: np.ndarray, future: np.ndarray | None, offset: np.ndarray, scale: np.ndarray,
                 batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray | None]:
        """Scaled windows -> mean [N, H, T] and quantiles [N, H, T, Q] in original units;
        ``offset`` / ``scale`` [N, T] are each window's target scaling."""
        net = self.network_
        device = next(net.parameters()).device
        levels = self.quantile_levels
        means, quants = [], []
        for lo in range(0, len(x), batch_size):
            xb = torch.as_tensor(x[lo : lo + batch_size], dtype=torch.float32, device=device)
            fb = (torch.as_tensor(future[lo : lo + batch_size], dtype=torch.float32, device=device)
                  if future is not None else None)
            params = net(xb, fb)  # [B, H, T, P]
            off = torch.as_tensor(offset[lo : lo + batch_size], dtype=torch.float32, device=device)
            sc = torch.as_tensor(scale[lo : lo + batch_size], dtype=torch.float32, device=device)
            params = net.head.denormalize(params, off.unsqueeze(1), sc.unsqueeze(1))  # [B, 1, T] over H
            means.append(net.head.mean(params).cpu().numpy())
            if levels:
                quants.append(net.head.quantiles(params, levels).cpu().numpy())
        mean = np.concatenate(means)
        return mean, (np.concatenate(quants) if levels else None)

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        return () if self.config.model.head == "point" else self.config.model.quantiles

    def _future_block(self, s: SeriesData, future: pd.DataFrame | None, times: pd.Index) -> np.ndarray | None:
        """Known-future covariates for the H steps ``times`` after the end of ``s``: [H, Kf]."""
        d = self.config.data
        calendar = self.meta_.get("calendar", [])
        if not self.n_future:
            return None
        parts = []
        if d.future_features:
            if future is None:
                raise DataError(
                    f"This model uses known-future covariates {list(d.future_features)}: pass their values "
                    f"for the {d.horizon} steps after the data (Python: predict(frame, future=...); "
                    "CLI: --future FILE)."
                )
            rows = future
            if d.series_col is not None and d.series_col in future:
                rows = future[future[d.series_col].astype(str) == s.key]
            tidy = prepare_frame(rows, list(d.future_features), time_col=d.time_col, fill=d.fill,
                                 source="the future covariates")
            tidy = tidy[tidy.index > s.index[-1]] if not isinstance(tidy.index, pd.RangeIndex) else tidy
            if len(tidy) < d.horizon:
                raise DataError(
                    f"The future covariates have {len(tidy)} rows after the end of the data for series "
                    f"{s.key!r}; the model needs {d.horizon} (one per forecast step)."
                )
            parts.append(tidy[list(d.future_features)].to_numpy(np.float64)[: d.horizon])
        if calendar:
            parts.append(calendar_values(times, calendar))
        block = np.concatenate(parts, axis=1)
        return block

    def predict(self, frame: pd.DataFrame, future: pd.DataFrame | None = None,
                source: str = "the data") -> Forecast:
        """Forecast the ``horizon`` steps after the end of each series in ``frame``."""
        self._check_fitted()
        future = as_pandas(future, "the future covariates") if future is not None else None
        d = self.config.data
        L, H, n_targets = d.input_length, d.horizon, len(d.targets)
        rows_x, rows_f, offsets, scales, meta = [], [], [], [], []
        for s in self._prepare(frame, source):
            if len(s.values) < L:
                raise DataError(
                    f"{'The data' if s.key == _SINGLE else f'Series {s.key!r}'} has {len(s.values)} rows; "
                    f"the model needs the last input_length={L} rows to forecast."
                )
            scaler = self._scaler_for(s)
            times = future_index(s.index, self.meta_.get("frequency"), H)
            block = self._future_block(s, future, times)
            if block is not None:
                n_known = len(self.channels) - self.n_future
                block = ((block - scaler.offset_[n_known:]) / scaler.scale_[n_known:])
            rows_x.append(scaler.transform(s.values[-L:]))
            rows_f.append(block)
            offsets.append(scaler.offset_[:n_targets])
            scales.append(scaler.scale_[:n_targets])
            meta.append((s.key, times))
        x = np.stack(rows_x)
        fut = np.stack(rows_f) if self.n_future else None
        mean, quants = self._forward(x, fut, np.stack(offsets), np.stack(scales))
        return self._to_forecast(mean, quants, meta, truth=None, origins=None)

    def _to_forecast(self, mean: np.ndarray, quants: np.ndarray | None, meta: list[tuple[str, pd.Index]],
                     truth: np.ndarray | None, origins: list[Any] | None) -> Forecast:
        d = self.config.data
        n, H, T = mean.shape
        columns: dict[str, Any] = {}
        if d.series_col is not None:
            columns["series"] = np.repeat([k for k, _ in meta], H * T)
        if origins is not None:
            columns["origin"] = np.repeat(np.asarray(origins, dtype=object), H * T)
        columns["time"] = np.concatenate([np.repeat(np.asarray(times), T) for _, times in meta])
        columns["target"] = np.tile(np.asarray(d.targets, dtype=object), n * H)
        columns["step"] = np.tile(np.repeat(np.arange(1, H + 1), T), n)
        columns["mean"] = mean.reshape(-1)
        for q, level in enumerate(self.quantile_levels):
            columns[quantile_column(level)] = quants[..., q].reshape(-1)
        if truth is not None:
            columns["actual"] = truth.reshape(-1)
        return Forecast(pd.DataFrame(columns), self.quantile_levels)

    # ------------------------------------------------------------------ windows of a frame
    def windows(self, frame: pd.DataFrame, part: str = "test", source: str = "the data",
                bounds_fn: Callable[[int], SplitBounds] | None = None) -> WindowBatch:
        """Every stride-1 window whose targets lie in ``part`` (train | val | test | all) of each
        series of ``frame``, split by the model's fractions (or by ``bounds_fn(n_rows)``)."""
        self._check_fitted()
        d = self.config.data
        L, H, n_targets, n_future = d.input_length, d.horizon, len(d.targets), self.n_future
        xs, fs, ys, hs, offs, scs, keys, origins, times = [], [], [], [], [], [], [], [], []
        for s in self._prepare(frame, source):
            if bounds_fn is not None:
                bounds = bounds_fn(len(s.values))
            else:
                what = "The data" if s.key == _SINGLE else f"Series {s.key!r}"
                bounds = check_length(len(s.values), L, H, d.val_fraction if part != "all" else 0.0,
                                      d.test_fraction if part != "all" else 0.0, what=what)
            starts = bounds.target_starts(part, L, H)
            if not len(starts):
                continue
            first = np.asarray(starts)
            scaler = self._scaler_for(s)
            scaled = scaler.transform(s.values).astype(np.float32)
            x, fut = input_target_windows(scaled, starts, L, H, scaled.shape[1])  # views [N, L, C], [N, H, C]
            history, truth = input_target_windows(s.values, starts, L, H, n_targets)  # [N, L, C], [N, H, T]
            xs.append(x)
            if n_future:
                fs.append(fut[..., -n_future:])
            ys.append(truth)
            hs.append(history[..., :n_targets])
            offs.append(np.broadcast_to(scaler.offset_[:n_targets], (len(first), n_targets)))
            scs.append(np.broadcast_to(scaler.scale_[:n_targets], (len(first), n_targets)))
            keys += [s.key] * len(first)
            origins += list(s.index[first - 1])
            times += [s.index[i : i + H] for i in first]
        if not xs:
            raise DataError(f"{source.capitalize()} has no complete window in its {part} part.")
        return WindowBatch(np.concatenate(xs), np.concatenate(fs) if n_future else None, np.concatenate(ys),
                           np.concatenate(hs), np.concatenate(offs), np.concatenate(scs), keys, origins, times)

    def historical_forecasts(self, frame: pd.DataFrame, part: str = "test", source: str = "the data") -> Forecast:
        """Forecasts from every origin of ``part`` of ``frame``, with the ``actual`` values."""
        w = self.windows(frame, part, source)
        mean, quants = self._forward(w.x, w.future, w.offset, w.scale)
        meta = list(zip(w.series, w.times, strict=True))
        return self._to_forecast(mean, quants, meta, truth=w.truth, origins=w.origins)

    def evaluate(self, frame: pd.DataFrame, part: str = "test", source: str = "the data",
                 season: int | None = None) -> dict[str, Any]:
        """Score the model on ``part`` of ``frame`` next to the naive and seasonal-naive baselines.

        Metrics are in original units, averaged over windows, steps and targets.
        """
        from lstmcast.evaluation.scoring import score_windows

        w = self.windows(frame, part, source)
        mean, quants = self._forward(w.x, w.future, w.offset, w.scale)
        season = season or _season(self.meta_.get("frequency"))
        return score_windows(w, mean, quants, self.quantile_levels, season, list(self.config.data.targets))

    def backtest(self, frame: pd.DataFrame, folds: int = 3, step: int | None = None, refit: bool = True,
                 *, season: int | None = None, callbacks: Sequence[Callback] = (),
                 source: str = "the data") -> Any:
        """Rolling-origin backtest of this forecaster's config on ``frame``: ``folds`` origins at
        the end of each series, ``step`` rows apart (default: the horizon); each fold trains only
        on rows before its origin (a fresh model per fold with ``refit``, else one model trained
        before the first origin). Returns a :class:`lstmcast.evaluation.backtest.BacktestResult`;
        this forecaster itself is not fitted by it. See :mod:`lstmcast.evaluation.backtest`."""
        from lstmcast.evaluation.backtest import backtest

        return backtest(self.config, frame, folds, step, refit, season=season, callbacks=callbacks,
                        source=source)

    def inspect(self, frame: pd.DataFrame, part: str = "test", windows: int = 1, out: str | Path | None = None,
                source: str = "the data") -> Any:
        """Record the trained LSTM's gates and states (f, i, o, g, c, h) on the last ``windows``
        windows of ``part`` (train | val | test | all) of ``frame``, exactly as the LSTM sees them
        (after scaling, normalisation or patching). Returns ``Inspection(trace, frame, paths)``:
        the :class:`lstmcast.lstm.LSTMTrace` ``[layers, D, B, L', hidden]``, its tidy DataFrame,
        and the PNGs written to ``out`` when given (see :mod:`lstmcast.lstm`)."""
        from lstmcast.lstm.introspect import Inspection, record_network
        from lstmcast.lstm.plots import write_trace_plots

        self._check_fitted()
        if not isinstance(windows, int) or isinstance(windows, bool) or windows < 1:
            raise ConfigError(f"windows must be a positive integer (how many windows to record); got {windows!r}.")
        w = self.windows(frame, part, source)
        device = next(self.network_.parameters()).device
        x = torch.as_tensor(np.ascontiguousarray(w.x[-windows:]), dtype=torch.float32, device=device)
        fut = (torch.as_tensor(np.ascontiguousarray(w.future[-windows:]), dtype=torch.float32, device=device)
               if w.future is not None else None)
        trace = record_network(self.network_, x, fut)
        paths = write_trace_plots(trace, out) if out is not None else {}
        attention = self._attention_weights(x, fut)
        if attention is not None and out is not None:
            from lstmcast.plotting import plot_attention

            path = Path(out) / "attention.png"
            plot_attention(attention, path)
            paths["attention"] = str(path)
        return Inspection(trace, trace.to_frame(), paths, attention)

    @torch.no_grad()
    def _attention_weights(self, x: torch.Tensor, future: torch.Tensor | None) -> np.ndarray | None:
        """Weights [B', L'] the attention layer puts on each LSTM output (None without attention)."""
        layer = self.network_.attention
        if layer is None:
            return None
        captured = []
        handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out[1]))
        try:
            self.network_(x, future)
        finally:
            handle.remove()
        return torch.cat(captured).squeeze(1).cpu().numpy()  # [B', 1, L'] -> [B', L']

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path, extras: dict[str, Callable[[Path], None]] | None = None,
             metrics: dict[str, Any] | None = None, run: dict[str, Any] | None = None) -> Path:
        """Write the model directory atomically: a crash mid-save leaves any previous model intact.

        Files: config.json, scaler.json, weights.safetensors, meta.json (versions, columns,
        frequency, training range, file hashes), history.csv, metrics.json; ``extras`` maps
        further file names to writer functions (plots).
        """
        from safetensors.torch import save_file

        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            (stage / "config.json").write_text(self.config.to_json(), encoding="utf-8")
            scalers = {key: s.to_dict() for key, s in self.scalers_.items()}
            (stage / "scaler.json").write_text(json.dumps(scalers, indent=1), encoding="utf-8")
            state = {k: v.detach().cpu().contiguous() for k, v in self.network_.state_dict().items()}
            save_file(state, str(stage / "weights.safetensors"))
            if getattr(self, "history_", None) is not None and self.history_.history:
                pd.DataFrame(self.history_.history_rows()).to_csv(stage / "history.csv", index=False)
            if metrics is not None:
                (stage / "metrics.json").write_text(json.dumps(_jsonable(metrics), indent=2), encoding="utf-8")
            for name, writer in (extras or {}).items():
                writer(stage / name)
            meta = {
                "format_version": FORMAT_VERSION,
                "lstmcast_version": __version__,
                "torch_version": torch.__version__,
                "python_version": platform.python_version(),
                **{k: v for k, v in self.meta_.items()},
                "stop_reason": getattr(getattr(self, "history_", None), "stop_reason", None),
                "best_epoch": getattr(getattr(self, "history_", None), "best_epoch", None),
                "events": getattr(getattr(self, "history_", None), "events", []),
                "sha256": {name: sha256_file(stage / name) for name in MODEL_FILES[:3]},
                "run": _run_manifest(self, metrics, run),
            }
            (stage / "meta.json").write_text(json.dumps(_jsonable(meta), indent=2), encoding="utf-8")
            _swap_into_place(stage, path)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Forecaster:
        """Rebuild from config + strict ``load_state_dict``; refuses missing or modified files."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_dir():
            raise ModelFileError(f"Model directory {path} does not exist; train one with `lstmcast train --out {path}`.")
        missing = [name for name in MODEL_FILES if not (path / name).is_file()]
        if missing:
            raise ModelFileError(
                f"Model directory {path} is missing {', '.join(missing)}; it is incomplete or not a "
                "model directory. Retrain or restore it."
            )
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{path / 'meta.json'} is not valid JSON ({exc}).") from exc
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{path} has model format {meta.get('format_version')!r}; this lstmcast "
                f"({__version__}) reads format {FORMAT_VERSION}. Retrain with this version."
            )
        for name, digest in (meta.get("sha256") or {}).items():
            if sha256_file(path / name) != digest:
                raise ModelFileError(
                    f"{path / name} was modified after the model was saved (checksum mismatch); "
                    "it cannot be trusted. Restore the original file or retrain."
                )
        if set(meta.get("sha256") or {}) != set(MODEL_FILES[:3]):
            raise ModelFileError(f"{path / 'meta.json'} lacks the checksums of the model files; it was tampered with.")
        try:
            config = ForecastConfig.from_dict(json.loads((path / "config.json").read_text(encoding="utf-8")))
            scalers = {k: Scaler.from_dict(v) for k, v in
                       json.loads((path / "scaler.json").read_text(encoding="utf-8")).items()}
        except (json.JSONDecodeError, ConfigError, DataError, AttributeError) as exc:
            raise ModelFileError(f"{path} holds an invalid config or scaler: {exc}") from exc
        if device is not None:
            config = dataclasses.replace(config, train=dataclasses.replace(config.train, device=device))
        self = cls(config)
        self.meta_ = meta
        self.scalers_ = scalers
        d = config.data
        net = LSTMForecastNet(len(self.channels), len(d.targets), self.n_future, d.horizon, config.model,
                              d.normalization)
        try:
            state = load_file(str(path / "weights.safetensors"))
            net.load_state_dict(state, strict=True)
        except (SafetensorError, RuntimeError, OSError) as exc:
            raise ModelFileError(f"{path / 'weights.safetensors'} does not fit the saved config: {exc}") from exc
        self.network_ = net.to(resolve_device(config.train.device)).eval()
        self.history_ = None
        return self


# ---------------------------------------------------------------------- module helpers
def _window_source(values: torch.Tensor, starts: np.ndarray, L: int, H: int, n_targets: int, n_future: int,
                   device: torch.device) -> TensorBatches:
    """Batches of (x [B, L, C], future [B, H, Kf] | None, y [B, H, T]) gathered from one
    ``unfold`` view of the series tensor: only the batch is ever copied."""
    windows = values.unfold(0, L + H, 1)  # [T_total - L - H + 1, C, L + H], a view
    rows = torch.as_tensor(starts - L, dtype=torch.long, device=device)

    def gather(index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        w = windows[rows[index]].transpose(1, 2)  # [B, L + H, C]
        x = w[:, :L].contiguous()  # contiguous float32 keeps nn.LSTM on its fast kernel
        future = w[:, L:, -n_future:].contiguous() if n_future else None
        return x, future, w[:, L:, :n_targets]

    return TensorBatches(len(rows), gather, device)


def _ranges(index: pd.Index, bounds: SplitBounds) -> dict[str, list[str]]:
    def span(lo: int, hi: int) -> list[str]:
        return [str(index[lo]), str(index[hi - 1])] if hi > lo else []

    return {"train": span(0, bounds.train_end), "val": span(bounds.train_end, bounds.val_end),
            "test": span(bounds.val_end, bounds.n_rows)}


def _season(freq: str | None) -> int:
    from lstmcast.evaluation.baselines import seasonality_from_freq

    try:
        return int(seasonality_from_freq(freq))
    except (ValueError, TypeError):
        return 1


def _run_manifest(forecaster: Forecaster, metrics: dict[str, Any] | None, run: dict[str, Any] | None) -> dict[str, Any]:
    """What a later reader needs to reproduce or compare the run: versions, device, time, results."""
    import importlib.metadata as md

    versions = {}
    for name in ("torch", "numpy", "pandas", "safetensors"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:  # pragma: no cover
            versions[name] = None
    history = getattr(forecaster, "history_", None)
    return {
        **(run or {}),
        "packages": versions,
        "platform": platform.platform(),
        "device": forecaster.meta_.get("device"),
        "threads": forecaster.meta_.get("threads"),
        "train_seconds": forecaster.meta_.get("train_seconds"),
        "epochs": len(history.history) if history is not None else None,
        "final_metrics": (metrics or {}).get("metrics"),
    }


def _swap_into_place(stage: Path, path: Path) -> None:
    """Replace ``path`` by the fully written ``stage`` directory with renames only."""
    for f in stage.iterdir():
        if f.is_file():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
    if path.exists():
        if not path.is_dir():
            raise ModelFileError(f"{path} exists and is not a directory; choose another --out.")
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
        old.rmdir()
        os.rename(path, old)
        try:
            os.rename(stage, path)
        except BaseException:
            os.rename(old, path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, path)


def _load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelFileError(f"Checkpoint {path} does not exist; nothing to resume.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelFileError(f"Checkpoint {path} cannot be read ({exc}); it is damaged or not a checkpoint.") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    return value
