"""After a fit on series-sharded data: every rank's per-series state, merged into one model.

Each rank of a sharded run (:mod:`lstmcast.data.dataset`, ``DistributedContext.sharded``) fits
the scalers of its own series and scores the validation windows of its own series. The network
is already the same on every rank (DDP); :func:`merge_fit` gathers the small per-series state
(scalers, training ranges, window counts, validation scores) so the forecaster on every rank,
and the model directory rank 0 writes, covers every series.

Validation scores merge exactly: every metric is a mean over windows of equal size (H steps x T
targets), so the merged value is the window-weighted mean of the ranks' values, and RMSE the
root of the weighted mean of the squares.
"""

from __future__ import annotations

import math
import re
from typing import Any

from lstmcast.config import ForecastConfig
from lstmcast.data.scaling import Scaler
from lstmcast.errors import ConfigError, DataError
from lstmcast.training.distributed import DistributedContext

SCORE_SECTIONS = ("metrics", "probabilistic")
NESTED_SECTIONS = ("baselines", "per_target")


def check_sharded_config(config: ForecastConfig) -> None:
    """Refuse what a sharded run cannot do the same way on every rank."""
    if config.model.conformal:
        raise ConfigError("model.conformal=true calibrates on every validation window at once, which a run on "
                          "series-sharded data (a dataset directory under torchrun) does not hold in one process; "
                          "train without it (--set model.conformal=false), or from one process.")


def merge_fit(forecaster: Any, ctx: DistributedContext) -> None:
    """Give ``forecaster`` (fitted on this rank's series) every rank's per-series state.

    Every rank must call it (it gathers). Afterwards ``scalers_`` holds every series' scaler,
    and ``meta_`` / ``validation_`` describe the whole dataset; ``meta_["shards"]`` records how
    the series were spread. The validation forecast (``forecast.png``) stays rank 0's series.
    """
    meta = forecaster.meta_
    mine = {"scalers": {k: s.to_dict() for k, s in forecaster.scalers_.items()}, "series": meta["series"],
            "skipped": meta["skipped_series"], "ranges": meta["ranges"], "n_windows": meta["n_windows"],
            "validation": forecaster.validation_, "layout": meta["layout"], "frequency": meta["frequency"]}
    parts = ctx.gather(mine)
    for rank, part in enumerate(parts):
        for what in ("layout", "frequency"):
            if part[what] != parts[0][what]:
                raise DataError(f"The series of process {rank} have another {what} ({part[what]}) than those of "
                                f"process 0 ({parts[0][what]}); every series of a dataset needs the same columns "
                                "and time step.")
    forecaster.scalers_ = {k: Scaler.from_dict(v) for part in parts for k, v in part["scalers"].items()}
    meta["series"] = [key for part in parts for key in part["series"]]
    meta["skipped_series"] = [key for part in parts for key in part["skipped"]]
    meta["ranges"] = {k: v for part in parts for k, v in part["ranges"].items()}
    meta["n_windows"] = {k: sum(p["n_windows"].get(k, 0) for p in parts) for k in parts[0]["n_windows"]}
    history = getattr(forecaster, "history_", None)
    if history is not None and "final" in meta["n_windows"]:  # the final fit's note counted this rank's windows
        history.events = [re.sub(r"^(refit|continued) on all \d+ windows",
                                 lambda m: f"{m[1]} on all {meta['n_windows']['final']} windows", event)
                          for event in history.events]
    forecaster.validation_ = merge_scores([p["validation"] for p in parts])
    meta["validation"] = forecaster.validation_
    meta["shards"] = {"processes": ctx.world_size, "series": [len(p["series"]) for p in parts],
                      "train_windows": [p["n_windows"].get("train", 0) for p in parts]}


def merge_scores(scores: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Validation scores of disjoint sets of windows, merged into the scores of their union."""
    given = [s for s in scores if s and s.get("n_windows")]
    if not given:
        return None
    weights = [float(s["n_windows"]) for s in given]
    out = dict(given[0])
    out["n_windows"] = int(sum(weights))
    for section in SCORE_SECTIONS:
        if section in out:
            out[section] = _weighted([s[section] for s in given], weights)
    for section in NESTED_SECTIONS:
        if section in out:
            out[section] = {name: _weighted([s[section][name] for s in given], weights) for name in out[section]}
    missing: dict[str, str] = {}
    for s in given:
        missing.update(s.get("baselines_missing", {}))
    if missing:
        out["baselines_missing"] = missing
    return out


def _weighted(values: list[dict[str, float]], weights: list[float]) -> dict[str, float]:
    total = sum(weights)
    out = {}
    for name in values[0]:
        if name == "rmse":
            out[name] = math.sqrt(sum(w * v[name] ** 2 for v, w in zip(values, weights, strict=True)) / total)
        else:
            out[name] = sum(w * v[name] for v, w in zip(values, weights, strict=True)) / total
    return out
