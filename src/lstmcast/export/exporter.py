"""``export_model``: the forecast pipeline to pt2 / ONNX / TorchScript, checked and described.

Each export is written to a staging directory, loaded back from disk, and compared with the
eager model at batch sizes 1, 3 and 64 (:mod:`lstmcast.export.parity`); only an export that
passes is moved to ``out``, next to a JSON sidecar ``<out>.json`` that says how to call it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lstmcast._json import sha256_file
from lstmcast._version import __version__
from lstmcast.errors import ConfigError
from lstmcast.export.formats import (
    FORMATS,
    ExportError,
    load_runner,
    quantize_onnx,
    to_exported_program,
    write_onnx,
    write_pt2,
    write_torchscript,
)
from lstmcast.export.parity import (
    FLOAT_TOLERANCE,
    INT8_TOLERANCE,
    ParityReport,
    check_parity,
    random_windows,
)
from lstmcast.export.pipeline import ForecastPipeline

QUANTIZE = ("int8",)
SIDECAR_VERSION = 1


class ExportParityError(ExportError):
    """An export ran but does not reproduce the eager model within its tolerance."""

    def __init__(self, message: str, report: ParityReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ExportResult:
    path: Path
    sidecar: Path
    format: str
    quantize: str | None
    parity: ParityReport
    size_bytes: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    int8: dict[str, Any] | None = None  # size / error / speed against float (quantize="int8")


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def export_model(model: Any, out: str | Path, fmt: str = "onnx", *, quantize: str | None = None,
                 series: str | None = None, scaling: str | None = None, frame: pd.DataFrame | None = None,
                 source: str = "the data") -> ExportResult:
    """Export a fitted Forecaster (or a model directory) to ``out`` and check its parity.

    ``fmt`` is pt2, onnx or torchscript; ``quantize="int8"`` (onnx only) applies ONNX Runtime's
    dynamic quantization. ``series`` / ``scaling`` choose how a many-series model is scaled (see
    :mod:`lstmcast.export.pipeline`). ``frame`` adds real windows to the parity check.
    Raises ExportParityError (nothing written) when the export misses its tolerance.
    """
    from lstmcast.forecaster import Forecaster

    started = time.perf_counter()
    _check_options(fmt, quantize)
    forecaster = model if isinstance(model, Forecaster) else Forecaster.load(model, device="cpu")
    pipeline = ForecastPipeline(forecaster, series=series, scaling=scaling)
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name such as {out / ('model' + _suffix(fmt))}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    int8: dict[str, Any] | None = None
    try:
        staged = stage / out.name
        notes = _write_format(pipeline, fmt, quantize, stage, staged)
        runner = load_runner(staged, fmt, pipeline.input_names)
        tolerance = INT8_TOLERANCE if quantize else FLOAT_TOLERANCE
        report = check_parity(runner, forecaster, pipeline, tolerance=tolerance, frame=frame)
        if quantize:
            int8 = compare_int8(stage / "float.onnx", staged, forecaster, pipeline)
            notes.append(int8_verdict(int8))
        if not report.passed:
            worst = max(report.cases, key=lambda c: c.rel_error)
            raise ExportParityError(
                f"The {fmt}{' int8' if quantize else ''} export does not match the eager model: max relative "
                f"error {report.max_rel:.3g} (abs {report.max_abs:.3g}, worst at batch {worst.batch} on "
                f"{worst.kind} windows) exceeds the tolerance {tolerance:g}. Nothing was written to {out}. "
                + ("Export without --quantize." if quantize else "Report this with your torch version."),
                report,
            )
        sidecar = describe(forecaster, pipeline, fmt, quantize, report, staged)
        statistical = _statistical_note(forecaster.model_)
        sidecar["notes"] = notes = notes + ([statistical] if statistical else [])
        if int8 is not None:
            sidecar["int8_vs_float"] = int8
        (stage / "sidecar.json").write_text(json.dumps(sidecar, indent=2), encoding="utf-8")
        os.replace(staged, out)
        os.replace(stage / "sidecar.json", sidecar_path(out))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return ExportResult(out, sidecar_path(out), fmt, quantize, report, out.stat().st_size,
                        time.perf_counter() - started, notes, int8)


def _statistical_note(model: Any) -> str | None:
    """What the graph leaves out when the model's forecast has a statistical part (None: nothing)."""
    parts = [f"{w:g} * {name}" for w, name in ((model.theta_weight, "the Theta method's (lstmcast.scoring.theta)"),
                                              (model.ets_weight, "exponential smoothing's (lstmcast.scoring.ets)")) if w]
    if not parts:
        return None
    rest = 1.0 - model.theta_weight - model.ets_weight
    return (f"The model's forecast is {rest:.3g} * this graph's + {' + '.join(parts)}, each from the series' last "
            "theta.history_rows rows (season theta.season); the graph is the network alone. Train with "
            "model.theta_weight=0 and model.ets_weight=0 for a graph that is the whole forecast.")


def _check_options(fmt: str, quantize: str | None) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"Export format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    if quantize is not None and quantize not in QUANTIZE:
        raise ConfigError(f"quantize must be one of {', '.join(QUANTIZE)} or None; got {quantize!r}.")
    if quantize and fmt != "onnx":
        raise ConfigError(
            f"--quantize {quantize} is offered for --format onnx only (ONNX Runtime's dynamic quantization). "
            "torch.ao.quantization.quantize_dynamic, the torch route, is deprecated in torch 2.13 and was "
            "2.5x slower than float at batch 1 for these models."
        )


def _write_format(pipeline: ForecastPipeline, fmt: str, quantize: str | None, stage: Path, staged: Path) -> list[str]:
    """Write the pipeline as ``fmt`` to ``staged`` (int8: the float ONNX file first, in ``stage``);
    returns the writer's notes."""
    if fmt == "pt2":
        write_pt2(pipeline, staged)
        return []
    if fmt == "onnx":
        program = to_exported_program(pipeline)
        target = stage / "float.onnx" if quantize else staged
        write_onnx(pipeline, target, program)
        if quantize:
            quantize_onnx(target, staged)
        return []
    return list(write_torchscript(pipeline, staged))


def _suffix(fmt: str) -> str:
    from lstmcast.export.formats import SUFFIXES

    return SUFFIXES.get(fmt, "")


sha256 = sha256_file  # the exported file's digest in its sidecar


def weights_digest(network: torch.nn.Module) -> str:
    """sha256 over the network's parameters and buffers (names and values): the same for a
    fitted forecaster and for the one loaded from its saved directory."""
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def describe(forecaster: Any, pipeline: ForecastPipeline, fmt: str, quantize: str | None,
             report: ParityReport | None, path: Path) -> dict[str, Any]:
    """The sidecar: how to call the exported file and what it was checked against."""
    d, model = forecaster.config_.data, forecaster.model_
    calendar = list(forecaster.meta_.get("calendar", []))
    scalers = forecaster.scalers_ if pipeline.scaling == "inputs" else {pipeline.series: forecaster.scalers_[pipeline.series]}
    return {
        "sidecar_version": SIDECAR_VERSION,
        "lstmcast_version": __version__,
        "torch_version": torch.__version__,
        "format": fmt,
        "quantize": quantize,
        "file": path.name,
        "sha256": sha256(path),
        "weights_digest": weights_digest(forecaster.network_),
        "inputs": [{"name": n, "shape": s, "dtype": "float32"} for n, s in pipeline.input_shapes().items()],
        "outputs": [{"name": n, "shape": s, "dtype": "float32"} for n, s in pipeline.output_shapes().items()],
        "dynamic": {"batch": "any size >= 1"},
        "channels": pipeline.channels,
        "targets": pipeline.targets,
        "features": list(d.features),
        "future_features": list(d.future_features),
        "calendar": calendar,
        "future_channels": pipeline.channels[pipeline.n_known :],
        "input_length": pipeline.input_length,
        "horizon": pipeline.horizon,
        "frequency": forecaster.meta_.get("frequency"),
        "quantile_levels": list(pipeline.quantile_levels),
        "head": forecaster.config_.model.head,
        "scaling": {
            "mode": pipeline.scaling,
            "series": pipeline.series,
            "kind": d.scaler,
            "formula": "scaled = (raw - offset) / scale, per channel",
            "series_col": d.series_col,
            "scalers": {k: {"offset": s.offset_.tolist(), "scale": s.scale_.tolist()} for k, s in scalers.items()},
        },
        "parity": report.to_dict() if report is not None else None,
        "theta": {"weight": model.theta_weight, "season": model.theta_season, "history_rows": model.theta_rows},
        "ets": {"weight": model.ets_weight, "season": model.theta_season, "history_rows": model.theta_rows},
    }


# ---------------------------------------------------------------------------- int8 evaluation
def _median_ms(runners: dict[str, Any], inputs: dict[str, np.ndarray], repeats: int) -> dict[str, float]:
    """Median latency of each runner, calls interleaved so that load on the machine hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():
        run(inputs)  # warm-up
    for _ in range(repeats):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run(inputs)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1000.0 for name, t in times.items()}


def compare_int8(float_path: Path, int8_path: Path, forecaster: Any, pipeline: ForecastPipeline,
                 batches: tuple[int, ...] = (1, 256), repeats: int = 100) -> dict[str, Any]:
    """Size, error against eager and median latency (1 thread) of float vs int8 ONNX."""
    runners = {name: load_runner(p, "onnx", pipeline.input_names) for name, p in
               (("float", float_path), ("int8", int8_path))}
    windows = random_windows(forecaster, pipeline, max(batches), seed=1)
    out: dict[str, Any] = {"size_bytes": {"float": float_path.stat().st_size, "int8": int8_path.stat().st_size}}
    errors = {}
    for name, run in runners.items():
        report = check_parity(run, forecaster, pipeline, tolerance=float("inf"), batch_sizes=(max(batches),), seed=1)
        errors[name] = report.max_rel
    out["max_rel_error"] = errors
    latency: dict[str, dict[str, float]] = {}
    for batch in batches:
        inputs = windows.take(batch).inputs(pipeline)
        reps = repeats if batch < 64 else max(5, repeats // 5)
        latency[str(batch)] = _median_ms(runners, inputs, reps)
    out["median_ms"] = latency
    return out


def int8_verdict(stats: dict[str, Any]) -> str:
    size = stats["size_bytes"]
    parts = [f"int8 is {size['int8'] / size['float']:.0%} of the float size"]
    faster = []
    for batch, ms in stats["median_ms"].items():
        ratio = ms["float"] / ms["int8"]
        parts.append(f"{ratio:.2f}x float's speed at batch {batch}")
        faster.append(ratio > 1.05)
    err = stats["max_rel_error"]
    parts.append(f"relative error {err['int8']:.2g} vs {err['float']:.2g} for float")
    verdict = "worth it where size or large-batch speed matters" if any(faster) else \
        "not faster here: use it only to shrink the file"
    return "; ".join(parts) + f" -> {verdict}."
