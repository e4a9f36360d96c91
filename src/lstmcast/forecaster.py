"""Forecaster: config in, ``fit(frame) -> self``, then predict / evaluate / save.

    Forecaster(config).fit(frame) -> self      (learns from the whole history of every series)
    .predict(frame, horizon=None) -> Forecast  (the steps after the end of each series)
    .evaluate(frame) -> dict                   (the last H steps of each series, next to baselines)
    .save(dir) / Forecaster.load(dir)          (plain files: JSON + safetensors, never pickles)

Fit, forecast-first: validation for early stopping and the LR schedule is the last
``data.val_steps`` (default: the horizon) target steps of each series; then, with
``train.final_fit="continue"`` (the default), the validated network is trained on every window of
every series, with scalers fitted on all rows, for a quarter of the epochs validation chose more
(``"refit"``: a fresh network for all of them, replaying the learning-rate schedule). No test part is held out inside ``fit``: held-out scores are the job of
``evaluate`` / ``backtest`` (CLI: ``lstmcast evaluate --holdout H``, ``lstmcast backtest``).
``data.val_fraction`` / ``data.test_fraction`` keep the split-by-fractions protocol of
benchmarks (no final phase when a test part is held out).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmcast._json import jsonable
from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.data.io import DataNote, as_pandas, infer_frequency
from lstmcast.data.layout import ChannelLayout
from lstmcast.data.prepare import SeriesData, resolve_columns, series_arrays
from lstmcast.data.splits import SplitBounds
from lstmcast.defaults import resolve, season_for, strength_sums
from lstmcast.errors import ConfigError, ModelFileError, NotFittedError
from lstmcast.fitting import combination
from lstmcast.fitting.device import resolve_device, torch_settings
from lstmcast.fitting.meta import fit_meta, saved_meta
from lstmcast.fitting.parts import (
    MIN_INPUT,
    prepare_part,
    skipped_message,
    trainable_series,
)
from lstmcast.fitting.train import FitPlan, Members, RunOptions, fit_members, make_network
from lstmcast.fitting.validation import (
    conformal_factor,
    scale_spread,
    validation_scores,
    validation_windows,
)
from lstmcast.forecast import Forecast
from lstmcast.inference import TrainedModel, WindowBatch
from lstmcast.models.encoders import gated_encoder
from lstmcast.models.ensemble import MedianEnsemble, members_of
from lstmcast.models.heads import head_levels, head_of
from lstmcast.persistence import load_model_dir, save_model_dir
from lstmcast.scoring.windows import score_windows
from lstmcast.training.loop import Callback, FitResult

if TYPE_CHECKING:
    from lstmcast.runs import Run
    from lstmcast.training.distributed import DistributedContext

__all__ = ["MIN_INPUT", "Forecaster", "resolve_device"]


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
        if data is not None or model is not None or train is not None:
            config = dataclasses.replace(config, data=data or config.data, model=model or config.model,
                                         train=train or config.train)
        self.config = config

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
                            self.meta_.get("frequency"), self.quantile_levels,
                            theta_weight=float(self.config_.model.theta_weight or 0.0),
                            theta_season=int(self.meta_.get("season") or 1),
                            ets_weight=float(self.config_.model.ets_weight or 0.0))

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
        return head_levels(getattr(self, "config_", self.config).model)

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
        device = resolve_device(self.config.train.device)
        with torch_settings(self.config, device):  # the process's torch settings are restored after
            return self._fit(frame, RunOptions(device, callbacks, distributed, checkpoint, resume), source, bounds_fn)

    def _fit(self, frame: pd.DataFrame, run: RunOptions, source: str,
             bounds_fn: Callable[[int], SplitBounds] | None) -> Forecaster:
        started = time.perf_counter()
        data = resolve_columns(frame, self.config.data)  # target inferred; unique_id/ds/y recognised
        series, layout = series_arrays(frame, data, None, source, data.targets)
        frequency = infer_frequency(series[0].index)
        lengths = [len(s.values) for s in series]
        if run.distributed is not None:  # series-sharded data: every rank's lengths, so one network
            lengths = run.distributed.lengths(lengths)
        strength = _Strength([s.values[:, k] for s in series for k in range(len(data.targets))], data, run)
        config = resolve(dataclasses.replace(self.config, data=data), frequency, lengths, strength)
        d = config.data
        trainable, skipped = trainable_series(series, d, bounds_fn)
        parts = [prepare_part(s, d, bounds_fn, holdout=True) for s in trainable]
        refit = (config.train.final_fit != "none" and bounds_fn is None and d.test_fraction == 0
                 and any(p.bounds.val_end > p.bounds.train_end for p in parts))
        final = [prepare_part(s, d, None, holdout=False) for s in trainable] if refit else parts
        plan = FitPlan(config, layout, parts, final, refit, run)
        fitted = fit_members(plan)
        validation, calibration = self._validate(fitted, plan, frequency, series)
        config = combination.with_statistical_weights(config, self.theta_)
        self.network_: nn.Module = fitted.final[0] if len(fitted.final) == 1 else MedianEnsemble(fitted.final).eval()
        self.config_, self.layout_ = config, layout
        self.scalers_ = {p.key: p.scaler for p in final}
        self.history_: FitResult | None = fitted.results[0]
        self.validation_ = validation
        if skipped:
            warnings.warn(skipped_message(skipped, len(trainable), d), DataNote, stacklevel=3)
        self.meta_: dict[str, Any] = {
            **fit_meta(frequency=frequency, season=season_for(frequency), layout=layout,
                       series=[s.key for s in series], skipped=skipped, parts=parts, refit=refit,
                       final_fit=config.train.final_fit,
                       n_windows=fitted.n_windows, seed=config.train.seed, results=fitted.results,
                       validation=validation, calibration=calibration),
            "seasonal_strength": strength.measured,
            "theta": self.theta_,
            "train_seconds": round(time.perf_counter() - started, 3),
            "device": str(run.device),
            "threads": torch.get_num_threads(),
        }
        return self

    def _validate(self, fitted: Members, plan: FitPlan, frequency: str | None,
                  series: list[SeriesData]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Scores and conformal factors of the validated model (the ensemble's median) on windows
        its weights never saw; the factors carry over to the final weights (each member's spread)."""
        d, m, layout = plan.config.data, plan.config.model, plan.layout
        levels = head_levels(m)
        judged = fitted.validated[0] if len(fitted.validated) == 1 else MedianEnsemble(fitted.validated).eval()
        self.validation_forecast_: Forecast | None = None
        season = season_for(frequency)
        w = validation_windows(plan.parts, layout, d, combination.statistical_windows(m, d, season))
        self.theta_: dict[str, Any] = combination.statistical_choice(m, season, None, None)
        if w is None:
            return None, None
        validation, self.validation_forecast_, mean = validation_scores(judged, w, layout, d, frequency, series,
                                                                        levels, season)
        ctx = plan.run.distributed  # sharded data: each rank validates its own series
        self.theta_ = combination.statistical_choice(m, season, mean, w, ctx.sync if ctx is not None and ctx.sharded else None)
        if not m.conformal:
            return validation, None
        scale_spread(fitted.final, conformal_factor(judged, w, layout, d, levels))
        members = fitted.final
        calibration = {"part": "val", "windows": fitted.n_windows.get("val", 0),
                       "mean_spread": float(head_of(members[0]).spread.mean()),
                       **({"members": len(members), "note": "the ensemble's median was calibrated; each "
                           "member's spread carries the factors"} if len(members) > 1 else {})}
        return validation, calibration

    def calibrate(self, frame: pd.DataFrame, part: str = "val", source: str = "the data",
                  bounds_fn: Callable[[int], SplitBounds] | None = None) -> Forecaster:
        """Split-conformal calibration of the prediction intervals on ``part`` of ``frame``
        (windows the weights have not seen): rescales the head's spread so each central
        interval covers its nominal share of those windows."""
        self._check_fitted()
        if not self.quantile_levels:
            raise ConfigError("calibrate() needs a probabilistic head (model.head=gaussian or quantile).")
        w = self.windows(frame, part, source, bounds_fn)
        factor = conformal_factor(self.network_, w, self.layout_, self.config_.data, self.quantile_levels)
        scale_spread(members_of(self.network_), factor)
        self.meta_["calibration"] = {"part": part, "windows": len(w.truth),
                                     "mean_spread": float(head_of(self.network_).spread.mean())}
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
        model = self.model_
        season = season or season_for(self.meta_.get("frequency"))
        if self.config_.data.uses_fractions or part not in ("test", "val"):
            w = self.windows(frame, part, source)
        else:
            w = model.holdout_windows(frame, season, source)
        mean, quants = model.forecast_windows(w)
        return score_windows(w, mean, quants, self.quantile_levels, season, list(self.layout_.targets))

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
        from lstmcast.lstm.inspection import (
            inspect_forecaster,  # the teaching package, at call time only
        )

        return inspect_forecaster(self, frame, part, windows, out, source)

    def gated_network(self, what: str = "Introspection") -> nn.Module:
        """The network whose LSTM gates introspection records (an ensemble's first member); a
        ConfigError for a model whose encoder has no gates (``model.encoder='gru'``)."""
        self._check_fitted()
        network = members_of(self.network_)[0]
        gated_encoder(network, what)
        return network

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path, extras: dict[str, Callable[[Path], None]] | None = None,
             metrics: dict[str, Any] | None = None, run: dict[str, Any] | None = None) -> Path:
        """Write the model directory atomically: a crash mid-save leaves any previous model intact.

        Files: config.json (the resolved config), scaler.json, weights.safetensors, meta.json
        (versions, layout, frequency, training range, file hashes), history.csv, metrics.json;
        ``extras`` maps further file names to writer functions (plots).
        """
        self._check_fitted()
        history = getattr(self, "history_", None)
        writers = dict(extras or {})
        if history is not None and history.history:
            rows = history.history_rows()
            writers["history.csv"] = lambda p: pd.DataFrame(rows).to_csv(p, index=False)
        if metrics is not None:
            text = json.dumps(jsonable(metrics), indent=2)
            writers["metrics.json"] = lambda p: _write_text(p, text)
        meta = saved_meta(self.meta_, self.layout_, history, metrics, run)
        return save_model_dir(path, self.config_, self.scalers_, self.network_, meta, writers)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Forecaster:
        """Rebuild from config + strict ``load_state_dict``; refuses missing or modified files.

        ``device`` places the network (default: the training config's device). Model directories
        of format 1 load too (their config is read with the old key names)."""
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
            net = make_network(self.layout_, d.horizon, config.model, config.model.ensemble)
            net.load_state_dict(files.state, strict=True)
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{Path(path) / 'weights.safetensors'} does not fit the saved config: "
                                 f"{str(exc).splitlines()[0]}") from exc
        self.network_ = net.to(resolve_device(device or config.train.device)).eval()
        self.history_ = None
        self.validation_ = meta.get("validation")
        self.validation_forecast_ = None
        return self


class _Strength:
    """The seasonal strength at a period over every target of every series (every rank's, with
    sharded data); :attr:`measured` keeps each value asked for (the fit's meta)."""

    def __init__(self, histories: list[np.ndarray], data: DataConfig, run: RunOptions) -> None:
        self.histories, self.data, self.run = histories, data, run
        self.measured: dict[str, float | None] = {}

    def __call__(self, period: int) -> float:
        sums = strength_sums(self.histories, self.data.horizon, period, skip_last=self.data.validation_steps)
        if self.run.distributed is not None and self.run.distributed.sharded:
            every = self.run.distributed.gather(sums)
            sums = (float(sum(p[0] for p in every)), float(sum(p[1] for p in every)))
        ratio = sums[0] / sums[1] if sums[1] > 0 else math.inf
        self.measured[str(period)] = round(ratio, 4) if math.isfinite(ratio) else None
        return ratio


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
