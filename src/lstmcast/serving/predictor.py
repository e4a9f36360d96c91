"""The model behind the service: loaded once, requests turned into raw windows, forecasts out.

Predictions run on ONNX Runtime over the exported forecast pipeline (scaling, network, head and
inverse scaling in one graph, with per-row scaler inputs so one batch can mix series), and fall
back to eager torch when ONNX is unavailable. Where the graph comes from, in order:

1. ``onnx_file`` given (``lstmcast serve`` with several workers exports once and shares it);
2. ``<model_dir>/model.onnx`` written by ``lstmcast export`` for this very model (its sidecar's
   weight checksum must match, and its scaling must fit every request);
3. exported in memory at startup (a few seconds) and parity-checked against the eager model.

Symbols: B series in the request, L input_length, C channels, H horizon, Kf future channels,
T targets, Q quantile levels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmcast.errors import LstmcastError, require

BACKENDS = ("auto", "onnx", "torch")
_F32_MAX = float(np.finfo(np.float32).max)


class RequestError(LstmcastError, ValueError):
    """A request that the model cannot serve; ``loc`` names the field (FastAPI style)."""

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(f"{format_loc(loc)}: {msg}")
        self.loc, self.msg = loc, msg


def format_loc(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """("body", "series", 0, "history", "value", 3) -> "series[0].history.value[3]"."""
    text = ""
    for part in loc:
        if part == "body" and not text:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


@dataclass
class Batch:
    """Raw model inputs for B series and what is needed to label the answers."""

    window: np.ndarray  # [B, L, C] float32
    future: np.ndarray | None  # [B, H, Kf] float32
    offset: np.ndarray  # [B, C] float64
    scale: np.ndarray  # [B, C] float64
    ids: list[str | None] = field(default_factory=list)
    times: list[list[Any] | None] = field(default_factory=list)
    stat: dict[str, np.ndarray] | None = None  # {method: [B, H, T]}: the statistical part, where the model has one


class Predictor:
    """A fitted Forecaster plus the fastest backend that reproduces it."""

    def __init__(self, model_dir: str | Path, backend: str = "auto", onnx_file: str | Path | None = None,
                 threads: int = 1) -> None:
        from lstmcast.errors import ConfigError
        from lstmcast.export.pipeline import ForecastPipeline
        from lstmcast.forecaster import Forecaster

        if backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}.")
        self.model_dir = Path(model_dir)
        self.forecaster = f = Forecaster.load(self.model_dir, device="cpu")
        self.model = f.model_  # the one inference path: scaling rule, arithmetic, layout
        d, lay = f.config_.data, self.model.layout
        self.targets = list(lay.targets)
        self.columns = list(lay.columns)
        self.future_features = list(lay.future)
        self.calendar = list(lay.calendar)
        self.input_length, self.horizon = self.model.input_length, self.model.horizon
        self.levels = tuple(f.quantile_levels)
        self.many = d.series_col is not None
        frequency = f.meta_.get("frequency")
        self.frequency = None if frequency is None else str(frequency)
        self.pipeline = ForecastPipeline(f, scaling="inputs")
        self.threads = threads
        self.metrics = _read_json(self.model_dir / "metrics.json")
        self.session: Any = None
        self.session_inputs: list[str] = []
        self.eager_from: int | None = None  # batches this large run on eager torch (measured at startup)
        self.backend_info: dict[str, Any] = {"name": "torch", "source": "eager Forecaster network"}
        if backend != "torch":
            try:
                self._start_onnx(onnx_file)
            except (LstmcastError, ImportError, OSError) as exc:
                if backend == "onnx":
                    raise
                self.backend_info["fallback_reason"] = str(exc)

    # ------------------------------------------------------------------ backends
    def _start_onnx(self, onnx_file: str | Path | None) -> None:
        from lstmcast.export.exporter import sidecar_path
        from lstmcast.export.formats import ExportError, onnx_model_proto, onnx_session
        from lstmcast.export.parity import FLOAT_TOLERANCE, INT8_TOLERANCE, check_parity

        require("onnxruntime", "serve")
        candidates = [Path(onnx_file)] if onnx_file is not None else [self.model_dir / "model.onnx"]
        skipped = None
        for path in candidates:
            usable, why = self._usable_onnx(path, sidecar_path(path))
            if usable:  # a sidecar can be forged with the graph: the graph must also reproduce the weights
                session = onnx_session(path, self.threads)
                inputs = [i.name for i in session.get_inputs()]
                check = check_parity(lambda feed, s=session, n=inputs: s.run(None, {k: feed[k] for k in n}),
                                     self.forecaster, self.pipeline, tolerance=INT8_TOLERANCE if "int8" in why
                                     else FLOAT_TOLERANCE, batch_sizes=(1, 3))
                if check.passed:
                    given = f"{path} (given){' (int8)' if 'int8' in why else ''}"
                    self._use_session(session, why if onnx_file is None else given, check.to_dict())
                    return
                why = (f"it does not reproduce the verified weights (max relative error {check.max_rel:.3g}); it "
                       "was changed or planted")
            if onnx_file is not None:
                raise ExportError(f"{path} cannot serve this model: {why}.")
            skipped = f"{path.name} not used: {why}" if path.is_file() else None
        session = onnx_session(onnx_model_proto(self.pipeline).SerializeToString(), self.threads)
        report = check_parity(lambda feed, s=session, n=self.pipeline.input_names: s.run(None, {k: feed[k] for k in n}),
                              self.forecaster, self.pipeline, tolerance=FLOAT_TOLERANCE)
        if not report.passed:
            raise ExportError(f"the ONNX graph exported at startup misses parity (max relative error "
                              f"{report.max_rel:.3g}); serving with eager torch")
        self._use_session(session, "exported at startup", report.to_dict())
        if skipped:
            self.backend_info["skipped"] = skipped

    def _usable_onnx(self, path: Path, sidecar: Path) -> tuple[bool, str]:
        if not path.is_file():
            return False, f"{path} does not exist"
        meta = _read_json(sidecar)
        if meta is None:
            return False, f"its sidecar {sidecar.name} is missing or unreadable"
        from lstmcast.export.exporter import sha256, weights_digest

        if meta.get("weights_digest") != weights_digest(self.forecaster.network_) or meta.get("sha256") != sha256(path):
            return False, "it was exported from other weights, or changed since (checksum mismatch)"
        scaling = meta.get("scaling") or {}
        if scaling.get("mode") == "baked" and self.many:
            return False, f"it has the scaler of series {scaling.get('series')!r} baked in"
        if not (meta.get("parity") or {}).get("passed"):
            return False, "its sidecar records no passed parity check"
        return True, f"{path.name} next to the model" + (" (int8)" if meta.get("quantize") else "")

    def _use_session(self, session: Any, source: str, parity: dict[str, Any] | None = None) -> None:
        self.session = session
        self.session_inputs = [i.name for i in session.get_inputs()]
        self.backend_info = {"name": "onnxruntime", "source": source, "threads": self.threads}
        if parity is not None:
            self.backend_info["parity_max_rel_error"] = parity["max_rel_error"]
        # an int8 graph answers differently from the float weights: it serves every batch then
        self.backend_info["eager_from_batch"] = self.eager_from = None if "(int8)" in source else self._crossover()

    def _crossover(self) -> int | None:
        from lstmcast.serving.crossover import eager_crossover
        rng, channels, n_future = np.random.default_rng(0), len(self.columns) + len(self.calendar), self.pipeline.n_future

        def batch_of(size: int) -> Batch:
            future = rng.normal(size=(size, self.horizon, n_future)).astype(np.float32) if n_future else None
            return Batch(rng.normal(size=(size, self.input_length, channels)).astype(np.float32), future,
                         np.zeros((size, channels)), np.ones((size, channels)))

        return eager_crossover(self._onnx, self._eager, batch_of)

    @property
    def backend(self) -> str:
        return self.backend_info["name"]

    # ------------------------------------------------------------------ requests
    def prepare(self, series: list[Any]) -> Batch:
        """Validated request series -> raw windows [B, L, C]; raises RequestError naming the field."""
        from lstmcast.data.prepare import last_window, request_series

        L = self.input_length
        windows, futures, offsets, scales, ids, times, histories = [], [], [], [], [], [], []
        for i, s in enumerate(series):
            loc = ("body", "series", i)
            values, n = self._history(s, loc)
            index, dated = self._index(s, n, loc)
            future_times = self._future_times(index, loc)
            prepared = request_series(self.series_key(s, loc), index, values, self.model.layout)
            scaler = self.model.scaler(prepared)
            windows.append(last_window(prepared, L)[0])
            histories.append(prepared.values)
            if self.pipeline.n_future:
                futures.append(self._future(s, future_times, loc))
            elif s.future:
                raise RequestError((*loc, "future"), "this model uses no known-future covariates; leave 'future' out.")
            offsets.append(scaler.offset_)
            scales.append(scaler.scale_)
            ids.append(s.id)
            # an undated model counts steps like predict does; a dated one needs the request's times
            times.append(_time_list(future_times) if (s.time is not None or not dated) else None)
        window = np.stack(windows).astype(np.float32)
        future = np.stack(futures).astype(np.float32) if futures else None
        stat = self.model.statistical_forecasts(histories, self.horizon)
        return Batch(window, future, np.stack(offsets), np.stack(scales), ids, times, stat)

    def _history(self, s: Any, loc: tuple) -> tuple[np.ndarray, int]:
        got = list(s.history)
        missing = [c for c in self.columns if c not in s.history]
        unknown = [c for c in got if c not in self.columns]
        if missing:
            raise RequestError((*loc, "history"), f"missing column(s) {_names(missing)}; this model reads "
                               f"{_names(self.columns)} (got {_names(got) or 'none'}).")
        if unknown:
            raise RequestError((*loc, "history", unknown[0]), f"unknown column(s) {_names(unknown)}; this model "
                               f"reads {_names(self.columns)}. Leave the others out.")
        lengths = {c: len(s.history[c]) for c in self.columns}
        n = lengths[self.columns[0]]
        for c, length in lengths.items():
            if length != n:
                raise RequestError((*loc, "history", c), f"has {length} values but {self.columns[0]!r} has {n}; "
                                   "give every column the same rows.")
        if n < self.input_length:
            raise RequestError((*loc, "history", self.columns[0]),
                               f"has {n} rows; the model needs at least input_length={self.input_length} "
                               "(the window it reads).")
        values = np.array([s.history[c] for c in self.columns], dtype=np.float64).T  # [n, C_in]
        _check_range(values, (*loc, "history"), self.columns)
        return values, n

    def _index(self, s: Any, n: int, loc: tuple) -> tuple[pd.Index, bool]:
        """The history's time index and whether the model's data was dated."""
        dated = self.frequency is not None and not str(self.frequency).lstrip("-").isdigit()
        if s.time is None:
            if self.calendar:
                raise RequestError((*loc, "time"), "is required: the model uses calendar features "
                                   f"{self.calendar}, computed from the timestamps of the history.")
            return pd.RangeIndex(n, name="step"), dated
        if len(s.time) != n:
            raise RequestError((*loc, "time"), f"has {len(s.time)} timestamps for {n} history rows; give one per row.")
        if s.time and isinstance(s.time[0], str):
            parsed = pd.to_datetime(pd.Series(s.time), errors="coerce", format="ISO8601")
            bad = np.flatnonzero(parsed.isna().to_numpy())
            if len(bad):
                raise RequestError((*loc, "time", int(bad[0])), f"{s.time[bad[0]]!r} is not an ISO 8601 date/time.")
            if parsed.dt.tz is not None:
                parsed = parsed.dt.tz_convert(None)
            index: pd.Index = pd.DatetimeIndex(parsed)
        else:
            if self.calendar:
                raise RequestError((*loc, "time"), "must be ISO 8601 date/times: the model uses calendar features.")
            index = pd.Index(np.asarray(s.time, dtype=np.int64))
        steps = np.diff(np.asarray(index.asi8 if isinstance(index, pd.DatetimeIndex) else index))
        if (steps <= 0).any():
            row = int(np.flatnonzero(steps <= 0)[0]) + 1
            raise RequestError((*loc, "time", row), f"{s.time[row]!r} does not come after {s.time[row - 1]!r}; "
                               "times must be strictly increasing.")
        return index, dated

    def _future_times(self, index: pd.Index, loc: tuple) -> pd.Index:
        from lstmcast.data.io import future_index, infer_frequency

        freq = self.frequency
        if isinstance(index, pd.DatetimeIndex):
            if freq is None or str(freq).lstrip("-").isdigit():
                freq = infer_frequency(index)
        elif freq is None or not str(freq).lstrip("-").isdigit():
            freq = infer_frequency(index)
        try:
            return future_index(index, freq, self.horizon)
        except (LstmcastError, ValueError) as exc:
            raise RequestError((*loc, "time"), f"cannot date the forecast from these times ({exc}).") from None

    def series_key(self, s: Any, loc: tuple) -> str:
        """The name the model's scalers know request series ``s`` by (``loc`` names it in errors)."""
        if not self.many:
            return next(iter(self.model.scalers))
        if s.id is None:
            known = list(self.model.scalers)
            raise RequestError((*loc, "id"), f"is required: this model was trained on {len(known)} series "
                               f"(e.g. {_names(known[:5])}); name one, or give a new name to scale the series "
                               "by its own history.")
        return s.id

    def _future(self, s: Any, times: pd.Index, loc: tuple) -> np.ndarray:
        from lstmcast.data.features import calendar_values

        parts = []
        if self.future_features:
            given = s.future or {}
            missing = [c for c in self.future_features if c not in given]
            unknown = [c for c in given if c not in self.future_features]
            if missing:
                raise RequestError((*loc, "future"), f"missing known-future covariate(s) {_names(missing)}: give "
                                   f"their {self.horizon} values after the history.")
            if unknown:
                raise RequestError((*loc, "future", unknown[0]), f"unknown covariate(s) {_names(unknown)}; this "
                                   f"model's known-future covariates are {_names(self.future_features)}.")
            for c in self.future_features:
                if len(given[c]) != self.horizon:
                    raise RequestError((*loc, "future", c), f"has {len(given[c])} values; the model needs exactly "
                                       f"horizon={self.horizon} (one per forecast step).")
            block = np.array([given[c] for c in self.future_features], dtype=np.float64).T  # [H, Kf']
            _check_range(block, (*loc, "future"), self.future_features)
            parts.append(block)
        if self.calendar:
            parts.append(calendar_values(times, self.calendar))
        return np.concatenate(parts, axis=1)  # [H, Kf]

    # ------------------------------------------------------------------ forecasting
    def forecast(self, batch: Batch) -> list[np.ndarray]:
        """mean [B, H, T] (+ quantiles [B, H, T, Q]) in original units, on ONNX Runtime below the
        batch size where eager torch was faster at startup (:mod:`lstmcast.serving.crossover`)."""
        if self.session is None or (self.eager_from is not None and len(batch.window) >= self.eager_from):
            return self._eager(batch)
        return self._onnx(batch)

    def _eager(self, batch: Batch) -> list[np.ndarray]:
        return self.model.predict_windows(batch.window, batch.future, batch.offset, batch.scale)

    def _onnx(self, batch: Batch) -> list[np.ndarray]:
        feeds = {"window": batch.window, "future": batch.future,
                 "offset": batch.offset.astype(np.float32), "scale": batch.scale.astype(np.float32)}
        return list(self.session.run(None, {n: feeds[n] for n in self.session_inputs}))

    def predict(self, series: list[Any]) -> dict[str, Any]:
        batch = self.prepare(series)
        outputs = self.forecast(batch)
        for i in range(len(series)):
            if not all(np.isfinite(o[i]).all() for o in outputs):
                raise RequestError(("body", "series", i, "history"), "the forecast is not finite: the values are "
                                   "far outside what the model was trained on.")
        mean, quantiles = outputs[0], (outputs[1] if len(outputs) > 1 else None)
        mean, quantiles = self.model.with_statistical(mean, quantiles, batch.stat)
        forecasts = []
        for i in range(len(series)):
            item: dict[str, Any] = {"id": batch.ids[i], "time": batch.times[i], "step": list(range(1, self.horizon + 1)),
                                    "mean": {t: mean[i, :, k].tolist() for k, t in enumerate(self.targets)},
                                    "quantiles": None}
            if quantiles is not None:
                item["quantiles"] = {f"q{level:g}": {t: quantiles[i, :, k, q].tolist() for k, t in enumerate(self.targets)}
                                     for q, level in enumerate(self.levels)}
            forecasts.append(item)
        return {"backend": self.backend, "horizon": self.horizon, "targets": self.targets,
                "quantile_levels": list(self.levels), "forecasts": forecasts}

    def describe(self) -> dict[str, Any]:
        from lstmcast._version import __version__

        f = self.forecaster
        known = list(self.model.scalers) if self.many else []
        return {
            "lstmcast_version": __version__,
            "model_dir": str(self.model_dir),
            "backend": self.backend_info,
            "columns": {"history": self.columns, "targets": self.targets,
                        "features": list(self.model.layout.past), "future": self.future_features,
                        "calendar": self.calendar, "series_col": f.config_.data.series_col},
            "time_required": bool(self.calendar),
            "input_length": self.input_length,
            "horizon": self.horizon,
            "quantile_levels": list(self.levels),
            "theta": {"weight": self.model.theta_weight, "season": self.model.theta_season,
                      "history_rows": self.model.theta_rows},  # send as many rows for predict's own forecast
            "ets": {"weight": self.model.ets_weight, "season": self.model.theta_season,
                       "history_rows": self.model.theta_rows},
            "frequency": self.frequency,
            "series": known[:1000],
            "n_series": len(known),
            "config": f.config_.to_dict(),
            "trained": {k: f.meta_.get(k) for k in ("ranges", "n_windows", "train_seconds", "lstmcast_version",
                                                     "torch_version") if k in f.meta_},
            "metrics": self.metrics,
        }


def _names(columns: list[str]) -> str:
    return ", ".join(repr(c) for c in columns)


def _check_range(values: np.ndarray, loc: tuple, columns: list[str]) -> None:
    """Finite float64 may still overflow float32 (the graph's dtype)."""
    big = np.abs(values) > _F32_MAX / 16
    if big.any():
        row, col = (int(v[0]) for v in np.nonzero(big))
        raise RequestError((*loc, columns[col], row), f"{values[row, col]:g} is out of range (float32 inputs).")


def _time_list(index: pd.Index) -> list[Any]:
    return [t.isoformat() for t in index] if isinstance(index, pd.DatetimeIndex) else [int(v) for v in index]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
