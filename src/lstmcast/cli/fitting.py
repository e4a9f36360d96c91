"""Commands that fit and score: demo, train, predict, evaluate, backtest."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from lstmcast.cli.common import (
    CommandError,
    Progress,
    _align_columns,
    _build_config,
    _emit_json,
    _plot_writers,
    _print_rows,
    _print_scores,
    _stderr,
    baseline_verdicts,
)
from lstmcast.errors import LstmcastError


def _train_and_report(args: argparse.Namespace, frame: Any, config: Any, out: Path, source: str,
                      noise_floor: float | None = None) -> dict[str, Any]:
    from lstmcast.forecaster import Forecaster

    ctx = None
    if getattr(args, "distributed", False):  # one process of a torchrun job
        from lstmcast.training.distributed import init_distributed

        ctx = init_distributed(config.train.device)
        ctx.sharded = getattr(args, "sharded", False)  # scaleout: each rank holds its own series
    try:
        quiet = args.quiet or (ctx is not None and not ctx.is_main)
        callbacks: list[Any] = [Progress(not quiet)]
        if getattr(args, "tensorboard", None) and (ctx is None or ctx.is_main):
            from lstmcast.training.tensorboard import TensorBoardLogger

            callbacks.append(TensorBoardLogger(args.tensorboard))
        checkpoint = getattr(args, "checkpoint", None)
        resume = checkpoint if getattr(args, "resume", None) else None
        forecaster = Forecaster(config).fit(frame, callbacks=callbacks, source=source, distributed=ctx,
                                            checkpoint=checkpoint, resume=resume)
        if ctx is not None:  # scaleout: with sharded data, every rank's scalers and scores in one model
            ctx.merge(forecaster)
    finally:
        if ctx is not None:
            ctx.close()
    if ctx is not None and not ctx.is_main:
        return {}  # only rank 0 scores, writes and prints
    if forecaster.config_.data.test_fraction > 0:  # a benchmark protocol holding out a test part
        scores = forecaster.evaluate(frame, source=source)
        hist = forecaster.historical_forecasts(frame, source=source)
        title = "Test metrics (original units)"
    else:  # forecast-first: the scores are those of the validation windows, before the refit
        scores, hist = forecaster.validation_, forecaster.validation_forecast_
        title = "Validation metrics: the last horizon of each series, before the final refit (original units)"
    writers = _plot_writers(forecaster, hist)
    model_dir = out / "model" if args.command == "demo" else out
    forecaster.save(model_dir, extras=writers, metrics=scores, run=getattr(args, "manifest", None))
    paths = {"model": str(model_dir)}
    if args.command == "demo":
        for name, writer in writers.items():
            writer(out / name)
            paths[name.removesuffix(".png") + "_plot"] = str(out / name)
    else:
        for name in writers:
            paths[name.removesuffix(".png") + "_plot"] = str(model_dir / name)
    result = forecaster.history_
    scores = scores or {"metrics": {}, "baselines": {}, "n_windows": 0, "horizon": forecaster.config_.data.horizon}
    payload = {
        "command": args.command,
        "scored_on": "test" if forecaster.config_.data.test_fraction > 0 else "validation",
        "metrics": scores["metrics"],
        "baselines": scores["baselines"],
        "baselines_missing": scores.get("baselines_missing", {}),
        "n_windows": scores["n_windows"],
        "verdicts": baseline_verdicts(scores),
        "training": {"epochs": len(result.history), "best_epoch": result.best_epoch,
                     "stop_reason": result.stop_reason, "seconds": round(result.seconds, 3),
                     "events": result.events},
        "paths": paths,
    }
    for key in ("per_target", "probabilistic"):
        if key in scores:
            payload[key] = scores[key]
    if noise_floor is not None:
        payload["noise_floor"] = noise_floor
        payload["rmse_over_noise_floor"] = scores["metrics"]["rmse"] / noise_floor
    if args.json:
        _emit_json(payload)
    else:
        extra = [("noise floor", {"rmse": noise_floor, "mae": noise_floor * math.sqrt(2 / math.pi)})] \
            if noise_floor else []
        if scores["n_windows"]:
            _print_scores(scores, extra, title=title)
        else:
            print("No series was long enough to hold out a validation horizon; nothing was scored.")
        for event in result.events:
            print(f"- {event}")
        for name, path in paths.items():
            print(f"{name}: {path}")
    return payload


def _demo_inputs(data_seed: int) -> tuple[Any, Any]:
    """The demo's series (noisy sine, 1000 points, noise std 0.1) and its base configuration."""
    from lstmcast.config import DataConfig, ForecastConfig, ModelConfig
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(n_points=1000, noise_std=0.1, seed=data_seed)
    # the tutorial's own setup: a 70/10/20 chronological split scored on its test part, min-max
    # scaling to [-1, 1], an LSTM + Linear trained with MSE
    data = DataConfig(targets=("value",), input_length=20, horizon=1, scaler="minmax",
                      val_fraction=0.1, test_fraction=0.2)
    return frame, ForecastConfig(data=data, model=ModelConfig(head="point", normalization="none", patch_length=0,
                                                                 ensemble=1))


def cmd_demo(args: argparse.Namespace) -> int:
    frame, base = _demo_inputs(args.data_seed)
    config = _build_config(args, base)
    out = Path(args.out)
    if not args.json:
        print("Demo: noisy sine (1000 points, noise std 0.1), windows of 20, LSTM(64) + Linear, "
              "scaler fitted on the training part only.")
    _train_and_report(args, frame, config, out, source="the demo series", noise_floor=0.1)
    return 0


def _run_dir(out: Path) -> Path:
    """Where a training run keeps its checkpoint and run record until the model is saved."""
    return out.with_name(out.name + ".partial")


def cmd_train(args: argparse.Namespace) -> int:
    from lstmcast.cli.sharded import data_sha256, train_input  # scaleout: files or datasets
    from lstmcast.config import ForecastConfig

    if args.resume:
        run_dir = _run_dir(Path(args.resume))
        record_path = run_dir / "run.json"
        if not (run_dir / "checkpoint.pt").is_file() or not record_path.is_file():
            raise CommandError(
                f"Nothing to resume for {args.resume}: {run_dir} holds no checkpoint. Start the run "
                f"with `lstmcast train ... --out {args.resume}`; it checkpoints every epoch."
            )
        if args.set or args.config:
            raise CommandError("--resume continues a run with its saved config; drop --set/--config.")
        record = json.loads(record_path.read_text(encoding="utf-8"))
        args.data = args.data or record["data"]
        if data_sha256(args.data) != record["data_sha256"]:
            raise CommandError(
                f"{args.data} differs from the file the run started on (checksum mismatch); resuming would "
                "not reproduce the run. Give the original file with --data."
            )
        config = ForecastConfig.from_dict(record["config"])
        args.out = args.resume
    else:
        if not args.data:
            raise CommandError("train needs --data FILE (or --resume DIR to continue a run).")
        if not args.out:
            raise CommandError("train needs --out DIR, the model directory to write.")
        config = _build_config(args)
    import shutil

    frame, config = train_input(args, config)
    out = Path(args.out)
    run_dir = _run_dir(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _RunLock(run_dir, out):
        if not args.resume:  # a new run: nothing of a killed earlier run may be resumed into it
            import os

            for stale in run_dir.glob("checkpoint.pt*") if os.environ.get("RANK", "0") == "0" else ():
                stale.unlink(missing_ok=True)
            record = {"data": str(args.data), "data_sha256": data_sha256(args.data),
                      "config": config.to_dict(), "argv": sys.argv[1:]}
            from lstmcast._json import write_text_atomic

            write_text_atomic(run_dir / "run.json", json.dumps(record, indent=2))
        args.checkpoint = run_dir / "checkpoint.pt"
        args.manifest = {"data_file": str(args.data), "data_sha256": record["data_sha256"], "argv": record["argv"],
                         "resumed": bool(args.resume)}
        try:
            _train_and_report(args, frame, config, out, source=str(args.data))
        except LstmcastError:
            if not (run_dir / "checkpoint.pt").is_file():  # nothing to resume: leave nothing behind
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
    shutil.rmtree(run_dir, ignore_errors=True)  # the model is saved: the checkpoint has served
    return 0


class _RunLock:
    """An exclusive lock on a run directory: two `train --out SAME` at once are refused."""

    def __init__(self, run_dir: Path, out: Path) -> None:
        self.path, self.out, self.handle = run_dir / "lock", out, None

    def __enter__(self) -> None:
        import fcntl
        import os

        if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 owns the run directory
            return
        self.handle = open(self.path, "w")  # held until __exit__
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise CommandError(f"Another `lstmcast train` is writing {self.out} right now (it holds "
                               f"{self.path}); wait for it, or choose another --out.") from None

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def _write_forecast_plot(forecast: Any, frame: Any, forecaster: Any, args: argparse.Namespace) -> None:
    """predict --plot: the recent history, the forecast and its band (a grid for many series)."""
    from lstmcast.errors import DataError

    if not str(args.plot).lower().endswith(".png"):
        raise CommandError(f"--plot {args.plot}: the picture is written as PNG; give a file name ending in .png.")
    try:
        forecast.plot(frame, args.plot, series=args.plot_series, window=args.plot_window,
                      series_col=forecaster.config.data.series_col)
    except DataError as error:
        raise CommandError(f"--plot: {error}") from None


def cmd_predict(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    if Path(args.data).is_dir():  # scaleout: a dataset directory, one part file per rank under torchrun
        from lstmcast.cli.sharded import cmd_predict_dataset

        return cmd_predict_dataset(args)
    forecaster = Forecaster.load(args.model, device=args.device)
    frame = _align_columns(read_table(args.data), forecaster, args)
    future = _align_columns(read_table(args.future), forecaster, args) if args.future else None
    forecast = forecaster.predict(frame, future=future, source=str(args.data), horizon=args.horizon)
    table = forecast.to_frame()
    payload: dict[str, Any] = {"command": "predict", "rows": len(table),
                               "horizon": args.horizon or forecaster.config_.data.horizon,
                               "notes": list(getattr(forecast, "notes", []))}
    if not args.json:
        for note in payload["notes"]:
            _stderr(f"note: {note}")
    if args.out:
        payload["paths"] = {"forecast": str(forecast.to_csv(args.out))}
    if args.plot:
        _write_forecast_plot(forecast, frame, forecaster, args)
        payload.setdefault("paths", {})["plot"] = str(args.plot)
    if args.json:
        payload["forecast"] = json.loads(table.to_json(orient="records", date_format="iso"))
        _emit_json(payload)
    elif args.out or args.plot:
        for what, path in payload["paths"].items():
            print(f"{what} written to {path}" + (f" ({len(table)} rows)" if what == "forecast" else ""))
    else:
        print(table.to_csv(index=False), end="")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    if args.holdout is not None:
        return _evaluate_holdout(args)
    if not args.model:
        raise CommandError("evaluate needs --model DIR (score a trained model on the file's last part) or "
                           "--holdout H (train on all but the last H steps of each series, score those).")
    forecaster = Forecaster.load(args.model, device=args.device)
    frame = _align_columns(read_table(args.data), forecaster, args)
    scores = forecaster.evaluate(frame, part=args.part, source=str(args.data), season=args.season)
    scores["verdicts"] = baseline_verdicts(scores)
    if args.json:
        _emit_json({"command": "evaluate", **scores})
    else:
        what = "the last horizon of each series" if not forecaster.config_.data.uses_fractions else \
            f"the {args.part} part"
        _print_scores(scores, title=f"Metrics on {what} of {args.data}")
    return 0


def _evaluate_holdout(args: argparse.Namespace) -> int:
    """Train on all but the last H rows of each series, forecast them, score them."""
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    if args.model:
        raise CommandError("--holdout trains a fresh model; drop --model (or drop --holdout to score that model).")
    holdout = args.holdout
    if holdout < 1:
        raise CommandError(f"--holdout must be a positive number of steps; got {holdout}.")
    if args.horizon is not None and args.horizon != holdout:
        raise CommandError(f"--holdout {holdout} scores {holdout} steps, so the model's horizon is {holdout}; "
                           f"drop --horizon {args.horizon}.")
    args.horizon = holdout
    config = _build_config(args)
    frame = read_table(args.data)
    series_col = config.data.series_col
    if series_col is not None and series_col in frame:
        train = frame[frame.groupby(series_col, sort=False).cumcount(ascending=False).to_numpy() >= holdout]
    else:
        train = frame.iloc[:-holdout]
    if train.empty:
        raise CommandError(f"{args.data} has no rows left after holding out the last {holdout} of each series.")
    forecaster = Forecaster(config).fit(train, callbacks=[Progress(not args.quiet)], source=str(args.data))
    scores = forecaster.evaluate(frame, source=str(args.data), season=args.season)
    scores["holdout"] = holdout
    scores["verdicts"] = baseline_verdicts(scores)
    if args.json:
        _emit_json({"command": "evaluate", **scores})
    else:
        _print_scores(scores, title=f"Held-out metrics: the last {holdout} steps of each series of {args.data}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.evaluation.backtest import METRICS, backtest, write_backtest

    config = _build_config(args)
    frame = read_table(args.data)
    result = backtest(config, frame, folds=args.folds, step=args.step, refit=args.refit, season=args.season,
                      callbacks=[Progress(not args.quiet)], source=str(args.data))
    paths = write_backtest(result, args.out)
    summary = result.to_dict()
    if args.json:
        _emit_json({"command": "backtest", **summary, "paths": paths})
        return 0
    s = result.settings
    rows = [[name, *(values[m] for m in METRICS)] for name, values in result.overall.items()]
    _print_rows(f"Backtest of {args.data}: {s['folds']} folds, step {s['step']}, horizon {s['horizon']}, "
                f"{'refit per fold' if s['refit'] else 'one model, no refit'}",
                ["model", *(m.upper() for m in METRICS)], rows, caption="original units, mean over folds")
    methods = list(result.overall)
    fold_rows = [[entry["fold"], entry["origin"], *(entry[m]["mase"] for m in methods)] for entry in summary["per_fold"]]
    _print_rows("MASE per fold", ["fold", "origin", *methods], fold_rows)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
