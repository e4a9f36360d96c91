"""The accuracy suite's statistical forecasts: statsforecast's AutoETS and AutoTheta, cached.

They are slow (minutes on M4 Hourly) and do not depend on lstmcast, so their forecasts are
stored in ``benchmarks/results/baselines/<dataset>.json``, keyed by the data's checksum, the
horizon, the seasonal period and the statsforecast version (docs/accuracy.md). Without
statsforecast installed the cache is used as it is.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from accuracy_data import Task

__all__ = ["CACHE_DIR", "CACHE_VERSION", "stat_forecasts", "stat_series", "statsforecast_version"]

CACHE_DIR = Path(__file__).resolve().parent / "results" / "baselines"
CACHE_VERSION = 1

Forecasts = dict[str, np.ndarray]  # series id -> [n_origins, H]


def statsforecast_version() -> str | None:
    try:
        import statsforecast
    except ImportError:
        return None
    return str(statsforecast.__version__)


def _stat_model(name: str, season: int) -> Any:
    from statsforecast.models import AutoETS, AutoTheta

    return AutoETS(season_length=season) if name == "ets" else AutoTheta(season_length=season)


def stat_series(name: str, task: Task, values: np.ndarray, train_end: int, origins: Sequence[int]) -> np.ndarray:
    """One model fitted on ``values[:train_end]``, forecasting from each origin with the fitted
    parameters (``forward``: the state is filtered through the history up to the origin)."""
    model = _stat_model(name, task.season)
    if len(origins) == 1 and origins[0] == train_end:
        return np.asarray(model.forecast(y=values[:train_end], h=task.horizon)["mean"])[None]
    model.fit(values[:train_end])
    return np.stack([np.asarray(model.forward(y=values[:o], h=task.horizon)["mean"]) for o in origins])


def _cache_path(task: Task) -> Path:
    return CACHE_DIR / f"{task.name}.json"


def _read_cache(task: Task, version: str | None) -> dict[str, Any]:
    path = _cache_path(task)
    if not path.is_file():
        return {}
    cache = json.loads(path.read_text(encoding="utf-8"))
    key = (cache.get("cache_version"), cache.get("sha256"), cache.get("horizon"), cache.get("season"))
    if key != (CACHE_VERSION, task.sha256, task.horizon, task.season):
        return {}
    if version is not None and cache.get("statsforecast") != version:
        return {}  # recompute with the installed version
    return cache


def _write_cache(task: Task, cache: dict[str, Any]) -> None:
    path = _cache_path(task)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(cache, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def stat_forecasts(task: Task, name: str, refresh: bool = False) -> tuple[Forecasts | None, float, str]:
    """AutoETS / AutoTheta forecasts of every series of ``task`` (cached), their CPU seconds
    (as measured when they were computed) and a note ("cached", or why they are missing)."""
    version = statsforecast_version()
    cache = {} if refresh else _read_cache(task, version)
    method = cache.get("methods", {}).get(name, {})
    stored, seconds = method.get("forecasts", {}), method.get("seconds", {})
    missing = [s for s in task.series if s.id not in stored]
    note = f"cached (statsforecast {cache.get('statsforecast')})" if cache and not missing else ""
    if missing:
        if version is None:
            return None, math.nan, "statsforecast not installed: pip install --no-deps -r requirements/bench.txt"
        cache = cache or {"cache_version": CACHE_VERSION, "dataset": task.name, "sha256": task.sha256,
                          "horizon": task.horizon, "season": task.season, "statsforecast": version,
                          "methods": {}}
        cache["methods"][name] = {"forecasts": stored, "seconds": seconds}
        saved = time.monotonic()
        for s in missing:
            started = time.process_time()
            stored[s.id] = [[float(f"{v:.10g}") for v in row]
                            for row in stat_series(name, task, s.values, s.train_end, s.origins)]
            seconds[s.id] = round(time.process_time() - started, 4)
            if time.monotonic() - saved > 60:  # a long run keeps what it has done so far
                _write_cache(task, cache)
                saved = time.monotonic()
        _write_cache(task, cache)
        note = f"statsforecast {version}"
    forecasts = {s.id: np.asarray(stored[s.id], dtype=np.float64) for s in task.series}
    return forecasts, float(sum(seconds[s.id] for s in task.series)), note
