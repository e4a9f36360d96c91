"""Forecaster: config in, ``fit(frame) -> self``, then predict / evaluate / save.

    Forecaster(config).fit(frame) -> self      (learns from the whole history of every series)
    .predict(frame, horizon=None) -> Forecast  (the steps after the end of each series)
    .evaluate(frame) -> dict                   (the last H steps of each series, next to baselines)
    .save(dir) / Forecaster.load(dir)          (plain files: JSON + safetensors, never pickles)

Fit, forecast-first: validation for early stopping and the LR schedule is the last
``data.val_steps`` (default: the horizon) target steps of each series; then, with
``train.final_fit="refit"``, a fresh network is trained on every window of every series for the
number of epochs validation chose, with the same learning-rate schedule, and with scalers fitted
on all rows. No test part is held out inside ``fit``: held-out scores are the job of
``evaluate`` / ``backtest`` (CLI: ``lstmcast evaluate --holdout H``, ``lstmcast backtest``).
``data.val_fraction`` / ``data.test_fraction`` keep the split-by-fractions protocol of
benchmarks (no refit when a test part is held out).
"""

from __future__ import annotations

import dataclasses
import platform
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from lstmcast._version import __version__
from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.data.io import DataNote, as_pandas, infer_frequency
from lstmcast.data.layout import ChannelLayout
from lstmcast.data.prepare import (
    SeriesData,
    last_window,
    pad_left,
    resolve_columns,
    series_arrays,
)
from lstmcast.data.scaling import Scaler
from lstmcast.data.splits import SplitBounds, check_length
from lstmcast.defaults import resolve, season_for
from lstmcast.errors import ConfigError, DataError, NotFittedError
from lstmcast.forecast import Forecast
from lstmcast.inference import TrainedModel, WindowBatch
from lstmcast.models.ensemble import MedianEnsemble
from lstmcast.models.network import LSTMForecastNet
from lstmcast.persistence import load_model_dir, save_model_dir
from lstmcast.training.batches import TensorBatches, window_batches
from lstmcast.training.checkpoint import load_checkpoint
from lstmcast.training.loop import Callback, FitResult, fit_loop
from lstmcast.training.threads import threads_for

if TYPE_CHECKING:
    from lstmcast.runs import Run
    from lstmcast.training.distributed import DistributedContext

MIN_INPUT = 2  # observed rows a training window needs before its first target (the rest is padding)


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


@dataclass
class _Part:
    """One series prepared for training: scaled (and left-padded) values and its split."""

    key: str
    scaled: np.ndarray  # [n + pad, C] float32
    bounds: SplitBounds  # over the padded rows
    pad: int
    scaler: Scaler
    index: pd.Index  # the series' time index (unpadded)


class Forecaster:
    """An LSTM forecaster. Constructors store; ``fit`` computes and returns self.

    Learned state (after ``fit`` or ``load``) ends in ``_``: ``config_`` (the config with what
    ``fit`` inferred filled in: targets, input length, patches), ``network_``, ``scalers_`` (one per
    series), ``layout_`` (the channel order), ``meta_`` (frequency, training ranges, ...),
    ``history_`` and ``validation_`` (scores on the validation windows, next to baselines).
    The ``config`` given is never changed.
    """

    def __init__(self, config: ForecastConfig | None = None, *, data: DataConfig | None = None,
                 model: ModelConfig | None = None, train: TrainConfig | None = None) -> None:
        config = config or ForecastConfig()
        if not isinstance(config, ForecastConfig):
            raise ConfigError(f"config must be a ForecastConfig; got {type(config).__name__}.")
        changes = {k: v for k, v in (("data", data), ("model", model), ("train", train)) if v is not None}
        self.config = dataclasses.replace(config, **changes) if changes else config

    # ------------------------------------------------------------------ scikit-learn protocol
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters (``sklearn.base.clone`` support)."""
        return {"config": self.config}

    def set_params(self, **params: Any) -> Forecaster:
        unknown = set(params) - {"config", "data", "model", "train"}
        if unknown:
            raise ConfigError(f"Unknown parameter(s) {sorted(unknown)}; Forecaster takes config, data, model, train.")
        config = params.pop("config", self.config)
        self.__init__(config, **params)  # type: ignore[misc]
        return self

    # ------------------------------------------------------------------ learned state
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError("This Forecaster is not fitted yet; call fit(frame) or Forecaster.load(dir) first.")

    @property
    def model_(self) -> TrainedModel:
        """The trained model as an object (network, layout, scalers, frequency): every forecast
        of this forecaster goes through it."""
        self._check_fitted()
        return TrainedModel(self.network_, self.layout_, self.scalers_, self.config_.data,
                            self.meta_.get("frequency"), self.quantile_levels)

    @property
    def channels(self) -> list[str]:
        """Input channels in network order: targets, past covariates, future covariates, calendar."""
        self._check_fitted()
        return list(self.layout_.channels)

    @property
    def n_future(self) -> int:
        self._check_fitted()
        return self.layout_.n_future

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        return _levels(getattr(self, "config_", self.config).model)

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, *, callbacks: Sequence[Callback] = (), checkpoint: str | Path | None = None,
            resume: str | Path | None = None, source: str = "the training data",
            distributed: DistributedContext | None = None,
            bounds_fn: Callable[[int], SplitBounds] | None = None, run: Run | None = None) -> Forecaster:
        """Train on ``frame`` (time-ordered; one series, or many with ``data.series_col``).

        The model learns from every row (see the module docstring for the protocol). Series too
        short for one window are padded on the left; series with fewer than ``horizon + 2`` rows
        are left out of training with one warning (they still get forecasts).

        ``distributed`` (from :func:`lstmcast.training.distributed.init_distributed`, under
        torchrun) trains data-parallel: this process takes its share of every global batch of
        ``train.batch_size`` windows; only rank 0 writes the checkpoint.

        ``bounds_fn(n_rows) -> SplitBounds`` replaces the protocol with explicit row bounds per
        series (e.g. the last 48 rows of every series for validation, as in M4); no refit.

        ``run`` (a :class:`lstmcast.runs.Run`) checkpoints into the run's directory and, resumed,
        continues it after checking that the config and the data are those it started with.
        """
        frame = as_pandas(frame, source)
        if run is not None:
            checkpoint, resume = run.bind(self.config, frame)
        t = self.config.train
        device = resolve_device(t.device)
        threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
        try:
            if device.type == "cpu":
                torch.set_num_threads(1 if t.deterministic and not t.threads else threads_for(self.config.model, t))
            if t.deterministic:
                torch.use_deterministic_algorithms(True)
            return self._fit(frame, callbacks, checkpoint, resume, source, distributed, bounds_fn, device)
        finally:  # leave the process's torch settings as they were
            torch.set_num_threads(threads)
            if t.deterministic:  # the setter imports torch._inductor and torch._dynamo (~1 CPU-s)
                torch.use_deterministic_algorithms(deterministic)

    def _fit(self, frame: pd.DataFrame, callbacks: Sequence[Callback], checkpoint: str | Path | None,
             resume: str | Path | None, source: str, distributed: DistributedContext | None,
             bounds_fn: Callable[[int], SplitBounds] | None, device: torch.device) -> Forecaster:
        started = time.perf_counter()
        data = resolve_columns(frame, self.config.data)  # target inferred; unique_id/ds/y recognised
        series, layout = series_arrays(frame, data, None, source, data.targets)
        frequency = infer_frequency(series[0].index)
        lengths = [len(s.values) for s in series]
        if distributed is not None:  # scaleout: series-sharded data -> every rank's lengths, one network
            lengths = distributed.lengths(lengths)
        config = resolve(dataclasses.replace(self.config, data=data), frequency, lengths)
        d, m, t = config.data, config.model, config.train
        trainable, skipped = self._trainable(series, d, bounds_fn)
        parts = [self._part(s, d, bounds_fn, holdout=True) for s in trainable]
        refit = (t.final_fit == "refit" and bounds_fn is None and d.test_fraction == 0
                 and any(p.bounds.val_end > p.bounds.train_end for p in parts))
        final = [self._part(s, d, None, holdout=False) for s in trainable] if refit else parts
        members, results, validated = [], [], []
        for k in range(m.ensemble):
            seed = t.seed + k
            torch.manual_seed(seed)
            net = LSTMForecastNet(layout.n_channels, layout.n_targets, layout.n_future, d.horizon, m).to(device)
            member_train = dataclasses.replace(t, seed=seed)
            first = k == 0
            result, batches = self._train(net, parts, d, member_train, callbacks, device, distributed,
                                          checkpoint if first else None, resume if first else None)
            if first:
                n_windows = {part: len(b) for part, b in batches.items()}
            validated.append(net.eval())
            if refit:
                torch.manual_seed(seed)
                net = LSTMForecastNet(layout.n_channels, layout.n_targets, layout.n_future, d.horizon, m).to(device)
                epochs = max(result.best_epoch, 1)
                rates = [r.learning_rate for r in result.history[:epochs]]
                refit_train = dataclasses.replace(member_train, max_epochs=epochs, patience=0, time_budget=0.0)
                final_result, final_batches = self._train(net, final, d, refit_train, [_Schedule(rates)], device,
                                                          distributed, None, None)
                result.events.append(f"refit on all {len(final_batches['train'])} windows for {epochs} epochs "
                                     "(the epoch count validation chose), scalers fitted on every row")
                result.seconds += final_result.seconds
                if first:
                    n_windows["final"] = len(final_batches["train"])
            members.append(net.eval())
            results.append(result)
        # scores and conformal factors of the validated model (the ensemble's median) on windows its
        # weights never saw; the factors carry over to the final weights (each member's spread)
        judged = validated[0] if len(validated) == 1 else MedianEnsemble(validated).eval()
        validation = self._validation_scores(judged, parts, layout, d, frequency, series)
        factor = self._conformal_factor(judged, parts, layout, d) if m.conformal else None
        calibration = None
        if m.conformal and factor is not None:
            with torch.no_grad():
                for member in members:
                    member.head.spread.mul_(factor.to(member.head.spread.device, member.head.spread.dtype))
            calibration = {"part": "val", "windows": n_windows.get("val", 0),
                           "mean_spread": float(members[0].head.spread.mean()),
                           **({"members": len(members), "note": "the ensemble's median was calibrated; each "
                               "member's spread carries the factors"} if len(members) > 1 else {})}
        self.network_ = members[0] if len(members) == 1 else MedianEnsemble(members).eval()
        self.config_, self.layout_ = config, layout
        self.scalers_ = {p.key: p.scaler for p in final}
        self.history_: FitResult | None = results[0]
        self.validation_ = validation
        if skipped:
            warnings.warn(_skipped_message(skipped, len(trainable), d), DataNote, stacklevel=3)
        self.meta_ = {
            "frequency": frequency,
            "season": season_for(frequency),
            "layout": layout.to_dict(),
            "calendar": list(layout.calendar),
            "channels": list(layout.channels),
            "series": [s.key for s in series],
            "skipped_series": skipped,
            "ranges": {p.key: _ranges(s.index, p) for p, s in zip(parts, trainable, strict=True)},
            "final_fit": "refit on all rows" if refit else "the validated weights",
            "n_windows": n_windows,
            "refit": refit,
            "ensemble": [{"seed": t.seed + k, "best_epoch": r.best_epoch, "epochs": len(r.history)}
                         for k, r in enumerate(results)],
            "validation": validation,
            **({"calibration": calibration} if calibration else {}),
            "val_windows_scored": results[0].val_windows,  # the fixed validation sample (train.val_windows)
            "train_seconds": round(time.perf_counter() - started, 3),
            "device": str(device),
            "threads": torch.get_num_threads(),
        }
        return self

    def _trainable(self, series: list[SeriesData], d: DataConfig,
                   bounds_fn: Callable[[int], SplitBounds] | None) -> tuple[list[SeriesData], list[str]]:
        """Series long enough to learn from, and the keys of those left out."""
        if bounds_fn is not None or d.uses_fractions:
            return series, []  # benchmark protocols: every series must fit (checked in _part)
        keep = [s for s in series if len(s.values) >= d.horizon + MIN_INPUT]
        skipped = [s.key for s in series if len(s.values) < d.horizon + MIN_INPUT]
        if not keep:
            raise DataError(
                f"Every series is too short to learn from: a training window needs horizon={d.horizon} target "
                f"rows plus at least {MIN_INPUT} input rows, and the longest series has "
                f"{max(len(s.values) for s in series)}. Use a smaller data.horizon or longer series."
            )
        return keep, skipped

    def _part(self, s: SeriesData, d: DataConfig, bounds_fn: Callable[[int], SplitBounds] | None,
              holdout: bool) -> _Part:
        """Scale one series (scaler fitted on its training rows only) and split it."""
        L, H, n = d.input_length, d.horizon, len(s.values)
        if bounds_fn is not None or d.uses_fractions:
            if bounds_fn is None:
                bounds = check_length(n, L, H, d.val_fraction, d.test_fraction, what=s.label)
                if not holdout:  # the refit after validation: every row trains
                    bounds = SplitBounds(n, n, n)
            else:
                bounds = bounds_fn(n)
                if not len(bounds.target_starts("train", L, H)):
                    raise DataError(
                        f"{s.label} has {n} rows and bounds_fn leaves rows 0..{bounds.train_end - 1} for "
                        f"training: no window of input_length={L} + horizon={H} fits. Give it more training "
                        "rows or use smaller data.input_length / data.horizon."
                    )
            scaler = Scaler(d.scaler).fit(s.values[: bounds.train_end])
            return _Part(s.key, scaler.transform(s.values).astype(np.float32), bounds, 0, scaler, s.index)
        # forecast-first: the last val_steps targets validate, when the series can spare them
        val = d.validation_steps if holdout and n - d.validation_steps >= H + MIN_INPUT else 0
        pad = min(max(0, L + H + val - n), max(L - MIN_INPUT, 0))
        scaler = Scaler(d.scaler).fit(s.values[: n - val])
        scaled, _ = pad_left(scaler.transform(s.values).astype(np.float32), n + pad)
        rows = n + pad
        return _Part(s.key, scaled, SplitBounds(rows, rows - val, rows), pad, scaler, s.index)

    def _train(self, net: torch.nn.Module, parts: list[_Part], d: DataConfig, t: TrainConfig,
               callbacks: Sequence[Callback], device: torch.device, distributed: DistributedContext | None,
               checkpoint: str | Path | None, resume: str | Path | None) -> tuple[FitResult, dict[str, TensorBatches]]:
        L, H = d.input_length, d.horizon
        n_targets, n_future = net.n_targets, net.n_future
        starts: dict[str, list[np.ndarray]] = {"train": [], "val": []}
        offset = 0
        for p in parts:
            for part in starts:
                starts[part].append(np.asarray(p.bounds.target_starts(part, L, H)) + offset)
            offset += len(p.scaled)
        values = torch.from_numpy(np.concatenate([p.scaled for p in parts])).to(device)  # [T_total, C]
        batches = {part: window_batches(values, np.concatenate(idx).astype(np.int64), L, H, n_targets, n_future,
                                        device) for part, idx in starts.items()}
        if not len(batches["train"]):
            raise DataError(f"No training window of input_length={L} + horizon={H} fits the data; use a smaller "
                            "data.input_length / data.horizon or longer series.")
        batches["train"].per_epoch = t.epoch_windows
        ckpt_path = Path(checkpoint) if checkpoint is not None else None
        resume_state = load_checkpoint(Path(resume)) if resume is not None else None
        loop_parts = (lambda b: net.loss(*b), batches["train"], batches["val"] if len(batches["val"]) else None, None)
        if distributed is not None:  # this process's share of every batch; DDP averages gradients
            loop_parts = distributed.prepare(net, *loop_parts[:3])
            ckpt_path = ckpt_path if distributed.is_main else None
        loss_fn, train_b, val_b, sync = loop_parts
        result = fit_loop(net, loss_fn, train_b, val_b, t, callbacks, checkpoint=ckpt_path, resume=resume_state,
                          sync=sync)
        return result, batches

    def _val_windows(self, parts: list[_Part], layout: ChannelLayout, d: DataConfig) -> WindowBatch | None:
        """The validation windows of the parts (scaled inputs, truth in original units)."""
        L, H = d.input_length, d.horizon
        xs, fs, ys, hs, offs, scs, keys, origins, times = [], [], [], [], [], [], [], [], []
        for p in parts:
            for start in p.bounds.target_starts("val", L, H):
                origins.append(p.index[start - p.pad - 1])
                times.append(p.index[start - p.pad : start - p.pad + H])
                raw = p.scaler.inverse_transform(p.scaled[start - L : start + H].astype(np.float64))
                xs.append(p.scaled[start - L : start])
                if layout.n_future:
                    fs.append(p.scaled[start : start + H, layout.n_known :])
                ys.append(raw[L:, : layout.n_targets])
                hs.append(raw[:L, : layout.n_targets])
                offs.append(p.scaler.offset_[: layout.n_targets])
                scs.append(p.scaler.scale_[: layout.n_targets])
                keys.append(p.key)
        if not xs:
            return None
        return WindowBatch(np.stack(xs), np.stack(fs) if fs else None, np.stack(ys), np.stack(hs),
                           np.stack(offs), np.stack(scs), keys, origins, times)

    def _validation_scores(self, net: torch.nn.Module, parts: list[_Part], layout: ChannelLayout, d: DataConfig,
                           frequency: str | None, series: list[SeriesData]) -> dict[str, Any] | None:
        """The validated model on the validation windows, next to naive and seasonal naive; the
        forecasts themselves are kept as ``validation_forecast_`` (for the forecast plot)."""
        from lstmcast.evaluation.scoring import score_windows

        self.validation_forecast_: Forecast | None = None
        w = self._val_windows(parts, layout, d)
        if w is None:
            return None
        model = TrainedModel(net.eval(), layout, {}, d, frequency, _levels(self.config.model))
        mean, quants = model.forecast_windows(w)
        self.validation_forecast_ = model.to_forecast(mean, quants, list(zip(w.series, w.times, strict=True)),
                                                      truth=w.truth, origins=w.origins)
        histories = {s.key: s.values[:, : layout.n_targets] for s in series}
        w.history = _history_block(w, histories, d, season_for(frequency))
        return score_windows(w, mean, quants, _levels(self.config.model), season_for(frequency),
                             list(layout.targets))

    def _conformal_factor(self, net: torch.nn.Module, parts: list[_Part], layout: ChannelLayout,
                          d: DataConfig) -> torch.Tensor | None:
        from lstmcast.models.heads import conformal_spread

        w = self._val_windows(parts, layout, d)
        if w is None:
            return None
        levels = _levels(self.config.model)
        model = TrainedModel(net.eval(), layout, {}, d, None, levels)
        mean, quants = model.forecast_windows(w)
        return conformal_spread(net.head, torch.from_numpy(mean), torch.from_numpy(quants),
                                torch.from_numpy(np.ascontiguousarray(w.truth)), levels)

    def calibrate(self, frame: pd.DataFrame, part: str = "val", source: str = "the data",
                  bounds_fn: Callable[[int], SplitBounds] | None = None) -> Forecaster:
        """Split-conformal calibration of the prediction intervals on ``part`` of ``frame``
        (windows the weights have not seen): rescales the head's spread so each central
        interval covers its nominal share of those windows."""
        from lstmcast.models.heads import conformal_spread

        self._check_fitted()
        if not self.quantile_levels:
            raise ConfigError("calibrate() needs a probabilistic head (model.head=gaussian or quantile).")
        model = self.model_
        w = model.windows(frame, part, source, bounds_fn=bounds_fn or self._default_bounds(part))
        mean, quants = model.forecast_windows(w)
        head = self.network_.head
        factor = conformal_spread(head, torch.from_numpy(mean), torch.from_numpy(quants),
                                  torch.from_numpy(np.ascontiguousarray(w.truth)), self.quantile_levels)
        members = self.network_.members if isinstance(self.network_, MedianEnsemble) else [self.network_]
        with torch.no_grad():
            for member in members:
                member.head.spread.mul_(factor.to(member.head.spread.device, member.head.spread.dtype))
        self.meta_["calibration"] = {"part": part, "windows": len(w.truth), "mean_spread": float(head.spread.mean())}
        return self

    def _default_bounds(self, part: str) -> Callable[[int], SplitBounds] | None:
        """Without fractions, ``val`` / ``test`` mean the last H rows of each series."""
        d = self.config_.data
        if d.uses_fractions or part not in ("val", "test"):
            return None
        H = d.horizon
        return lambda n: SplitBounds(n, n - H, n) if part == "val" else SplitBounds(n, n - H, n - H)

    # ------------------------------------------------------------------ predict and score
    def predict(self, frame: pd.DataFrame, future: pd.DataFrame | None = None, source: str = "the data",
                horizon: int | None = None) -> Forecast:
        """Forecast ``horizon`` steps (default: the trained horizon) after the end of each series.
        ``frame`` and ``future`` may be pandas or polars DataFrames or pyarrow Tables."""
        future = as_pandas(future, "the future covariates") if future is not None else None
        return self.model_.predict(as_pandas(frame, source), future=future, horizon=horizon, source=source)

    def windows(self, frame: pd.DataFrame, part: str = "test", source: str = "the data",
                bounds_fn: Callable[[int], SplitBounds] | None = None) -> WindowBatch:
        """Every stride-1 window whose targets lie in ``part`` (train | val | test | all) of each
        series; without fractions ``val``/``test`` are the last H rows of each series."""
        return self.model_.windows(frame, part, source, bounds_fn=bounds_fn or self._default_bounds(part))

    def historical_forecasts(self, frame: pd.DataFrame, part: str = "test", source: str = "the data") -> Forecast:
        """Forecasts from every origin of ``part`` of ``frame``, with the ``actual`` values."""
        model = self.model_
        w = self.windows(frame, part, source)
        mean, quants = model.forecast_windows(w)
        return model.to_forecast(mean, quants, list(zip(w.series, w.times, strict=True)), truth=w.truth,
                                 origins=w.origins)

    def evaluate(self, frame: pd.DataFrame, part: str = "test", source: str = "the data",
                 season: int | None = None) -> dict[str, Any]:
        """Score the model on ``part`` of ``frame`` next to the naive and seasonal-naive baselines.

        Without fractions, ``test`` is the last ``horizon`` rows of each series, forecast from the
        rows before them (series shorter than a window are padded): the model must not have been
        trained on them (``lstmcast evaluate --holdout H`` trains on the rest first). Metrics are
        in original units, averaged over windows, steps and targets.
        """
        from lstmcast.evaluation.scoring import score_windows

        model = self.model_
        season = season or season_for(self.meta_.get("frequency"))
        if self.config_.data.uses_fractions or part not in ("test", "val"):
            w = self.windows(frame, part, source)
        else:
            w = self._holdout_windows(frame, source, season)
        mean, quants = model.forecast_windows(w)
        return score_windows(w, mean, quants, self.quantile_levels, season, list(self.layout_.targets))

    def _holdout_windows(self, frame: pd.DataFrame, source: str, season: int) -> WindowBatch:
        """One window per series: the rows before its last H as input, the last H as truth."""
        model, d = self.model_, self.config_.data
        L, H, lay = d.input_length, d.horizon, self.layout_
        xs, fs, ys, hs, offs, scs, keys, origins, times = [], [], [], [], [], [], [], [], []
        for s in model.prepare(frame, source):
            if len(s.values) <= H:
                continue
            past = SeriesData(s.key, s.index[:-H], s.values[:-H])
            scaler = model.scaler(past)
            window, _ = last_window(past, L)
            xs.append(scaler.transform(window))
            if lay.n_future:
                fs.append(scaler.transform(s.values[-H:])[:, lay.n_known :])
            ys.append(s.values[-H:, : lay.n_targets])
            hist, _ = pad_left(past.values[-max(L, 2 * season) :, : lay.n_targets], max(L, 2 * season))
            hs.append(hist)
            offs.append(scaler.offset_[: lay.n_targets])
            scs.append(scaler.scale_[: lay.n_targets])
            keys.append(s.key)
            origins.append(past.index[-1])
            times.append(s.index[-H:])
        if not xs:
            raise DataError(f"{source[:1].upper() + source[1:]} has no series longer than the horizon "
                            f"({H} rows) to score.")
        return WindowBatch(np.stack(xs), np.stack(fs) if fs else None, np.stack(ys), np.stack(hs), np.stack(offs),
                           np.stack(scs), keys, origins, times)

    def backtest(self, frame: pd.DataFrame, folds: int = 3, step: int | None = None, refit: bool = True,
                 *, season: int | None = None, callbacks: Sequence[Callback] = (),
                 source: str = "the data") -> Any:
        """Rolling-origin backtest of this forecaster's config on ``frame``: ``folds`` origins at
        the end of each series, ``step`` rows apart (default: the horizon); each fold trains only
        on rows before its origin. Returns a :class:`lstmcast.evaluation.backtest.BacktestResult`;
        this forecaster itself is not fitted by it. See :mod:`lstmcast.evaluation.backtest`."""
        from lstmcast.evaluation.backtest import backtest

        return backtest(self.config, frame, folds, step, refit, season=season, callbacks=callbacks,
                        source=source)

    # ------------------------------------------------------------------ introspection
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
        if part == "test" and not self.config_.data.uses_fractions:
            part = "all"  # no test part: the last windows of the data
        w = self.windows(frame, part, source)
        network = self.network_.members[0] if isinstance(self.network_, MedianEnsemble) else self.network_
        device = next(network.parameters()).device
        x = torch.as_tensor(np.ascontiguousarray(w.x[-windows:]), dtype=torch.float32, device=device)
        fut = (torch.as_tensor(np.ascontiguousarray(w.future[-windows:]), dtype=torch.float32, device=device)
               if w.future is not None else None)
        trace = record_network(network, x, fut)
        paths = write_trace_plots(trace, out) if out is not None else {}
        attention = _attention_weights(network, x, fut)
        if attention is not None and out is not None:
            from lstmcast.plotting import plot_attention

            path = Path(out) / "attention.png"
            plot_attention(attention, path)
            paths["attention"] = str(path)
        return Inspection(trace, trace.to_frame(), paths, attention)

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path, extras: dict[str, Callable[[Path], None]] | None = None,
             metrics: dict[str, Any] | None = None, run: dict[str, Any] | None = None) -> Path:
        """Write the model directory atomically: a crash mid-save leaves any previous model intact.

        Files: config.json (the resolved config), scaler.json, weights.safetensors, meta.json
        (versions, layout, frequency, training range, file hashes), history.csv, metrics.json;
        ``extras`` maps further file names to writer functions (plots).
        """
        from lstmcast._json import jsonable

        self._check_fitted()
        history = getattr(self, "history_", None)
        writers = dict(extras or {})
        if history is not None and history.history:
            rows = history.history_rows()
            writers["history.csv"] = lambda p: pd.DataFrame(rows).to_csv(p, index=False)
        if metrics is not None:
            import json

            writers["metrics.json"] = lambda p: p.write_text(json.dumps(jsonable(metrics), indent=2), encoding="utf-8")
        meta = {
            "lstmcast_version": __version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            **self.meta_,
            "layout": self.layout_.to_dict(),
            "stop_reason": getattr(history, "stop_reason", None),
            "best_epoch": getattr(history, "best_epoch", None),
            "events": getattr(history, "events", []),
            "run": _run_manifest(self, metrics, run),
        }
        meta.pop("sha256", None)
        meta.pop("format_version", None)
        return save_model_dir(path, self.config_, self.scalers_, self.network_, meta, writers)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Forecaster:
        """Rebuild from config + strict ``load_state_dict``; refuses missing or modified files.

        ``device`` places the network (default: the training config's device). Model directories
        of format 1 load too (their config is read with the old key names)."""
        from lstmcast.errors import ModelFileError

        files = load_model_dir(path)
        config, meta = files.config, files.meta
        self = cls(config)
        self.config_ = config
        self.meta_ = meta
        self.scalers_ = files.scalers
        d = config.data
        try:
            self.layout_ = (ChannelLayout.from_dict(meta["layout"]) if "layout" in meta else
                            ChannelLayout(d.targets, d.features, d.future_features, tuple(meta.get("calendar") or ())))
            lay = self.layout_
            k = config.model.ensemble
            nets = [LSTMForecastNet(lay.n_channels, lay.n_targets, lay.n_future, d.horizon, config.model)
                    for _ in range(k)]
            net: torch.nn.Module = nets[0] if k == 1 else MedianEnsemble(nets)
            net.load_state_dict(files.state, strict=True)
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{Path(path) / 'weights.safetensors'} does not fit the saved config: "
                                 f"{str(exc).splitlines()[0]}") from exc
        self.network_ = net.to(resolve_device(device or config.train.device)).eval()
        self.history_ = None
        self.validation_ = meta.get("validation")
        self.validation_forecast_ = None
        return self


class _Schedule(Callback):
    """Replays a learning-rate schedule, one rate per epoch (the refit follows validation's)."""

    def __init__(self, rates: list[float]) -> None:
        self.rates = rates

    def on_fit_start(self, state: Any) -> None:
        self._set(state, 0)

    def on_epoch_end(self, state: Any, record: Any) -> None:
        self._set(state, record.epoch)

    def _set(self, state: Any, epoch: int) -> None:
        if epoch < len(self.rates):
            state.optimizer.lr = self.rates[epoch]


# ---------------------------------------------------------------------- module helpers
def _levels(model: ModelConfig) -> tuple[float, ...]:
    """The quantile levels a model config forecasts (none for the point head)."""
    return () if model.head == "point" else model.quantiles


def _history_block(w: WindowBatch, histories: dict[str, np.ndarray], d: DataConfig, season: int) -> np.ndarray:
    """For baselines: the rows before each validation window's targets, [N, max(L, 2 m), T]."""
    need = max(d.input_length, 2 * season)
    out = []
    for key, truth in zip(w.series, w.truth, strict=True):
        values = histories[key]
        end = len(values) - len(truth)
        block, _ = pad_left(values[max(0, end - need) : end], need)
        out.append(block)
    return np.stack(out)


def _attention_weights(network: torch.nn.Module, x: torch.Tensor, future: torch.Tensor | None) -> np.ndarray | None:
    """Weights [B', L'] the attention layer puts on each LSTM output (None without attention)."""
    layer = network.attention
    if layer is None:
        return None
    captured = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out[1]))
    try:
        with torch.no_grad():
            network(x, future)
    finally:
        handle.remove()
    return torch.cat(captured).squeeze(1).cpu().numpy()  # [B', 1, L'] -> [B', L']


def _ranges(index: pd.Index, part: _Part) -> dict[str, list[str]]:
    """Time spans of the training, validation and test rows of one series (padding excluded)."""
    b, pad = part.bounds, part.pad

    def span(lo: int, hi: int) -> list[str]:
        lo, hi = max(lo - pad, 0), max(hi - pad, 0)
        return [str(index[lo]), str(index[hi - 1])] if hi > lo else []

    return {"train": span(0, b.train_end), "val": span(b.train_end, b.val_end), "test": span(b.val_end, b.n_rows)}


def _skipped_message(skipped: list[str], kept: int, d: DataConfig) -> str:
    shown = ", ".join(repr(k) for k in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    return (f"{len(skipped)} series with fewer than horizon + {MIN_INPUT} = {d.horizon + MIN_INPUT} rows were left "
            f"out of training ({shown}); the model learned from the other {kept}. They are still forecast "
            "(scaled by their own history, padded on the left).")


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
