"""The trained model as an object: network + channel layout + scalers + frequency.

Every forecast of a trained model goes through :class:`TrainedModel`: ``Forecaster.predict``,
evaluation and backtests, the HTTP service and the export parity check (which compares each
exported graph against :meth:`TrainedModel.predict_windows`). What a model directory holds
(GluonTS' Predictor idea).

Symbols: B windows, L input_length, C channels, H horizon (the trained one), Kf known-future
channels, T targets, Q quantile levels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmcast.config import DataConfig
from lstmcast.data.io import future_index
from lstmcast.data.layout import ChannelLayout
from lstmcast.data.prepare import (
    SINGLE,
    SeriesData,
    future_block,
    last_window,
    pad_left,
    scaler_for,
    series_arrays,
)
from lstmcast.data.scaling import Scaler
from lstmcast.data.splits import SplitBounds, check_length
from lstmcast.data.windows import input_target_windows
from lstmcast.data.wording import cap
from lstmcast.errors import ConfigError, DataError
from lstmcast.forecast import Forecast, quantile_column
from lstmcast.models.heads import head_of
from lstmcast.scoring.statistical import HISTORY_WINDOWS, StatisticalPart
from lstmcast.training.threads import cpu_threads, inference_threads


@dataclass
class WindowBatch:
    """Windows of one or more series, ready for the network and for scoring.

    X [N, L, C] scaled inputs, future [N, H, Kf] scaled known-future covariates, truth [N, H, T]
    and history [N, L, T] in original units, offset/scale [N, T] of each window's series; stat
    {method: [N, H, T]} the statistical forecasts from the rows before each window's targets
    (where the model combines with them, :mod:`lstmcast.scoring.statistical`).
    """

    x: np.ndarray
    future: np.ndarray | None
    truth: np.ndarray
    history: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    series: list[str]
    origins: list[Any]
    times: list[pd.Index]
    stat: dict[str, np.ndarray] | None = None


@dataclass
class TrainedModel:
    """A fitted network with what it needs to forecast raw data.

    ``scalers`` maps each training series' key to its scaler; ``frequency`` is the training data's
    step (a pandas frequency string, or the integer step of undated data). ``theta_weight`` and
    ``ets_weight`` move every forecast toward the Theta method's and exponential smoothing's
    (season ``theta_season``, from the series' last :attr:`theta_rows` rows; :attr:`statistical`).
    """

    network: nn.Module
    layout: ChannelLayout
    scalers: Mapping[str, Scaler]
    data: DataConfig
    frequency: str | None
    quantile_levels: tuple[float, ...] = ()
    notes: list[str] = field(default_factory=list)
    theta_weight: float = 0.0
    theta_season: int = 1
    ets_weight: float = 0.0

    @property
    def input_length(self) -> int:
        if self.data.input_length is None:
            raise ConfigError("data.input_length is not resolved: a trained model's config always sets it.")
        return int(self.data.input_length)

    @property
    def horizon(self) -> int:
        return int(self.data.horizon)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @property
    def theta_rows(self) -> int:
        return HISTORY_WINDOWS * self.input_length

    @property
    def statistical(self) -> StatisticalPart | None:
        """The statistical part the forecasts combine with (None: the network alone)."""
        weights = {"theta": self.theta_weight, "ets": self.ets_weight}
        return StatisticalPart(weights, self.theta_season, self.theta_rows) if any(weights.values()) else None

    def statistical_forecasts(self, histories: Sequence[np.ndarray], steps: int) -> dict[str, np.ndarray] | None:
        """Each statistical method from each raw history ``[n_i, C]`` (targets first) -> ``[N, steps, T]``."""
        part, T = self.statistical, self.layout.n_targets
        return None if part is None else part.forecasts([h[:, :T] for h in histories], steps)

    def with_statistical(self, mean: np.ndarray, quants: np.ndarray | None,
                         stat: dict[str, np.ndarray] | None) -> tuple[np.ndarray, Any]:
        """mean [N, H', T] (+ quantiles [N, H', T, Q]) moved toward the statistical forecasts."""
        part = self.statistical
        if part is None:
            return mean, quants
        if stat is None:
            raise ConfigError("These windows lack the statistical forecasts the model combines with: use "
                              "TrainedModel.windows().")
        return part.apply(mean, quants, stat)

    # ------------------------------------------------------------------ arrays
    @torch.no_grad()
    def forward_scaled(self, x: np.ndarray, future: np.ndarray | None, offset: np.ndarray, scale: np.ndarray,
                       batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray | None]:
        """Scaled windows x [N, L, C] (+ future [N, H, Kf]) -> mean [N, H, T] and quantiles
        [N, H, T, Q] in original units. ``offset``/``scale`` [N, T] are each window's target
        scaling; the inverse scaling runs in float64 (a series around 1e6 with a range of 0.5
        keeps its shape)."""
        net, device, levels = self.network, self.device, self.quantile_levels
        means: list[np.ndarray] = []
        quants: list[np.ndarray] = []
        threads = inference_threads(net, min(len(x), batch_size)) if device.type == "cpu" else torch.get_num_threads()
        with cpu_threads(threads):
            for lo in range(0, len(x), batch_size):
                self._forward_batch(x[lo : lo + batch_size], None if future is None else future[lo : lo + batch_size],
                                    means, quants)
        off = np.asarray(offset, dtype=np.float64)[:, None, :]  # [N, 1, T]
        sc = np.asarray(scale, dtype=np.float64)[:, None, :]
        mean = np.concatenate(means) * sc + off  # [N, H, T]
        if not levels:
            return mean, None
        return mean, np.concatenate(quants) * sc[..., None] + off[..., None]  # [N, H, T, Q]

    def _forward_batch(self, x: np.ndarray, future: np.ndarray | None, means: list[np.ndarray],
                       quants: list[np.ndarray]) -> None:
        net, device, levels = self.network, self.device, self.quantile_levels
        xb = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device)
        fb = (torch.as_tensor(np.ascontiguousarray(future), dtype=torch.float32, device=device)
              if future is not None else None)
        params = net(xb, fb)  # [B, H, T, P] scaled units
        head = head_of(net)
        means.append(head.mean(params).double().cpu().numpy())
        q = head.quantiles(params, levels) if levels else None
        if q is not None:
            quants.append(q.double().cpu().numpy())

    def predict_windows(self, window: np.ndarray, future: np.ndarray | None, offset: np.ndarray,
                        scale: np.ndarray) -> list[np.ndarray]:
        """Raw windows -> the forecast, the reference every export is checked against.

        Inputs: window [B, L, C] raw, future [B, H, Kf] raw or None, offset/scale [B, C] (each
        row's scaler, float64). Outputs: [mean [B, H, T]] (+ [quantiles [B, H, T, Q]]).
        """
        lay = self.layout
        offset, scale = np.asarray(offset, np.float64), np.asarray(scale, np.float64)
        x = (np.asarray(window, np.float64) - offset[:, None]) / scale[:, None]  # [B, L, C]
        fut = None
        if lay.n_future:
            if future is None:
                raise DataError(f"This model needs the {lay.n_future} known-future channels for the horizon.")
            fut = (np.asarray(future, np.float64) - offset[:, None, lay.n_known :]) / scale[:, None, lay.n_known :]
        mean, quants = self.forward_scaled(x, fut, offset[:, : lay.n_targets], scale[:, : lay.n_targets])
        return [mean] if quants is None else [mean, quants]

    # ------------------------------------------------------------------ frames
    def prepare(self, frame: pd.DataFrame, source: str = "the data") -> list[SeriesData]:
        series, _ = series_arrays(frame, self.data, self.layout, source)
        return series

    def scaler(self, series: SeriesData) -> Scaler:
        return scaler_for(self.scalers, series.key, series.values, self.data.scaler)

    def predict(self, frame: pd.DataFrame, future: pd.DataFrame | None = None, horizon: int | None = None,
                source: str = "the data") -> Forecast:
        """Forecast ``horizon`` steps (default: the trained H) after the end of each series.

        A horizon above H rolls the model forward on its own mean forecasts (H steps at a time),
        which needs every input channel to be known in the future: targets, future covariates and
        calendar features (not past covariates). A series shorter than ``input_length`` is padded
        on the left with its first row. Both are stated in ``Forecast.notes``.
        """
        steps = self._check_horizon(horizon)
        notes: list[str] = []
        series = self.prepare(frame, source)
        rows, lengths, scalers, meta = [], [], [], []
        padded = []
        for s in series:
            scaler = self.scaler(s)
            times = future_index(s.index, self.frequency, steps)
            values = self._extended(s, future, times, steps)  # [n + steps, C] raw, targets NaN ahead
            scalers.append(scaler)
            rows.append(values)
            meta.append((s.key, times))
            if len(s.values) < self.input_length:
                padded.append(f"{s.key if s.key != SINGLE else 'the series'} ({len(s.values)} rows)")
            lengths.append(len(s.values))
        if padded:
            notes.append(f"{len(padded)} series shorter than input_length={self.input_length} were padded on "
                         f"the left with their first value: {', '.join(padded[:5])}"
                         f"{' ...' if len(padded) > 5 else ''}.")
        if steps > self.horizon:
            notes.append(f"Steps {self.horizon + 1}..{steps} are beyond the trained horizon {self.horizon}: the "
                         "model was rolled forward on its own mean forecasts, so those intervals are too narrow.")
        mean, quants = self._roll(rows, lengths, scalers, steps)
        if self.statistical is not None:
            stat = self.statistical_forecasts([s.values for s in series], steps)
            mean, quants = self.with_statistical(mean, quants, stat)
        forecast = self.to_forecast(mean, quants, meta, truth=None, origins=None)
        forecast.notes = notes
        return forecast

    def _check_horizon(self, horizon: int | None) -> int:
        if horizon is None:
            return self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise ConfigError(f"horizon must be a positive integer; got {horizon!r}.")
        if horizon > self.horizon and self.layout.past:
            raise ConfigError(
                f"horizon={horizon} is beyond the trained horizon {self.horizon}, and this model reads past "
                f"covariates {list(self.layout.past)} whose future values are unknown, so it cannot be rolled "
                f"forward. Ask for at most {self.horizon} steps, or train with data.horizon={horizon}."
            )
        return int(horizon)

    def _extended(self, s: SeriesData, future: pd.DataFrame | None, times: pd.Index, steps: int) -> np.ndarray:
        """The series' raw rows followed by ``steps`` future rows whose targets are NaN and whose
        known-future channels are filled from ``future`` / the calendar."""
        lay = self.layout
        ahead = np.full((steps, lay.n_channels), np.nan)
        block = future_block(s, lay, self.data, future, times, steps)
        if block is not None:
            ahead[:, lay.n_known :] = block
        return np.concatenate([s.values, ahead])

    def _roll(self, rows: list[np.ndarray], lengths: list[int], scalers: list[Scaler],
              steps: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Forecast H steps at a time, writing each chunk's mean into the targets ahead."""
        L, H, lay = self.input_length, self.horizon, self.layout
        offset = np.stack([s.offset_ for s in scalers])  # [B, C]
        scale = np.stack([s.scale_ for s in scalers])
        means, quants = [], []
        done = 0
        while done < steps:
            windows, futures = [], []
            for values, n in zip(rows, lengths, strict=True):
                end = n + done
                window, _ = last_window(SeriesData("", pd.RangeIndex(end), values[:end]), L)
                windows.append(window)
                if lay.n_future:
                    fut = values[end : end + H, lay.n_known :]
                    if len(fut) < H:  # the last chunk: pad the known-future rows past the asked steps
                        fut = np.concatenate([fut, np.repeat(fut[-1:], H - len(fut), axis=0)])
                    futures.append(fut)
            out = self.predict_windows(np.stack(windows), np.stack(futures) if futures else None, offset, scale)
            take = min(H, steps - done)
            means.append(out[0][:, :take])
            if len(out) > 1:
                quants.append(out[1][:, :take])
            for values, n, m in zip(rows, lengths, out[0], strict=True):
                values[n + done : n + done + take, : lay.n_targets] = m[:take]
            done += take
        return np.concatenate(means, axis=1), (np.concatenate(quants, axis=1) if quants else None)

    def to_forecast(self, mean: np.ndarray, quants: np.ndarray | None, meta: list[tuple[str, pd.Index]],
                    truth: np.ndarray | None, origins: list[Any] | None) -> Forecast:
        """Arrays [N, H', T] (+ [N, H', T, Q]) and each row's (series, times) -> the tidy Forecast."""
        n, steps, n_targets = mean.shape
        columns: dict[str, Any] = {}
        if self.data.series_col is not None:
            columns["series"] = np.repeat([k for k, _ in meta], steps * n_targets)
        if origins is not None:
            columns["origin"] = np.repeat(np.asarray(origins, dtype=object), steps * n_targets)
        columns["time"] = np.concatenate([np.repeat(np.asarray(times), n_targets) for _, times in meta])
        columns["target"] = np.tile(np.asarray(self.layout.targets, dtype=object), n * steps)
        columns["step"] = np.tile(np.repeat(np.arange(1, steps + 1), n_targets), n)
        columns["mean"] = mean.reshape(-1)
        for q, level in enumerate(self.quantile_levels):
            if quants is not None:
                columns[quantile_column(level)] = quants[..., q].reshape(-1)
        if truth is not None:
            columns["actual"] = truth.reshape(-1)
        return Forecast(columns, self.quantile_levels)

    # ------------------------------------------------------------------ evaluation windows
    def windows(self, frame: pd.DataFrame, part: str = "test", source: str = "the data",
                bounds_fn: Callable[[int], SplitBounds] | None = None) -> WindowBatch:
        """Every stride-1 window whose targets lie in ``part`` (train | val | test | all) of each
        series of ``frame``, split by the config's fractions (or by ``bounds_fn(n_rows)``)."""
        d, L, H = self.data, self.input_length, self.horizon
        batches = []
        for s in self.prepare(frame, source):
            if bounds_fn is not None:
                bounds = bounds_fn(len(s.values))
            else:
                whole = part == "all"
                bounds = check_length(len(s.values), L, H, 0.0 if whole else d.val_fraction,
                                      0.0 if whole else d.test_fraction, what=s.label)
            starts = bounds.target_starts(part, L, H)
            if not len(starts):
                continue
            scaler = self.scaler(s)
            scaled = scaler.transform(s.values).astype(np.float32)
            batches.append(series_windows(s.key, s.index, scaled, s.values, scaler, starts, self.layout, L, H,
                                          stat=self.statistical))
        return _require(stack_windows(batches), f"{cap(source)} has no complete window in its {part} part.")

    def holdout_windows(self, frame: pd.DataFrame, season: int, source: str = "the data") -> WindowBatch:
        """One window per series: the rows before its last H as input (scaled by the series'
        training scaler, or -- unseen -- by those rows), the last H as truth, and
        ``max(L, 2 season)`` rows of history for the baselines (padded on the left)."""
        L, H = self.input_length, self.horizon
        need = max(L, 2 * season)
        batches = []
        for s in self.prepare(frame, source):
            if len(s.values) <= H:
                continue
            scaler = self.scaler(SeriesData(s.key, s.index[:-H], s.values[:-H]))
            raw, pad = pad_left(s.values, need + H)  # [pad + n, C]
            start = len(raw) - H
            batches.append(series_windows(s.key, s.index, scaler.transform(raw), raw, scaler,
                                          range(start, start + 1), self.layout, L, H, history_length=need, pad=pad,
                                          stat=self.statistical))
        return _require(stack_windows(batches),
                        f"{cap(source)} has no series longer than the horizon ({H} rows) to score.")

    def forecast_windows(self, w: WindowBatch) -> tuple[np.ndarray, np.ndarray | None]:
        """mean [N, H, T] (+ quantiles) of a :class:`WindowBatch` in original units."""
        mean, quants = self.forward_scaled(w.x, w.future, w.offset, w.scale)
        return self.with_statistical(mean, quants, w.stat)


def series_windows(key: str, index: pd.Index, scaled: np.ndarray, raw: np.ndarray, scaler: Scaler,
                   starts: range | np.ndarray, layout: ChannelLayout, input_length: int, horizon: int, *,
                   history_length: int | None = None, pad: int = 0,
                   stat: StatisticalPart | None = None) -> WindowBatch:
    """The windows of one series whose first target row is in ``starts``: the one place a
    :class:`WindowBatch` is built (evaluation, hold-out scoring and validation all use it).

    Inputs: ``scaled`` [n', C] (what the network reads) and ``raw`` [n', C] in original units,
    both with ``pad`` rows of left padding before the first row of ``index`` (n' = pad + n);
    ``starts`` [N] rows of those arrays. ``history_length`` (default L) rows before each start
    become the history the baselines read. ``stat``: the forecasts of its methods from the last
    ``stat.rows`` real rows before each start are computed too.
    Outputs: a WindowBatch of N windows (x [N, L, C] views where ``starts`` is a range).
    """
    L, H, T = input_length, horizon, layout.n_targets
    first = np.asarray(starts)
    x, ahead = input_target_windows(scaled, starts, L, H, scaled.shape[1])  # [N, L, C], [N, H, C]
    history, truth = input_target_windows(raw, starts, history_length or L, H, T)  # [N, L_h, C], [N, H, T]
    n = len(first)
    forecasts = None
    if stat is not None:
        forecasts = stat.forecasts([raw[min(max(pad, i - stat.rows), i - 1) : i, :T] for i in first], H)
    return WindowBatch(x, ahead[..., layout.n_known :] if layout.n_future else None, truth, history[..., :T],
                       np.broadcast_to(scaler.offset_[:T], (n, T)), np.broadcast_to(scaler.scale_[:T], (n, T)),
                       [key] * n, list(index[first - pad - 1]), [index[i - pad : i - pad + H] for i in first], forecasts)


def stack_windows(batches: Sequence[WindowBatch]) -> WindowBatch | None:
    """The windows of several series as one batch (None when there are none)."""
    if not batches:
        return None
    future = [b.future for b in batches if b.future is not None]
    stat = [b.stat for b in batches if b.stat is not None]
    return WindowBatch(np.concatenate([b.x for b in batches]), np.concatenate(future) if future else None,
                       np.concatenate([b.truth for b in batches]), np.concatenate([b.history for b in batches]),
                       np.concatenate([b.offset for b in batches]), np.concatenate([b.scale for b in batches]),
                       [k for b in batches for k in b.series], [o for b in batches for o in b.origins],
                       [t for b in batches for t in b.times],
                       {m: np.concatenate([s[m] for s in stat]) for m in stat[0]} if stat and len(stat) == len(batches)
                       else None)


def _require(batch: WindowBatch | None, message: str) -> WindowBatch:
    if batch is None:
        raise DataError(message)
    return batch

