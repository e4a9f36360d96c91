"""Commands that fit and score: demo, train, predict, evaluate, backtest."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmcast.cli.common import (
    CommandError,
    Progress,
    align_columns,
    baseline_verdicts,
    build_config,
    derived_line,
    derived_settings,
    emit_json,
    plot_writers,
    print_rows,
    print_scores,
    to_stderr,
)
from lstmcast.config import ForecastConfig
from lstmcast.errors import RunError

if TYPE_CHECKING:
    from lstmcast.forecaster import Forecaster
    from lstmcast.runs import Run


def _fit(args: argparse.Namespace, frame: Any, config: Any, source: str, run: Run | None) -> Forecaster | None:
    """Train (one process of a torchrun job with --distributed); None on the ranks that do not write."""
    from lstmcast.forecaster import Forecaster

    ctx = None
    if getattr(args, "distributed", False):  # one process of a torchrun job
        from lstmcast.training.distributed import init_distributed

        ctx = init_distributed(config.train.device)
        ctx.sharded = getattr(args, "sharded", False)  # each rank holds only its own series
    try:
        quiet = args.quiet or (ctx is not None and not ctx.is_main)
        callbacks: list[Any] = [Progress(not quiet)]
        if getattr(args, "tensorboard", None) and (ctx is None or ctx.is_main):
            from lstmcast.training.tensorboard import TensorBoardLogger

            callbacks.append(TensorBoardLogger(args.tensorboard))
        forecaster = Forecaster(config).fit(frame, callbacks=callbacks, source=source, distributed=ctx, run=run)
        if ctx is not None:  # with sharded data, every rank's scalers and scores in one model
            ctx.merge(forecaster)
    finally:
        if ctx is not None:
            ctx.close()
    return forecaster if ctx is None or ctx.is_main else None  # only rank 0 scores, writes and prints


def _scores(forecaster: Forecaster, frame: Any, source: str) -> tuple[dict[str, Any], Any, str]:
    if forecaster.config_.data.test_fraction > 0:  # a benchmark protocol holding out a test part
        return (forecaster.evaluate(frame, source=source), forecaster.historical_forecasts(frame, source=source),
                "Test metrics (original units)")
    # forecast-first: the scores are those of the validation windows, before the refit
    return (forecaster.validation_ or {}, forecaster.validation_forecast_,
            "Validation metrics: the last horizon of each series, before the final fit on all rows (original units)")


def _train_and_report(args: argparse.Namespace, frame: Any, config: Any, out: Path, source: str,
                      noise_floor: float | None = None, run: Run | None = None) -> dict[str, Any]:
    from lstmcast.persistence import writing

    def kept() -> str:
        if run is not None and run.checkpoint.is_file():
            return f"the last complete checkpoint is kept: continue with `lstmcast train --resume {out}` once there is room"
        return "nothing of this run is kept"

    with writing(run.dir if run else out, "the run's checkpoint", kept):
        forecaster = _fit(args, frame, config, source, run)
    if forecaster is None:
        if run is not None:
            run.finish()
        return {}
    scores, hist, title = _scores(forecaster, frame, source)
    writers = plot_writers(forecaster, hist)
    model_dir = out / "model" if args.command == "demo" else out
    if run is not None:
        run.finish(forecaster, extras=writers, metrics=scores or None)
    else:
        forecaster.save(model_dir, extras=writers, metrics=scores or None)
    paths = {"model": str(model_dir)}
    if args.command == "demo":
        with writing(out, "the demo's plots", "the model was saved"):
            for name, writer in writers.items():
                writer(out / name)
                paths[name.removesuffix(".png") + "_plot"] = str(out / name)
    else:
        for name in writers:
            paths[name.removesuffix(".png") + "_plot"] = str(model_dir / name)
    scores = scores or {"metrics": {}, "baselines": {}, "n_windows": 0, "horizon": forecaster.config_.data.horizon}
    payload = _train_payload(args, forecaster, scores, paths, noise_floor)
    if args.json:
        emit_json(payload)
    else:
        _print_training(scores, title, payload, noise_floor)
    return payload


def _train_payload(args: argparse.Namespace, forecaster: Forecaster, scores: dict[str, Any], paths: dict[str, str],
                   noise_floor: float | None) -> dict[str, Any]:
    result = forecaster.history_
    assert result is not None  # a fitted forecaster has its history
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
        "derived": derived_settings(forecaster),
        "paths": paths,
    }
    for key in ("per_target", "probabilistic"):
        if key in scores:
            payload[key] = scores[key]
    if noise_floor is not None:
        payload["noise_floor"] = noise_floor
        payload["rmse_over_noise_floor"] = scores["metrics"]["rmse"] / noise_floor
    return payload


def _print_training(scores: dict[str, Any], title: str, payload: dict[str, Any], noise_floor: float | None) -> None:
    extra = [("noise floor", {"rmse": noise_floor, "mae": noise_floor * math.sqrt(2 / math.pi)})] \
        if noise_floor else []
    if scores["n_windows"]:
        print_scores(scores, extra, title=title)
    else:
        print("No series was long enough to hold out a validation horizon; nothing was scored.")
    line = derived_line(payload.get("derived", {}))
    if line:
        print(line)
    for event in payload["training"]["events"]:
        print(f"- {event}")
    for name, path in payload["paths"].items():
        print(f"{name}: {path}")


def demo_inputs(data_seed: int) -> tuple[Any, Any]:
    """The demo's series (noisy sine, 1000 points, noise std 0.1) and its base configuration."""
    from lstmcast.config import DataConfig, ForecastConfig, ModelConfig
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(n_points=1000, noise_std=0.1, seed=data_seed)
    # the tutorial's own setup: a 70/10/20 chronological split scored on its test part, min-max
    # scaling to [-1, 1], an LSTM + Linear trained with MSE
    data = DataConfig(targets=("value",), input_length=20, horizon=1, scaler="minmax",
                      val_fraction=0.1, test_fraction=0.2)
    return frame, ForecastConfig(data=data, model=ModelConfig(head="point", normalization="none", patch_length=0,
                                                                 ensemble=1, seasonal_skip=0, theta_weight=0.0,
                                                                 ets_weight=0.0))


def cmd_demo(args: argparse.Namespace) -> int:
    frame, base = demo_inputs(args.data_seed)
    config = build_config(args, base)
    out = Path(args.out)
    if not args.json:
        print("Demo: noisy sine (1000 points, noise std 0.1), windows of 20, LSTM(64) + Linear, "
              "scaler fitted on the training part only.")
    _train_and_report(args, frame, config, out, source="the demo series", noise_floor=0.1)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from lstmcast.cli.sharded import (
        train_input,  # a file, or this process's share of a dataset directory
    )
    from lstmcast.runs import Run

    if args.resume:
        config = _resumed_config(args)
    else:
        if not args.data:
            raise CommandError("train needs --data FILE (or --resume DIR to continue a run).")
        if not args.out:
            raise CommandError("train needs --out DIR, the model directory to write.")
        config = build_config(args)
    # a new run reads its data before it creates OUT.partial/; a resumed one first checks its record
    frame = None
    run: Run | None = None
    try:  # a Ctrl-C between starting the run and entering its block still fails the run
        if not args.resume:
            frame, config = train_input(args, config)
        run = Run(args.resume or args.out, resume=bool(args.resume), data=args.data, argv=sys.argv[1:])
        run.begin(config, frame)  # constructed first: `run` is set before anything is written
        with run:
            if frame is None:
                frame, config = train_input(args, config)
            _train_in(args, frame, config, run)
    except BaseException:
        if run is not None:
            run.fail()  # a no-op after the block's own exit
        raise
    return 0


def _train_in(args: argparse.Namespace, frame: Any, config: Any, run: Run) -> None:
    """Train and report inside the run; a checkpoint that does not fit the network is a RunError."""
    try:
        _train_and_report(args, frame, config, run.out, source=str(args.data), run=run)
    except RuntimeError as exc:  # a checkpoint that does not fit the network (a run.json edited by hand)
        if not run.resumed or "state_dict" not in str(exc):
            raise
        import re

        found = re.search(r"size mismatch for (\S+): copying a param with shape torch.Size\((\[.*?\])\) from "
                          r"checkpoint, the shape in current model is torch.Size\((\[.*?\])\)", str(exc))
        detail = (f"its {found[1]} has shape {found[2]}, the network's {found[3]}" if found else
                  str(exc).strip().splitlines()[0][:200])
        raise RunError(f"The checkpoint in {run.dir} does not fit the network of the run's config ({detail}). "
                       "Start a new run without --resume.") from None


def _resumed_config(args: argparse.Namespace) -> Any:
    """The config a resumed run continues with: the saved one; options that change it are refused
    (by Run.resume, naming the keys) rather than silently ignored."""
    from lstmcast.runs import read_record

    record = read_record(args.resume)
    if args.out and args.out != args.resume:
        raise CommandError(f"--resume {args.resume} writes the model to {args.resume}; drop --out {args.out}.")
    args.data = args.data or record.get("data")
    if not args.data:
        raise CommandError(f"The run {args.resume} recorded no data file; give it with --data.")
    args.out = args.resume
    saved = ForecastConfig.from_dict(record["config"])
    return build_config(args, saved)


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


def _write_forecast(table: Any, path: Path) -> Path:
    """predict --out: written atomically (a temporary file renamed into place), so a full or
    read-only disk leaves no half-written forecast and any previous file as it was."""
    from lstmcast._json import write_text_atomic
    from lstmcast.persistence import writing

    if path.is_dir():
        raise CommandError(f"--out {path} is a directory; give a file name such as {path / 'forecast.csv'}.")
    with writing(path, "the forecast", "any previous file there is unchanged"):
        return write_text_atomic(path, table.to_csv(index=False))


def cmd_predict(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    if Path(args.data).is_dir():  # a dataset directory: one part file per rank under torchrun
        from lstmcast.cli.sharded import cmd_predict_dataset

        return cmd_predict_dataset(args)
    forecaster = Forecaster.load(args.model, device=args.device)
    frame = align_columns(read_table(args.data), forecaster, args)
    future = align_columns(read_table(args.future), forecaster, args) if args.future else None
    forecast = forecaster.predict(frame, future=future, source=str(args.data), horizon=args.horizon)
    table = forecast.to_frame()
    payload: dict[str, Any] = {"command": "predict", "rows": len(table),
                               "horizon": args.horizon or forecaster.config_.data.horizon,
                               "notes": list(getattr(forecast, "notes", []))}
    if not args.json:
        for note in payload["notes"]:
            to_stderr(f"note: {note}")
    if args.out:
        payload["paths"] = {"forecast": str(_write_forecast(table, Path(args.out)))}
    if args.plot:
        _write_forecast_plot(forecast, frame, forecaster, args)
        payload.setdefault("paths", {})["plot"] = str(args.plot)
    if args.json:
        payload["forecast"] = json.loads(table.to_json(orient="records", date_format="iso"))
        emit_json(payload)
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
    frame = align_columns(read_table(args.data), forecaster, args)
    scores = forecaster.evaluate(frame, part=args.part, source=str(args.data), season=args.season)
    scores["verdicts"] = baseline_verdicts(scores)
    if args.json:
        emit_json({"command": "evaluate", **scores})
    else:
        what = "the last horizon of each series" if not forecaster.config_.data.uses_fractions else \
            f"the {args.part} part"
        print_scores(scores, title=f"Metrics on {what} of {args.data}")
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
    config = build_config(args)
    frame = read_table(args.data)
    series_col = config.data.series_col
    if series_col is not None and series_col in frame:
        train = frame[frame.groupby(series_col, sort=False).cumcount(ascending=False).to_numpy() >= holdout]
    else:
        train = frame.iloc[:-holdout]
    if train.empty:
        raise CommandError(f"{args.data} has no rows left after holding out the last {holdout} of each series.")
    progress: list[Any] = [Progress(not args.quiet)]  # a duck-typed fit-loop callback
    forecaster = Forecaster(config).fit(train, callbacks=progress, source=str(args.data))
    scores = forecaster.evaluate(frame, source=str(args.data), season=args.season)
    scores["holdout"] = holdout
    scores["verdicts"] = baseline_verdicts(scores)
    if args.json:
        emit_json({"command": "evaluate", **scores})
    else:
        print_scores(scores, title=f"Held-out metrics: the last {holdout} steps of each series of {args.data}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.evaluation.backtest import METRICS, backtest, write_backtest

    config = build_config(args)
    if Path(args.data).is_dir():  # a dataset directory: one shard per process under torchrun
        from lstmcast.cli.sharded import backtest_dataset

        done = backtest_dataset(args, config)
        if done is None:  # a process other than rank 0: rank 0 writes and prints
            return 0
        result, paths = done
    else:
        if getattr(args, "distributed", False):
            raise CommandError(f"backtest --distributed shares the series of a Parquet dataset directory out "
                               f"between processes; {args.data} is a file. Give --data DIR/ (partitioned by "
                               "series), or drop --distributed.")
        frame = read_table(args.data)
        progress: list[Any] = [Progress(not args.quiet)]  # a duck-typed fit-loop callback
        result = backtest(config, frame, folds=args.folds, step=args.step, refit=args.refit, season=args.season,
                          callbacks=progress, source=str(args.data))
        paths = write_backtest(result, args.out)
    summary = result.to_dict()
    if args.json:
        emit_json({"command": "backtest", **summary, "paths": paths})
        return 0
    s = result.settings
    rows = [[name, *(values[m] for m in METRICS)] for name, values in result.overall.items()]
    print_rows(f"Backtest of {args.data}: {s['folds']} folds, step {s['step']}, horizon {s['horizon']}, "
                f"{'refit per fold' if s['refit'] else 'one model, no refit'}"
                + (f", {s['n_series']} series over {s['shards']['processes']} processes (each fit data-parallel)"
                   if "shards" in s else ""),
                ["model", *(m.upper() for m in METRICS)], rows, caption="original units, mean over folds")
    methods = list(result.overall)
    fold_rows = [[entry["fold"], entry["origin"], *(entry[m]["mase"] for m in methods)] for entry in summary["per_fold"]]
    print_rows("MASE per fold", ["fold", "origin", *methods], fold_rows)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
