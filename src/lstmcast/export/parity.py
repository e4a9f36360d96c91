"""Parity of an exported forecast path with the eager model.

The reference is the arithmetic every forecast of the library uses,
:meth:`lstmcast.inference.TrainedModel.predict_windows` (:func:`eager_forecast`): float64
scaling, the eager network in float32, inverse scaling in float64. An export is compared with it at
batch sizes 1, 3 and 64 on fresh random windows (drawn inside each scaler's training range) and,
when data is given, on real windows from it.

Errors: ``abs`` = max |export - eager| over every output value of a batch; ``rel`` = the largest
|export - eager| / range of its own series and target, where the range is the larger of the
row's input window range (max - min of that target's history) and the target's scaler scale.
A series around 1e6 with a range of 0.5 is so judged at its own scale, not against the batch's
peak (next to which float32's 0.06 steps at 1e6 would be invisible). The report lists, per
series, its worst relative error, the tolerance it was held to, its level and range, and the
resolution float32 has at that level relative to the range (``float32_floor``): an export whose
outputs are float32 cannot do better than that.

Symbols: B batch, L input_length, C channels, H horizon, Kf known-future channels, T targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lstmcast.data.wording import cap
from lstmcast.errors import DataError
from lstmcast.export.pipeline import ForecastPipeline, as_trained_model

BATCH_SIZES = (1, 3, 64)
FLOAT_TOLERANCE = 1e-5
# ONNX Runtime dynamic int8 (per-tensor weights, activations quantized per call): measured
# relative errors 0.3-2% on the demo and test models; 5% leaves room without hiding a broken graph.
INT8_TOLERANCE = 5e-2


@dataclass
class ParityCase:
    kind: str  # "random" | "real"
    batch: int
    abs_error: float
    rel_error: float  # relative to each series' range (module docstring)
    worst_series: str | None = None


@dataclass
class SeriesParity:
    """One series' worst error relative to its range, and the tolerance it was held to."""

    rel_error: float
    tolerance: float
    level: float  # max |value| of its windows
    range: float  # the smallest range it was judged against
    float32_floor: float  # float32's spacing at ``level`` / ``range``


@dataclass
class ParityReport:
    """Per-case errors against the eager model and the tolerance they were held to."""

    tolerance: float
    cases: list[ParityCase] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    series: dict[str, SeriesParity] = field(default_factory=dict)

    @property
    def max_abs(self) -> float:
        return max((c.abs_error for c in self.cases), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((c.rel_error for c in self.cases), default=0.0)

    @property
    def passed(self) -> bool:
        return bool(self.cases) and all(np.isfinite(c.rel_error) and c.rel_error <= self.tolerance
                                        for c in self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "tolerance": self.tolerance, "max_abs_error": self.max_abs,
                "max_rel_error": self.max_rel, "cases": [asdict(c) for c in self.cases],
                "series": {k: asdict(v) for k, v in self.series.items()}, "skipped": self.skipped}

    def record(self, keys: list[str], rows: np.ndarray, ranges: np.ndarray, levels: np.ndarray) -> None:
        """Fold one batch's per-row relative errors into the per-series entries."""
        eps = float(np.finfo(np.float32).eps)
        for key, rel, rng, level in zip(keys, rows, ranges, levels, strict=True):
            old = self.series.get(key)
            floor = eps * float(level) / float(rng)
            if old is None or rel > old.rel_error or (rel == old.rel_error and rng < old.range):
                self.series[key] = SeriesParity(float(rel), self.tolerance, float(level), float(rng),
                                                max(floor, old.float32_floor if old else 0.0))


def eager_forecast(forecaster: Any, window: np.ndarray, future: np.ndarray | None,
                   offset: np.ndarray, scale: np.ndarray) -> list[np.ndarray]:
    """The reference: :meth:`lstmcast.inference.TrainedModel.predict_windows` on raw arrays.

    Inputs: window [B, L, C] raw, future [B, H, Kf] raw or None, offset/scale [B, C] float64.
    Outputs: [mean [B, H, T]] (+ [quantiles [B, H, T, Q]]) in original units.
    """
    return as_trained_model(forecaster).predict_windows(window, future, offset, scale)


@dataclass
class WindowSet:
    """Raw inputs of one parity case and each row's float64 scaler (for the eager side)."""

    kind: str
    window: np.ndarray  # [N, L, C]
    future: np.ndarray | None  # [N, H, Kf]
    offset: np.ndarray  # [N, C] float64
    scale: np.ndarray  # [N, C] float64
    keys: list[str] | None = None  # the series of each row

    def take(self, batch: int) -> WindowSet:
        rows = np.arange(batch) % len(self.window)
        keys = [self.keys[i] for i in rows] if self.keys is not None else None
        return WindowSet(self.kind, self.window[rows], None if self.future is None else self.future[rows],
                         self.offset[rows], self.scale[rows], keys)

    def ranges(self, n_targets: int) -> tuple[np.ndarray, np.ndarray]:
        """Per row and target: the range each error is measured against, and the level. [N, T]"""
        targets = np.asarray(self.window[:, :, :n_targets], dtype=np.float64)  # [N, L, T]
        spread = targets.max(axis=1) - targets.min(axis=1)
        scale = np.abs(self.scale[:, :n_targets])
        level = np.abs(targets).max(axis=1)
        tiny = np.finfo(np.float64).tiny
        return np.maximum(np.maximum(spread, scale), np.maximum(level * 1e-12, tiny)), level

    def inputs(self, pipeline: ForecastPipeline) -> dict[str, np.ndarray]:
        named = {"window": self.window, "future": self.future, "offset": self.offset, "scale": self.scale}
        return {n: np.ascontiguousarray(named[n], dtype=np.float32) for n in pipeline.input_names}


def _row_scalers(forecaster: Any, pipeline: ForecastPipeline, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if pipeline.scaling == "baked" and pipeline.series is not None:
        keys = [str(pipeline.series)] * len(keys)
    known = as_trained_model(forecaster).scalers
    scalers = [known[k] for k in keys]
    return np.stack([s.offset_ for s in scalers]), np.stack([s.scale_ for s in scalers])


def random_windows(forecaster: Any, pipeline: ForecastPipeline, n: int = 64, seed: int = 0) -> WindowSet:
    """Fresh windows inside the training range of each row's scaler (uniform in offset ± 1.5 scale)."""
    rng = np.random.default_rng(seed)
    keys = list(as_trained_model(forecaster).scalers)
    rows = [keys[i] for i in rng.integers(0, len(keys), n)]
    offset, scale = _row_scalers(forecaster, pipeline, rows)
    L, H, C, n_known = pipeline.input_length, pipeline.horizon, pipeline.n_channels, pipeline.n_known
    window = offset[:, None] + scale[:, None] * rng.uniform(-1.5, 1.5, (n, L, C))
    future = None
    if pipeline.n_future:
        future = offset[:, None, n_known:] + scale[:, None, n_known:] * rng.uniform(-1.5, 1.5, (n, H, C - n_known))
    return WindowSet("random", window, future, offset, scale, rows)


def real_windows(forecaster: Any, pipeline: ForecastPipeline, frame: pd.DataFrame, n: int = 64,
                 source: str = "the data") -> WindowSet:
    """Up to ``n`` windows spread over every series of ``frame`` (raw values, calendar included),
    each row scaled as inference scales it (:meth:`TrainedModel.scaler`: a series unseen in
    training by all the rows of its history that are given)."""
    model = as_trained_model(forecaster)
    L, H = pipeline.input_length, pipeline.horizon
    need = L + (H if pipeline.n_future else 0)
    pieces: list[tuple[str, np.ndarray, Any]] = []
    for s in model.prepare(frame, source):
        if len(s.values) < need:
            continue
        scaler = model.scaler(s)
        starts = np.unique(np.linspace(0, len(s.values) - need, num=max(1, n), dtype=int))
        pieces += [(s.key, s.values[i : i + need], scaler) for i in starts]
    if not pieces:
        raise DataError(f"{cap(source)} has no series with the {need} rows a parity window needs.")
    picks = np.unique(np.linspace(0, len(pieces) - 1, num=min(n, len(pieces)), dtype=int))
    keys = [pieces[i][0] for i in picks]
    block = np.stack([pieces[i][1] for i in picks])  # [N, L (+H), C]
    if pipeline.scaling == "baked":
        offset, scale = _row_scalers(forecaster, pipeline, keys)
    else:
        offset = np.stack([pieces[i][2].offset_ for i in picks])
        scale = np.stack([pieces[i][2].scale_ for i in picks])
    future = block[:, L:, pipeline.n_known :] if pipeline.n_future else None
    return WindowSet("real", block[:, :L], future, offset, scale, keys)


def check_parity(runner: Any, forecaster: Any, pipeline: ForecastPipeline, *, tolerance: float = FLOAT_TOLERANCE,
                 frame: pd.DataFrame | None = None, batch_sizes: tuple[int, ...] = BATCH_SIZES,
                 seed: int = 0) -> ParityReport:
    """Run ``runner`` (named float32 inputs -> outputs) and the eager model side by side."""
    report = ParityReport(tolerance)
    sets = [random_windows(forecaster, pipeline, max(batch_sizes), seed)]
    if frame is not None:
        sets.append(real_windows(forecaster, pipeline, frame, max(batch_sizes)))
    else:
        report.skipped.append("real windows (no data given)")
    for windows in sets:
        for batch in batch_sizes:
            part = windows.take(batch)
            inputs = part.inputs(pipeline)
            try:
                got = runner(inputs)
            except Exception as exc:  # a runtime that rejects a batch size is a parity failure
                raise_batch_error(exc, batch)
            # the eager side sees the same float32 window values the export saw
            want = eager_forecast(forecaster, inputs["window"], inputs.get("future"), part.offset, part.scale)
            ranges, levels = WindowSet(part.kind, inputs["window"], None, part.offset, part.scale).ranges(
                want[0].shape[-1])
            abs_err, rows = compare(got, want, ranges)
            keys = part.keys or [f"row {i}" for i in range(batch)]
            worst = int(np.argmax(rows)) if len(rows) else 0
            report.cases.append(ParityCase(windows.kind, batch, abs_err, float(rows.max(initial=0.0)), keys[worst]))
            report.record(keys, rows, ranges.min(axis=1), levels.max(axis=1))
    return report


def compare(got: list[np.ndarray], want: list[np.ndarray], ranges: np.ndarray) -> tuple[float, np.ndarray]:
    """(max abs error over every output, per row the largest |got - want| / its range).

    got/want: [mean [B, H, T]] (+ [quantiles [B, H, T, Q]]); ranges [B, T]."""
    rows = np.zeros(len(ranges))
    if len(got) != len(want):
        return float("inf"), rows + np.inf
    abs_err = 0.0
    for g, w in zip(got, want, strict=True):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != w.shape:
            return float("inf"), rows + np.inf
        diff = np.abs(g - w)
        diff = np.where(np.isnan(diff), np.inf, diff)
        abs_err = max(abs_err, float(diff.max()))
        per = diff.reshape(*diff.shape[:3], -1).max(axis=(1, 3))  # [B, T]: worst step (and quantile)
        rows = np.maximum(rows, (per / ranges).max(axis=1))
    return abs_err, rows


def raise_batch_error(exc: Exception, batch: int) -> None:
    from lstmcast.export.formats import ExportError

    raise ExportError(
        f"The exported model failed at batch size {batch}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}. "
        "Its batch dimension is probably fixed; the export is unusable."
    ) from exc
