"""Accuracy suite: lstmcast with its defaults next to strong statistical forecasts, on real data.

    python benchmarks/accuracy.py                                   # every dataset, seed 0
    python benchmarks/accuracy.py --datasets m3_quarterly --max-series 100 --seeds 0
    python benchmarks/accuracy.py --seeds 0,1,2 --set model.hidden_size=128   # a candidate default
    python benchmarks/accuracy.py --no-lstm                         # the baselines only
    python benchmarks/accuracy.py --quick                           # CI: baselines vs published

Datasets and holdouts (benchmarks/accuracy_data.py, docs/accuracy.md): M4 Hourly, M3 yearly /
quarterly / other, ETTh1 / ETTh2 (OT, h=24) and half-hourly electricity demand (last week).
Each dataset gives rows of one markdown table: lstmcast (defaults, plus ``--set`` overrides,
median over ``--seeds``), Naive, seasonal naive (each seasonal period of the data), Naive2,
statsforecast's AutoETS and AutoTheta, and the published figures of the protocol. Scores use
lstmcast.evaluation.metrics. Timings are CPU seconds (process time) of one process on one
torch thread; the statistical forecasts are cached in benchmarks/results/baselines/ (keyed by
dataset, data checksum and statsforecast version), so reruns only retrain lstmcast.

statsforecast is a benchmark-only dependency: ``pip install --no-deps -r requirements/bench.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_data import DATASETS, OPTIONAL, Task, load_task, subsample
from accuracy_stats import stat_forecasts, statsforecast_version
from accuracy_table import markdown

from lstmcast.errors import LstmcastError
from lstmcast.evaluation import baselines as B
from lstmcast.evaluation import metrics as M

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


# Published values the --quick slice must reproduce exactly (to the published decimals).
QUICK_CHECKS: tuple[tuple[str, str, str, float, int], ...] = (
    ("m3_yearly", "naive", "smape", 17.88, 2),
    ("m3_other", "naive", "smape", 6.30, 2),
    ("m4_hourly", "naive", "smape", 43.003, 3),
    ("m4_hourly", "snaive", "smape", 13.912, 3),
    ("m4_hourly", "snaive", "mase", 1.193, 3),
    ("m4_hourly", "naive2", "smape", 18.383, 3),
    ("m4_hourly", "naive2", "mase", 2.395, 3),
)

Forecasts = dict[str, np.ndarray]  # series id -> [n_origins, H]


# --------------------------------------------------------------------------- scoring


def score(task: Task, forecasts: Forecasts, *, with_owa: bool = True) -> dict[str, float]:
    """The task's metrics for ``forecasts`` (one ``[n_origins, H]`` array per series).

    M4: sMAPE and MASE per series, averaged over series; OWA against Naive2 on the same series.
    M3: the M3 sMAPE (:func:`metrics.smape_m3`) and MASE per series, averaged over series.
    The ``sm_*`` generalisation rows: sMAPE (M4 definition) and MASE per series, averaged.
    ETT / demand: MAE and MSE over every origin and step (ETT on the z-score scale).
    AirPassengers: MAPE and sMAPE (M4 definition) of its one window.
    """
    H = task.horizon
    if task.name.startswith(("m3", "m4", "sm_")):  # one origin per series: per series, averaged
        smape_fn = M.smape_m3 if task.name.startswith("m3") else M.smape
        smapes, mases = [], []
        for s in task.series:
            (_, truth), = s.windows(H)
            pred = forecasts[s.id][0]
            smapes.append(smape_fn(truth, pred))
            mases.append(M.mase(truth, pred, s.train, season=max(task.season, 1)))
        out = {"smape": float(np.mean(smapes)), "mase": float(np.mean(mases))}
        if "owa" in task.metrics and with_owa:
            ref = score(task, naive2_forecasts(task), with_owa=False)
            out["owa"] = M.owa(out["smape"], out["mase"], ref["smape"], ref["mase"])
        return out
    if "mape" in task.metrics:
        truth = np.concatenate([t for s in task.series for _, t in s.windows(H)])
        pred = np.concatenate([forecasts[s.id].ravel() for s in task.series])
        return {"mape": M.mape(truth, pred), "smape": M.smape(truth, pred)}
    offset, scale = task.scale
    truth = np.concatenate([np.stack([t for _, t in s.windows(H)]) for s in task.series])
    pred = np.concatenate([forecasts[s.id] for s in task.series])
    truth, pred = (truth - offset) / scale, (pred - offset) / scale
    return {"mae": M.mae(truth, pred), "mse": M.mse(truth, pred)}


# --------------------------------------------------------------------------- simple baselines


def _from_history(task: Task, fn: Callable[[np.ndarray], np.ndarray]) -> Forecasts:
    return {s.id: np.stack([fn(history) for history, _ in s.windows(task.horizon)]) for s in task.series}


def naive_forecasts(task: Task) -> Forecasts:
    return _from_history(task, lambda h: B.forecast_from_history("naive", h, task.horizon))


def snaive_forecasts(task: Task, season: int) -> Forecasts:
    """Seasonal naive from each origin's whole history (never from a model's input window);
    ValueError with the reason when a history is shorter than one season."""
    return _from_history(task, lambda h: B.forecast_from_history("seasonal_naive", h, task.horizon, season))


_NAIVE2: dict[tuple[str, tuple[str, ...]], Forecasts] = {}


def naive2_forecasts(task: Task) -> Forecasts:
    """M4 Naive2 from each origin's whole history, batched by history length (memoised)."""
    key = (task.name, tuple(s.id for s in task.series))
    if key not in _NAIVE2:
        by_length: dict[int, list[tuple[str, int, np.ndarray]]] = {}
        for s in task.series:
            for k, (history, _) in enumerate(s.windows(task.horizon)):
                by_length.setdefault(history.size, []).append((s.id, k, history))
        out: dict[str, dict[int, np.ndarray]] = {s.id: {} for s in task.series}
        for group in by_length.values():
            batch = np.stack([h for _, _, h in group])[:, :, None]  # [S', T, 1]
            forecast = B.naive2(batch, task.horizon, task.season)[:, :, 0]  # [S', H]
            for (sid, k, _), f in zip(group, forecast, strict=True):
                out[sid][k] = f
        _NAIVE2[key] = {sid: np.stack([v[k] for k in sorted(v)]) for sid, v in out.items()}
    return _NAIVE2[key]


# --------------------------------------------------------------------------- lstmcast


def _long_frame(task: Task, cut: Callable[[Any], int]) -> pd.DataFrame:
    parts = []
    for s in task.series:
        n = cut(s)
        parts.append(pd.DataFrame({"unique_id": s.id, "ds": task.dates(n), "y": s.values[:n]}))
    return pd.concat(parts, ignore_index=True)


def _forecast_means(fc: Any, horizon: int) -> dict[str, np.ndarray]:
    frame = fc.frame if hasattr(fc, "frame") else fc.to_frame()
    frame = frame.sort_values(["series", "step"])
    out = {}
    for key, group in frame.groupby("series", sort=False):
        out[str(key)] = group["mean"].to_numpy(np.float64)[:horizon]
    return out


def lstm_config(task: Task, overrides: Sequence[str], seed: int) -> Any:
    """lstmcast's defaults for this task's horizon; then ``train.seed`` and ``--set`` overrides.
    One torch thread (``train.threads=1``) for reproducible timings: not a modelling choice."""
    from lstmcast.config import DataConfig, ForecastConfig

    base = ForecastConfig(data=DataConfig(targets=("y",), series_col="unique_id", time_col="ds",
                                          horizon=task.horizon))
    runtime = [f"train.seed={seed}"]
    if "threads" in base.to_dict()["train"]:
        runtime.append("train.threads=1")
    return base.with_overrides([*runtime, *overrides])


def fit_lstm(task: Task, overrides: Sequence[str], seed: int) -> tuple[Any, pd.DataFrame, float]:
    """One lstmcast model fitted on every series' training part: (model, that frame, CPU seconds)."""
    import torch

    from lstmcast.forecaster import Forecaster

    torch.set_num_threads(1)
    train = _long_frame(task, lambda s: s.train_end)
    started = time.process_time()
    model = Forecaster(lstm_config(task, overrides, seed)).fit(train)
    return model, train, time.process_time() - started


def forecast_origins(task: Task, model: Any, train: pd.DataFrame) -> Forecasts:
    """The fitted model's mean forecast from each scored origin of every series."""
    out: dict[str, list[np.ndarray]] = {s.id: [] for s in task.series}
    for k in range(max(len(s.origins) for s in task.series)):  # M3/M4/demand: one origin each
        members = [s for s in task.series if len(s.origins) > k]
        if len(members) == len(task.series) and all(s.origins[k] == s.train_end for s in members):
            frame = train
        else:
            frame = _long_frame(Task(**{**task.__dict__, "series": members}), lambda s, k=k: s.origins[k])
        means = _forecast_means(model.predict(frame), task.horizon)
        for s in members:
            out[s.id].append(means[s.id])
    return {k: np.stack(v) for k, v in out.items()}


def lstm_forecasts(task: Task, overrides: Sequence[str], seed: int) -> tuple[Forecasts, dict[str, Any]]:
    """Fit one lstmcast model on every series' training part; forecast from each origin."""
    started = time.process_time()
    model, train, fit_seconds = fit_lstm(task, overrides, seed)
    forecasts = forecast_origins(task, model, train)
    seconds = time.process_time() - started
    resolved = model.config_
    info = {"seed": seed, "fit_seconds": round(fit_seconds, 3), "seconds": round(seconds, 3),
            "input_length": resolved.data.input_length, "patch_length": resolved.model.patch_length,
            "num_layers": resolved.model.num_layers, "train_windows": model.meta_.get("n_windows", {}).get("train"),
            "theta_weight": resolved.model.theta_weight, "ets_weight": resolved.model.ets_weight or 0.0,
            "config": lstm_config(task, overrides, seed).to_dict()}
    return forecasts, info


# --------------------------------------------------------------------------- one dataset


def _lstm_runs(task: Task, seeds: Sequence[int], overrides: Sequence[str], scores: dict[str, dict[str, float]],
               seconds: dict[str, float], notes: dict[str, str]) -> list[dict[str, Any]]:
    """lstmcast over ``seeds``: the per-seed runs; the median scores and seconds, and a note
    (the seeds, the overrides, the resolved window, patch and depth), go into the given dicts."""
    runs: list[dict[str, Any]] = []
    for seed in seeds:
        try:
            forecasts, info = lstm_forecasts(task, overrides, seed)
            info["scores"] = score(task, forecasts)
        except (LstmcastError, ValueError) as exc:  # refused data, or unscorable forecasts
            notes["lstmcast"] = f"{type(exc).__name__}: {exc}"
            return []
        print(f"{task.name}: lstmcast seed {seed}: {info['scores']} in {info['seconds']:.1f} CPU s "
              f"(theta weight {info['theta_weight']:g}, ETS weight {info['ets_weight']:g})",
              file=sys.stderr, flush=True)
        runs.append(info)
    if runs:
        scores["lstmcast"] = {m: float(np.median([r["scores"][m] for r in runs])) for m in runs[0]["scores"]}
        seconds["lstmcast"] = float(np.median([r["seconds"] for r in runs]))
        notes["lstmcast"] = (f"median of seeds {','.join(str(r['seed']) for r in runs)}"
                             + (f"; --set {' '.join(overrides)}" if overrides else "; defaults")
                             + f"; window {runs[0]['input_length']}, patch {runs[0]['patch_length']}"
                             + f", {runs[0]['num_layers']} layer(s)"
                             + "; theta / ETS weight " + ", ".join(f"{r['theta_weight']:g}/{r['ets_weight']:g}"
                                                                      for r in runs))
    return runs


def run_task(task: Task, *, seeds: Sequence[int], overrides: Sequence[str], lstm: bool, stats: bool,
             refresh: bool = False) -> dict[str, Any]:
    """Every method on ``task``: ``{"scores": {method: {metric: value}}, "seconds": {...},
    "notes": {...}}``; a method that could not run has a note saying why and no scores."""
    scores: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    notes: dict[str, str] = {}
    simple: list[tuple[str, Callable[[], Forecasts]]] = [("naive", lambda: naive_forecasts(task))]
    if task.seasons:
        simple.append(("snaive", lambda: snaive_forecasts(task, task.seasons[0])))
        notes["snaive"] = f"m={task.seasons[0]}"
    else:
        notes["snaive"] = "m=1: the data have no seasonal period, sNaive is Naive"
    if len(task.seasons) > 1:
        simple.append(("snaive_long", lambda: snaive_forecasts(task, task.seasons[1])))
        notes["snaive_long"] = f"m={task.seasons[1]}"
    if task.name.startswith(("m3", "m4")):
        simple.append(("naive2", lambda: naive2_forecasts(task)))
    for name, make in simple:
        started = time.process_time()
        try:
            forecasts = make()
        except ValueError as exc:  # e.g. a history shorter than one season
            notes[name] = str(exc)
            continue
        scores[name] = score(task, forecasts)
        seconds[name] = time.process_time() - started
    if stats:
        for name in ("ets", "theta"):
            forecasts, secs, note = stat_forecasts(task, name, refresh=refresh)
            notes[name] = note
            if name == "ets" and task.season > 24:
                notes[name] += (f"; season {task.season} > 24: statsforecast's ETS (like R's) fits no "
                                "seasonal component then")
            if forecasts is not None:
                scores[name] = score(task, forecasts)
                seconds[name] = secs
    runs = _lstm_runs(task, seeds, overrides, scores, seconds, notes) if lstm else []
    return {"dataset": task.name, "title": task.title, "horizon": task.horizon, "seasons": list(task.seasons),
            "n_series": len(task.series), "n_windows": sum(len(s.origins) for s in task.series),
            "protocol": task.notes, "scores": scores, "seconds": seconds, "notes": notes,
            "lstmcast_runs": [{k: v for k, v in r.items() if k != "config"} for r in runs],
            "lstmcast_config": runs[0]["config"] if runs else None, "published": task.published}


# --------------------------------------------------------------------------- quick slice


def quick(data_dir: Path) -> list[dict[str, Any]]:
    """The baselines against their published values: ``[{dataset, method, metric, published,
    got, ok}]``, ``ok`` when ``got`` rounds to ``published`` at the published decimals."""
    cache: dict[str, Task] = {}
    makers = {"naive": naive_forecasts, "snaive": lambda t: snaive_forecasts(t, t.season),
              "naive2": naive2_forecasts}
    out = []
    for dataset, method, metric, published, decimals in QUICK_CHECKS:
        task = cache.setdefault(dataset, load_task(dataset, data_dir))
        got = score(task, makers[method](task))[metric]
        out.append({"dataset": dataset, "method": method, "metric": metric, "published": published,
                    "got": got, "ok": round(got, decimals) == round(published, decimals)})
    return out


# --------------------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,1,2; got {text!r}") from None


def _datasets(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in DATASETS + OPTIONAL]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown dataset(s) {unknown or [text]}; valid: {', '.join(DATASETS + OPTIONAL)}")
    return names


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, default=float), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=_datasets, default=list(DATASETS),
                        help=f"comma-separated subset of {','.join(DATASETS)} (default: all), or {','.join(OPTIONAL)} "
                             f"(files not in shared/data: docs/accuracy.md)")
    parser.add_argument("--seeds", type=_ints, default=[0], help="lstmcast seeds, e.g. 0,1,2 (median reported)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="ForecastConfig override for lstmcast only (repeatable)")
    parser.add_argument("--max-series", type=int, default=None, metavar="N",
                        help="a fixed subsample of N series per dataset (for fast experiments)")
    parser.add_argument("--no-lstm", action="store_true", help="baselines only")
    parser.add_argument("--no-stats", action="store_true", help="skip AutoETS / AutoTheta")
    parser.add_argument("--refresh", action="store_true", help="recompute the cached AutoETS / AutoTheta")
    parser.add_argument("--quick", action="store_true", help="check the baselines reproduce published values")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    command = "python benchmarks/accuracy.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if not args.data_dir.is_dir():
        parser.error(f"data directory {args.data_dir} not found; pass --data-dir (the files of shared/data)")
    if args.max_series is not None and args.max_series < 1:
        parser.error(f"--max-series must be a positive integer, got {args.max_series}")
    if args.quick:
        checks = quick(args.data_dir)
        print("| dataset | method | metric | published | reproduced | ok |\n|---|---|---|---|---|---|")
        for c in checks:
            print(f"| {c['dataset']} | {c['method']} | {c['metric']} | {c['published']} | {c['got']:.4f} | "
                  f"{'yes' if c['ok'] else 'NO'} |")
        if args.json:
            _write_json(args.json, {"quick": checks, "command": command})
        return 0 if all(c["ok"] for c in checks) else 1
    if not args.no_lstm:
        from lstmcast.config import ForecastConfig

        try:  # a bad --set is a usage error, found before any training
            ForecastConfig().with_overrides(args.set)
        except LstmcastError as exc:
            parser.error(f"--set: {exc}")
    results = []
    for name in args.datasets:
        try:
            task = subsample(load_task(name, args.data_dir), args.max_series)
        except LstmcastError as exc:
            parser.error(f"--datasets {name}: {exc}")
        started = time.process_time()
        result = run_task(task, seeds=args.seeds, overrides=args.set, lstm=not args.no_lstm,
                          stats=not args.no_stats, refresh=args.refresh)
        result["wall_cpu_seconds"] = round(time.process_time() - started, 3)
        results.append(result)
        print(f"{name}: done in {result['wall_cpu_seconds']:.1f} CPU s", file=sys.stderr, flush=True)
    print(markdown(results, command))
    if args.json:
        _write_json(args.json, {"command": command, "results": results,
                                "statsforecast": statsforecast_version()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
