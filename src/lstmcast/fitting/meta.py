"""What a model directory's meta.json says about the fit: the training ranges, window counts,
ensemble members, validation scores and the run manifest (versions, device, time)."""

from __future__ import annotations

import importlib.metadata as md
import platform
from typing import Any

import torch

from lstmcast._version import __version__
from lstmcast.data.layout import ChannelLayout
from lstmcast.fitting.parts import TrainPart
from lstmcast.training.loop import FitResult

FINAL_FIT_TEXT = {"continue": "the validated weights trained further on all rows", "refit": "refit on all rows",
                  "none": "the validated weights"}


def fit_meta(*, frequency: str | None, season: int, layout: ChannelLayout, series: list[str], skipped: list[str],
             parts: list[TrainPart], refit: bool, final_fit: str, n_windows: dict[str, int], seed: int, results: list[FitResult],
             validation: dict[str, Any] | None, calibration: dict[str, Any] | None) -> dict[str, Any]:
    """The learned ``meta_`` of a fit (``train_seconds``, ``device`` and ``threads`` are added by the caller)."""
    return {
        "frequency": frequency,
        "season": season,
        "layout": layout.to_dict(),
        "calendar": list(layout.calendar),
        "channels": list(layout.channels),
        "series": series,
        "skipped_series": skipped,
        "ranges": {p.key: p.ranges() for p in parts},
        "final_fit": FINAL_FIT_TEXT[final_fit] if refit else "the validated weights",
        "n_windows": n_windows,
        "refit": refit,
        "ensemble": [{"seed": seed + k, "best_epoch": r.best_epoch, "epochs": len(r.history)}
                     for k, r in enumerate(results)],
        "validation": validation,
        **({"calibration": calibration} if calibration else {}),
        "val_windows_scored": results[0].val_windows,  # the fixed validation sample (train.val_windows)
    }


def saved_meta(meta: dict[str, Any], layout: ChannelLayout, history: FitResult | None,
               metrics: dict[str, Any] | None, run: dict[str, Any] | None) -> dict[str, Any]:
    """meta.json of a save: versions, the learned meta, the fit's stop and the run manifest."""
    out = {
        "lstmcast_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        **meta,
        "layout": layout.to_dict(),
        "stop_reason": getattr(history, "stop_reason", None),
        "best_epoch": getattr(history, "best_epoch", None),
        "events": getattr(history, "events", []),
        "run": run_manifest(meta, history, metrics, run),
    }
    out.pop("sha256", None)
    out.pop("format_version", None)
    return out


def run_manifest(meta: dict[str, Any], history: FitResult | None, metrics: dict[str, Any] | None,
                 run: dict[str, Any] | None) -> dict[str, Any]:
    """What a later reader needs to reproduce or compare the run: versions, device, time, results."""
    versions: dict[str, str | None] = {}
    for name in ("torch", "numpy", "pandas", "safetensors"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:  # pragma: no cover
            versions[name] = None
    return {
        **(run or {}),
        "packages": versions,
        "platform": platform.platform(),
        "device": meta.get("device"),
        "threads": meta.get("threads"),
        "train_seconds": meta.get("train_seconds"),
        "epochs": len(history.history) if history is not None else None,
        "final_metrics": (metrics or {}).get("metrics"),
    }
