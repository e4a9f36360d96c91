"""Command line: the only module that prints or exits.

Every command that reports figures takes ``--json`` and then prints exactly one JSON object on
stdout. Bad input exits with status 2 and a one-paragraph message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lstmcast import __version__
from lstmcast.errors import LstmcastError

EXIT_USAGE = 2


class CommandError(LstmcastError):
    """A problem with the command line itself."""


# ---------------------------------------------------------------------------- output
def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _emit_json(payload: dict[str, Any]) -> None:
    from lstmcast.forecaster import _jsonable

    print(json.dumps(_jsonable(payload), indent=2, sort_keys=False))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else "nan"
    return str(value)


def _print_scores(scores: dict[str, Any], extra_rows: Sequence[tuple[str, dict[str, float]]] = (),
                  title: str = "Test metrics (original units)") -> None:
    from rich.console import Console
    from rich.table import Table

    names = list(scores["metrics"])
    table = Table(title=title, caption=f"{scores['n_windows']} windows, horizon {scores['horizon']}")
    table.add_column("model")
    for n in names:
        table.add_column(n.upper(), justify="right")
    table.add_row("lstm", *[_fmt(scores["metrics"][n]) for n in names])
    for name, values in scores.get("baselines", {}).items():
        table.add_row(name, *[_fmt(values.get(n, float("nan"))) for n in names])
    for name, values in extra_rows:
        table.add_row(name, *[_fmt(values.get(n, float("nan"))) if n in values else "" for n in names])
    Console().print(table)
    if "probabilistic" in scores:
        Console().print("probabilistic: " + ", ".join(f"{k}={_fmt(v)}" for k, v in scores["probabilistic"].items()))


class Progress:
    """Fit-loop callback: a rich progress bar on a terminal, plain log lines otherwise (CI)."""

    def __init__(self, enabled: bool = True, every: int = 10) -> None:
        self.enabled, self.every = enabled, every
        self._bar = None

    def on_fit_start(self, state: Any) -> None:
        if not self.enabled:
            return
        self.max_epochs = state.config.max_epochs
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 transient=False, redirect_stdout=False)
            self._bar.start()
            self._task = self._bar.add_task("train", total=self.max_epochs, completed=state.epoch, info="")

    def on_epoch_end(self, state: Any, record: Any) -> None:
        if not self.enabled:
            return
        val = f" val {record.val_loss:.5f}" if record.val_loss is not None else ""
        info = f"train {record.train_loss:.5f}{val} lr {record.learning_rate:.2g}"
        if self._bar is not None:
            self._bar.update(self._task, completed=record.epoch, info=info)
        elif record.epoch == 1 or record.epoch % self.every == 0 or (record.best and record.epoch < 5):
            _stderr(f"epoch {record.epoch:>4}/{self.max_epochs} {info} ({record.seconds * 1000:.0f} ms)")

    def on_event(self, state: Any, message: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(f"[yellow]{message}")
        else:
            _stderr(message)

    def on_fit_end(self, state: Any, result: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self.enabled:
            _stderr(f"trained {len(result.history)} epochs in {result.seconds:.1f}s; best epoch "
                    f"{result.best_epoch} (loss {result.best_loss:.5f}); stop: {result.stop_reason}")


# ---------------------------------------------------------------------------- config
def _build_config(args: argparse.Namespace, base: Any = None) -> Any:
    from lstmcast.config import ForecastConfig

    config = ForecastConfig.from_toml(args.config) if getattr(args, "config", None) else (base or ForecastConfig())
    overrides: dict[str, Any] = {}
    mapping = {
        "target": "data.targets", "features": "data.features", "future_features": "data.future_features",
        "time_col": "data.time_col", "series_col": "data.series_col", "input_length": "data.input_length",
        "horizon": "data.horizon", "fill": "data.fill", "device": "train.device", "seed": "train.seed",
    }
    for attr, key in mapping.items():
        value = getattr(args, attr, None)
        if value is not None and value != []:
            overrides[key] = tuple(value) if isinstance(value, list) else value
    if getattr(args, "deterministic", False):
        overrides["train.deterministic"] = True
    if getattr(args, "time_budget", None):
        from lstmcast.config import parse_duration

        overrides["train.time_budget"] = parse_duration(args.time_budget)
    config = config.with_overrides(overrides) if overrides else config
    return config.with_overrides(list(getattr(args, "set", None) or []))


def _add_data_options(p: argparse.ArgumentParser, with_config: bool = True, data_required: bool = True) -> None:
    p.add_argument("--data", required=data_required, help="CSV or Parquet file")
    p.add_argument("--target", action="append", metavar="COL", help="column to forecast (repeat for several)")
    p.add_argument("--time-col", metavar="COL", help="time column (default: one named date/time/timestamp/ds)")
    p.add_argument("--series-col", metavar="COL", help="series id column for many series in long format")
    p.add_argument("--features", nargs="+", metavar="COL", help="past covariates (known up to the forecast origin)")
    p.add_argument("--future-features", nargs="+", metavar="COL",
                   help="known-future covariates (their horizon values are needed at predict time)")
    p.add_argument("--input-length", type=int, metavar="L", help="past steps per window (data.input_length)")
    p.add_argument("--horizon", type=int, metavar="H", help="steps to forecast (data.horizon)")
    p.add_argument("--fill", choices=["ffill", "interpolate", "drop"], help="how to treat missing values")
    if with_config:
        p.add_argument("--config", metavar="FILE.toml", help="config file (sections data, model, train)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config key, e.g. --set model.hidden_size=128 (repeatable)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="auto (default: CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms (slower)")
    p.add_argument("--time-budget", metavar="DURATION", help="stop cleanly after e.g. 90s, 5m, 1h")
    p.add_argument("--quiet", action="store_true", help="no progress output")


# ---------------------------------------------------------------------------- commands
def _plot_writers(forecaster: Any, hist_forecast: Any) -> dict[str, Callable[[Path], None]]:
    from lstmcast.plotting import plot_forecast, plot_loss

    writers: dict[str, Callable[[Path], None]] = {}
    if forecaster.history_ is not None and forecaster.history_.history:
        rows = forecaster.history_.history_rows()
        writers["loss.png"] = lambda p: plot_loss(rows, p)
    if hist_forecast is not None:
        writers["forecast.png"] = lambda p: plot_forecast(hist_forecast, p)
    return writers


def _train_and_report(args: argparse.Namespace, frame: Any, config: Any, out: Path, source: str,
                      noise_floor: float | None = None) -> dict[str, Any]:
    from lstmcast.forecaster import Forecaster

    ctx = None
    if getattr(args, "distributed", False):  # one process of a torchrun job
        from lstmcast.training.distributed import init_distributed

        ctx = init_distributed(config.train.device)
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
    finally:
        if ctx is not None:
            ctx.close()
    if ctx is not None and not ctx.is_main:
        return {}  # only rank 0 scores, writes and prints
    scores = forecaster.evaluate(frame, source=source)
    hist = forecaster.historical_forecasts(frame, source=source)
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
    payload = {
        "command": args.command,
        "metrics": scores["metrics"],
        "baselines": scores["baselines"],
        "n_windows": scores["n_windows"],
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
        _print_scores(scores, extra)
        for event in result.events:
            print(f"- {event}")
        for name, path in paths.items():
            print(f"{name}: {path}")
    return payload


def _demo_inputs(data_seed: int) -> tuple[Any, Any]:
    """The demo's series (noisy sine, 1000 points, noise std 0.1) and its base configuration."""
    from lstmcast.config import DataConfig, ForecastConfig
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(n_points=1000, noise_std=0.1, seed=data_seed)
    return frame, ForecastConfig(data=DataConfig(targets=("value",), input_length=20, horizon=1, scaler="minmax"))


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
    from lstmcast.config import ForecastConfig
    from lstmcast.data.io import read_table, sha256_file

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
        if sha256_file(Path(args.data)) != record["data_sha256"]:
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
    frame = read_table(args.data)
    out = Path(args.out)
    run_dir = _run_dir(out)
    if not args.resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        record = {"data": str(args.data), "data_sha256": sha256_file(Path(args.data)), "config": config.to_dict(),
                  "argv": sys.argv[1:]}
        (run_dir / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    args.checkpoint = run_dir / "checkpoint.pt"
    args.manifest = {"data_file": str(args.data), "data_sha256": record["data_sha256"], "argv": record["argv"],
                     "resumed": bool(args.resume)}
    _train_and_report(args, frame, config, out, source=str(args.data))
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)  # the model is saved: the checkpoint has served
    return 0


class _TrialTable:
    """The live table of ``lstmcast tune``: one line per trial this worker finishes."""

    def __init__(self) -> None:
        self.started = False

    def row(self, r: Any) -> None:
        if not self.started:
            print(f"{'trial':>5}  {'state':<8} {'val loss':>10} {'best':>16} {'epochs':>6} {'time':>7}  params")
            self.started = True
        params = " ".join(f"{k.rpartition('.')[2]}={_short(v)}" for k, v in r.params.items())
        seconds = f"{r.seconds:.1f}s" if r.seconds is not None else ""
        best = f"{r.best_value:.5g} (#{r.best_number})" if r.best_value is not None else ""
        value = f"{r.value:.5g}" if r.value is not None else ""
        note = f"  [{r.note}]" if r.note else ""
        print(f"{r.number:>5}  {r.state:<8} {value:>10} {best:>16} "
              f"{r.epochs if r.epochs is not None else '':>6} {seconds:>7}  {params}{note}", flush=True)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value).lower() if isinstance(value, bool) else str(value)


def cmd_tune(args: argparse.Namespace) -> int:
    from lstmcast.config import parse_duration
    from lstmcast.errors import require
    from lstmcast.forecaster import Forecaster

    optuna = require("optuna", "tune")
    from lstmcast import tuning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if bool(args.demo) == bool(args.data):
        raise CommandError("Give the series to tune on: either --data FILE or --demo (the noisy sine of `lstmcast demo`).")
    if args.trials < 1:
        raise CommandError(f"--trials must be at least 1; got {args.trials}.")
    if args.demo:
        frame, base = _demo_inputs(args.data_seed)
        source = "the demo series"
    else:
        from lstmcast.data.io import read_table

        frame, base, source = read_table(args.data), None, str(args.data)
    config = _build_config(args, base)
    out = Path(args.out)
    space = tuning.load_space(args.space, base=config) if args.space else tuning.DEFAULT_SPACE
    timeout = parse_duration(args.timeout) if args.timeout else None
    study = tuning.open_study(args.storage, args.study, out, pruner=args.pruner, seed=args.sampler_seed,
                              max_epochs=config.train.max_epochs)
    live = not args.json and not args.quiet
    if live:
        print(f"Study {study.study_name!r} in {study.user_attrs.get('storage')}: up to {args.trials} trials"
              f"{f', {args.timeout} in this worker' if timeout else ''}, {args.pruner} pruner; objective: best "
              "validation loss (scaled units). Searching:")
        for param in space:
            print(f"  {param.describe()}")
    result = tuning.tune(frame, config, study, space=space, n_trials=args.trials, timeout=timeout, source=source,
                         on_trial=_TrialTable().row if live else None)
    extra: dict[str, Any] = {}
    with tuning.output_lock(out):
        if result.best_config is not None and not args.no_retrain:
            if live:
                print(f"Retraining the best configuration (trial {result.best_number}) -> {out / 'model'}")
            forecaster = Forecaster(result.best_config).fit(frame, source=source)
            scores = forecaster.evaluate(frame, source=source)
            writers = _plot_writers(forecaster, forecaster.historical_forecasts(frame, source=source))
            forecaster.save(out / "model", extras=writers, metrics=scores)
            extra["retrained"] = {"validation_loss": forecaster.history_.best_loss, "model": str(out / "model"),
                                  "test_metrics": scores["metrics"], "baselines": scores["baselines"]}
        paths = tuning.write_results(study, result, out, extra)
    if result.best_config is None:
        raise CommandError(
            f"No trial of study {result.study_name!r} completed ({result.states}); the errors of failed "
            f"trials are in {paths['trials']} (column user_attrs_error)."
        )
    payload = {"command": "tune", **result.summary(), **extra, "paths": paths}
    if args.json:
        _emit_json(payload)
        return 0
    states = ", ".join(f"{n} {k.lower()}" for k, n in result.states.items())
    print(f"{result.n_trials} trials in the study ({states}); {result.trials_here} run here in {result.seconds:.1f}s.")
    print(f"best: trial {result.best_number}, validation loss {result.best_value:.5g}: "
          + " ".join(f"{k}={_short(v)}" for k, v in result.best_params.items()))
    if result.baseline_number == result.best_number:
        print("the base configuration is still the best; try more trials or another --space")
    elif result.baseline_value is not None:
        gain = payload["baseline"]["improvement"]
        print(f"base configuration (trial {result.baseline_number}): {result.baseline_value:.5g}"
              + (f"; the best is {gain:.1%} lower" if gain is not None else ""))
    if "retrained" in extra:
        print(f"retrained: validation loss {extra['retrained']['validation_loss']:.5g}, test "
              + ", ".join(f"{k}={_fmt(v)}" for k, v in extra["retrained"]["test_metrics"].items()))
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _align_columns(frame: Any, forecaster: Any, args: argparse.Namespace) -> Any:
    """Rename the file's time / series columns (--time-col, --series-col) to the model's names."""
    d = forecaster.config.data
    for flag, given, expected in (("--series-col", args.series_col, d.series_col),
                                  ("--time-col", args.time_col, d.time_col)):
        if given is None or given == expected:
            continue
        if flag == "--series-col" and expected is None:
            raise CommandError(f"{flag} {given!r}: this model was trained on a single series; drop {flag}.")
        if given not in frame.columns:
            raise CommandError(f"{flag} {given!r} is not a column of the data; columns are: "
                               f"{', '.join(repr(str(c)) for c in frame.columns)}.")
        frame = frame.rename(columns={given: expected}) if expected else frame
    return frame


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

    forecaster = Forecaster.load(args.model, device=args.device)
    frame = _align_columns(read_table(args.data), forecaster, args)
    future = _align_columns(read_table(args.future), forecaster, args) if args.future else None
    forecast = forecaster.predict(frame, future=future, source=str(args.data))
    table = forecast.to_frame()
    payload: dict[str, Any] = {"command": "predict", "rows": len(table), "horizon": forecaster.config.data.horizon}
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

    forecaster = Forecaster.load(args.model, device=args.device)
    frame = _align_columns(read_table(args.data), forecaster, args)
    scores = forecaster.evaluate(frame, part=args.part, source=str(args.data), season=args.season)
    if args.json:
        _emit_json({"command": "evaluate", **scores})
    else:
        _print_scores(scores, title=f"Metrics on the {args.part} part of {args.data}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from lstmcast.export import export_model
    from lstmcast.export.exporter import ExportParityError

    frame = None
    if args.data:
        from lstmcast.data.io import read_table

        frame = read_table(args.data)
    try:
        result = export_model(args.model, args.out, args.format, quantize=args.quantize, series=args.series,
                              frame=frame, source=str(args.data or "the data"))
    except ExportParityError as exc:
        if not args.json:
            _print_parity(exc.report, f"{args.format}{' int8' if args.quantize else ''} (FAILED)")
        raise
    payload = {"command": "export", "format": result.format, "quantize": result.quantize,
               "paths": {"model": str(result.path), "sidecar": str(result.sidecar)},
               "size_bytes": result.size_bytes, "seconds": round(result.seconds, 2),
               "parity": result.parity.to_dict(), "notes": result.notes}
    if result.int8 is not None:
        payload["int8_vs_float"] = result.int8
    if args.json:
        _emit_json(payload)
        return 0
    _print_parity(result.parity, f"{result.format}{' int8' if result.quantize else ''}")
    if result.int8 is not None:
        stats = result.int8
        print(f"int8 vs float: size {stats['size_bytes']['int8']:,} vs {stats['size_bytes']['float']:,} bytes; "
              f"max rel error {stats['max_rel_error']['int8']:.2g} vs {stats['max_rel_error']['float']:.2g}; "
              + "; ".join(f"batch {b}: {ms['int8']:.3f} vs {ms['float']:.3f} ms" for b, ms in stats["median_ms"].items()))
    for note in result.notes:
        print(f"note: {note}")
    print(f"exported {result.path} ({result.size_bytes:,} bytes) in {result.seconds:.1f}s; sidecar {result.sidecar}")
    return 0


def _print_parity(report: Any, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Parity with the eager model: {title}, tolerance {report.tolerance:g} relative")
    for column in ("windows", "batch", "max abs error", "max rel error"):
        table.add_column(column, justify="right" if column != "windows" else "left")
    for case in report.cases:
        table.add_row(case.kind, str(case.batch), f"{case.abs_error:.3g}", f"{case.rel_error:.3g}")
    Console().print(table)
    for skipped in report.skipped:
        print(f"skipped: {skipped}")


def cmd_serve(args: argparse.Namespace) -> int:
    from lstmcast.serving import run_server

    if not args.quiet:
        _stderr(f"serving {args.model} on http://{args.host}:{args.port} (OpenAPI page: /docs); Ctrl-C stops")
    run_server(args.model, host=args.host, port=args.port, workers=args.workers, backend=args.backend,
               quiet=args.quiet)
    return 0


def _print_rows(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 or name in ("source", "origin") else "right")
    for row in rows:
        table.add_row(*["" if v is None else _fmt(v) for v in row])
    Console().print(table)


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


def cmd_bench(args: argparse.Namespace) -> int:
    from lstmcast.evaluation import bench

    overrides = list(args.set or [])
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.time_budget:
        from lstmcast.config import parse_duration

        overrides.append(f"train.time_budget={parse_duration(args.time_budget)}")
    callbacks = [Progress(not args.quiet)]
    if args.benchmark == "ett":
        result = bench.run_ett(args.data_dir, args.dataset, args.horizon, args.input_length, quick=args.quick,
                               overrides=overrides, callbacks=callbacks)
        title = f"{args.dataset} multivariate, horizon {args.horizon}, input {args.input_length}"
    else:
        result = bench.run_m4_hourly(args.data_dir, quick=args.quick, overrides=overrides, callbacks=callbacks)
        title = "M4 Hourly: 414 series, horizon 48, one global model"
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        from lstmcast.forecaster import _jsonable

        out.write_text(json.dumps(_jsonable(result), indent=2), encoding="utf-8")
    if args.json:
        _emit_json({"command": "bench", **result})
        return 0
    header, rows = bench.result_table(result)
    t, hw = result["training"], result["hardware"]
    _print_rows(title + (" (--quick: tiny model on a slice)" if args.quick else ""), header, rows,
                caption=bench.describe_config(result["config"]))
    print(f"training: {t['seconds']:.1f}s, {t['epochs']} epochs (best {t['best_epoch']}, stop: {t['stop_reason']}), "
          f"{t['parameters']:,} parameters, {t['threads']} threads; hardware: {hw['cpu']}, "
          f"{hw['cpu_count']} cores, torch {hw['torch']}")
    if args.out:
        print(f"result: {args.out}")
    return 0


# ---------------------------------------------------------------------------- the LSTM explained (lstmcast.lstm)
def _records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as plain JSON-able dicts (pandas NA -> None, numpy scalars -> Python)."""
    import pandas as pd

    return [{str(k): (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict("records")]


def _window_tensors(forecaster: Any, frame: Any, part: str, windows: int, source: str) -> tuple[Any, Any]:
    import numpy as np
    import torch

    if windows < 1:
        raise CommandError(f"--windows must be at least 1; got {windows}.")
    w = forecaster.windows(frame, part, source)
    device = next(forecaster.network_.parameters()).device
    x = torch.as_tensor(np.ascontiguousarray(w.x[-windows:]), dtype=torch.float32, device=device)
    fut = (torch.as_tensor(np.ascontiguousarray(w.future[-windows:]), dtype=torch.float32, device=device)
           if w.future is not None else None)
    return x, fut


def cmd_inspect(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    if args.windows < 1:
        raise CommandError(f"--windows must be at least 1; got {args.windows}.")
    forecaster = Forecaster.load(args.model, device=args.device)
    frame = read_table(args.data)
    result = forecaster.inspect(frame, part=args.part, windows=args.windows, out=args.out, source=str(args.data))
    trace, paths = result.trace, dict(result.paths)
    if args.out:
        csv = Path(args.out) / "lstm_trace.csv"
        result.frame.to_csv(csv, index=False)
        paths["trace"] = str(csv)
    layers, directions, batch, length, hidden = trace.shape
    summary = trace.layer_summary()
    payload = {"command": "inspect", "shape": {"layers": layers, "directions": directions, "sequences": batch,
                                                "steps": length, "hidden_size": hidden},
               "layers": _records(summary), "paths": paths}
    if result.attention is not None:
        mean = result.attention.mean(axis=0)
        payload["attention"] = {"mean_weights": mean.tolist(), "peak_position": int(mean.argmax()) - len(mean) + 1}
    if args.json:
        _emit_json(payload)
        return 0
    _print_rows(f"LSTM gates over the last {args.windows} {args.part} window(s) of {args.data}: "
                f"{layers} layer(s) x {directions} direction(s), {length} steps, {hidden} units",
                list(summary.columns), summary.to_numpy().tolist(),
                caption="remembering: share of forget-gate values above 0.95")
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_gradient_flow(args: argparse.Namespace) -> int:
    from lstmcast.lstm.gradflow import (
        GradientFlowConfig,
        gradient_flow,
        gradient_horizons,
        network_gradient_norms,
    )
    from lstmcast.lstm.plots import plot_gradient_flow

    if args.model:
        from lstmcast.data.io import read_table
        from lstmcast.forecaster import Forecaster

        if not args.data:
            raise CommandError("gradient-flow --model DIR also needs --data FILE: the windows to measure the "
                               "trained LSTM on (e.g. the file it was trained on).")
        forecaster = Forecaster.load(args.model, device=args.device)
        x, fut = _window_tensors(forecaster, read_table(args.data), args.part, args.windows, str(args.data))
        norms = network_gradient_norms(forecaster.network_, x, fut)
        norms.insert(0, "stage", "trained")
        norms.insert(0, "model", "forecaster")
    else:
        norms = gradient_flow(GradientFlowConfig.quick() if args.quick else GradientFlowConfig())
    horizons = gradient_horizons(norms)
    paths: dict[str, str] = {}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        norms.to_csv(out / "gradient_norms.csv", index=False)
        horizons.to_csv(out / "gradient_horizons.csv", index=False)
        paths |= {"norms": str(out / "gradient_norms.csv"), "horizons": str(out / "gradient_horizons.csv")}
        for stage in norms["stage"].unique():
            plot_gradient_flow(norms, out / f"gradient_flow_{stage}.png", stage=stage)
            paths[f"plot_{stage}"] = str(out / f"gradient_flow_{stage}.png")
        if norms["c_grad_norm"].notna().any():
            plot_gradient_flow(norms, out / "gradient_flow_cell.png", column="c_grad_norm")
            paths["plot_cell"] = str(out / "gradient_flow_cell.png")
    payload = {"command": "gradient-flow", "horizons": _records(horizons),
               "recall_accuracy": norms.attrs.get("accuracy", {}), "paths": paths}
    if args.json:
        _emit_json(payload)
        return 0
    columns = ["model", "stage", "h_horizon_text", "c_horizon", "path_horizon", "forget_path_end"]
    _print_rows("Gradient horizon: distance from the last-step loss at which the gradient norm falls below "
                "1e-3 of its value at the loss", columns, horizons[columns].astype(object).to_numpy().tolist(),
                caption="c / path: LSTM only (dL/dc_t, and the product of forget gates along the cell state)")
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_long_dependency(args: argparse.Namespace) -> int:
    import dataclasses

    from lstmcast.lstm.longdep import (
        LongDependencyConfig,
        accuracy_table,
        long_dependency_experiment,
        solved_table,
    )
    from lstmcast.lstm.plots import plot_long_dependency

    config = LongDependencyConfig.quick() if args.quick else LongDependencyConfig()
    if args.jobs is not None:
        if args.jobs < 1:
            raise CommandError(f"--jobs must be at least 1; got {args.jobs}.")
        config = dataclasses.replace(config, n_jobs=args.jobs)
    results = long_dependency_experiment(config)
    paths: dict[str, str] = {}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        results.to_csv(out / "long_dependency.csv", index=False)
        plot_long_dependency(results, out / "long_dependency.png", success_accuracy=config.success_accuracy)
        paths = {"results": str(out / "long_dependency.csv"), "plot": str(out / "long_dependency.png")}
    accuracy, solved = accuracy_table(results), solved_table(results)
    payload = {"command": "long-dependency", "config": config.to_dict(),
               "wall_seconds": round(results.attrs["wall_seconds"], 2),
               "cpu_seconds": round(float(results["cpu_seconds"].sum()), 2),
               "accuracy": {m: {str(t): float(v) for t, v in row.items()} for m, row in accuracy.iterrows()},
               "solved": {m: {str(t): v for t, v in row.items()} for m, row in solved.iterrows()},
               "runs": _records(results), "paths": paths}
    if args.json:
        _emit_json(payload)
        return 0
    header = ["model", *(f"T={t}" for t in accuracy.columns)]
    rows = [[model, *(f"{a:.3f} ({s})" for a, s in zip(accuracy.loc[model], solved.loc[model], strict=True))]
            for model in accuracy.index]
    _print_rows(f"Recall a class seen T steps ago: test accuracy (runs solved, accuracy >= "
                f"{config.success_accuracy:g}); chance {1 / config.n_classes:g}", header, rows,
                caption=f"{len(results)} runs in {results.attrs['wall_seconds']:.0f}s wall "
                        f"({results['cpu_seconds'].sum():.0f}s CPU, {config.n_jobs} worker(s))")
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _add_lstm_commands(sub: Any) -> None:
    p = sub.add_parser("inspect", help="record a trained model's LSTM gates and cell states on windows of a file")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", required=True, help="CSV/Parquet with the training columns")
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"],
                   help="which part of the file the windows come from (default test)")
    p.add_argument("--windows", type=int, default=1, metavar="N", help="record the last N windows (default 1)")
    p.add_argument("--out", metavar="DIR", help="write gate heatmaps, the forget/cell plot and lstm_trace.csv here")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("gradient-flow", help="how far back the gradient of a last-step loss reaches: RNN, GRU and "
                       "LSTM (forget bias 0 / 1 / chrono) at init and trained, or a trained model's LSTM")
    p.add_argument("--model", metavar="DIR", help="measure this trained model's LSTM instead (needs --data)")
    p.add_argument("--data", help="with --model: CSV/Parquet whose windows to measure on")
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"])
    p.add_argument("--windows", type=int, default=32, metavar="N", help="with --model: the last N windows (default 32)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for CI")
    p.add_argument("--out", metavar="DIR", help="write gradient_norms.csv, gradient_horizons.csv and plots here")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_gradient_flow)

    p = sub.add_parser("long-dependency", help="train RNN, GRU and LSTMs to recall a class seen T steps ago, "
                       "T in 10, 50, 100, 200 (a few minutes on 2 cores)")
    p.add_argument("--quick", action="store_true", help="tiny preset (seconds), for CI")
    p.add_argument("--jobs", type=int, metavar="N", help="worker processes (default 2; each uses one thread)")
    p.add_argument("--out", metavar="DIR", help="write long_dependency.csv and long_dependency.png here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_long_dependency)


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstmcast", description="Time-series forecasting with LSTM networks.")
    parser.add_argument("--version", action="version", version=f"lstmcast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="the tutorial's job: an LSTM on a noisy sine wave")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the noise in the demo series")
    p.add_argument("--config", metavar="FILE.toml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_run_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train on a CSV/Parquet file and save the model directory")
    _add_data_options(p, data_required=False)
    _add_run_options(p)
    p.add_argument("--out", help="model directory to write (checkpoints go to OUT.partial/ meanwhile)")
    p.add_argument("--resume", metavar="DIR", help="continue the killed run whose --out was DIR")
    p.add_argument("--tensorboard", metavar="LOGDIR", help="also write TensorBoard logs to LOGDIR")
    p.add_argument("--json", action="store_true")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel (DDP) training under torchrun --nproc-per-node N: gloo on CPU, "
                        "NCCL on GPU; train.batch_size is the global batch; only rank 0 writes and prints")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("tune", help="search hyper-parameters with Optuna; save the best config and model",
                       description="Hyper-parameter search: an Optuna study (TPE, pruning on the validation "
                       "loss of every epoch). Any number of workers may share one study through --storage.")
    _add_data_options(p, data_required=False)
    _add_run_options(p)
    p.add_argument("--demo", action="store_true", help="tune on the demo series (noisy sine) instead of --data")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the noise in the demo series")
    p.add_argument("--trials", type=int, default=30, help="trials in the study, over all workers (default 30)")
    p.add_argument("--timeout", metavar="DURATION", help="start no trial after e.g. 30m in this worker")
    p.add_argument("--storage", metavar="URL", help="study storage: a journal file path, or a database URL such as "
                   "postgresql://user:password@host/db (default: DIR/study.journal)")
    p.add_argument("--study", default="lstmcast", metavar="NAME", help="study name (default lstmcast)")
    p.add_argument("--space", metavar="FILE.toml", help="search space (default: hidden size, layers, dropout, "
                   "bidirectional, attention, input length, normalization, learning rate, batch size)")
    p.add_argument("--pruner", choices=["median", "hyperband", "none"], default="median")
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler (default 0)")
    p.add_argument("--no-retrain", action="store_true", help="write the results but do not retrain the best model")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="writes config.toml, model/, trials.csv, summary.json and plots")
    p.add_argument("--json", action="store_true", help="print one JSON object (no live table)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("predict", help="forecast the next horizon steps after the end of a file")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", required=True, help="recent history (CSV/Parquet) with the training columns")
    p.add_argument("--future", help="known-future covariates for the horizon (CSV/Parquet)")
    p.add_argument("--out", help="CSV file to write (default: print)")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true")
    p.add_argument("--series-col", metavar="COL", help="series id column, if named differently than in training")
    p.add_argument("--time-col", metavar="COL", help="time column, if named differently than in training")
    p.add_argument("--plot", metavar="PATH.png",
                   help="draw the recent history, the forecast and its interval band (a grid for many series)")
    p.add_argument("--plot-series", action="append", metavar="KEY",
                   help="with --plot: the series to draw (repeatable; default the first 6)")
    p.add_argument("--plot-window", type=int, metavar="STEPS",
                   help="with --plot: past steps shown (default the last few seasons, at least 100)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="score a model on a file's last part against baselines")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"],
                   help="which part of the file, split by the model's fractions (default test)")
    p.add_argument("--season", type=int, help="seasonality for seasonal naive (default from the frequency)")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true")
    p.add_argument("--series-col", metavar="COL", help="series id column, if named differently than in training")
    p.add_argument("--time-col", metavar="COL", help="time column, if named differently than in training")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export the whole forecast path (pt2, ONNX, TorchScript) with a parity check",
                       description="Raw window in, forecast in original units out: scaling, the network and "
                       "inverse scaling in one graph, batch dynamic, window length fixed. The export is "
                       "compared with the eager model at batch 1, 3 and 64 and written only if it matches.")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--format", required=True, choices=["pt2", "onnx", "torchscript"],
                   help="pt2 (torch.export), onnx (ONNX Runtime), torchscript (deprecated in torch 2.13)")
    p.add_argument("--quantize", choices=["int8"], help="ONNX Runtime dynamic int8 (onnx only): about 4x smaller, "
                   "faster at large batches, ~1%% error; the command prints the measured trade-off")
    p.add_argument("--series", metavar="KEY", help="many-series models: bake this series' scaler into the graph "
                   "(default: per-row offset/scale inputs, so one graph serves every series)")
    p.add_argument("--data", help="CSV/Parquet with the training columns: adds real windows to the parity check")
    p.add_argument("--out", required=True, help="file to write (e.g. model.onnx); a sidecar FILE.json goes next to it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="serve forecasts over HTTP (FastAPI + uvicorn; OpenAPI page at /docs)")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto",
                   help="auto: ONNX Runtime when its export matches the model, else eager torch")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("backtest", help="rolling-origin backtest: train before each of K origins, score the next "
                       "horizon steps against baselines")
    _add_data_options(p)
    _add_run_options(p)
    p.add_argument("--folds", type=int, default=3, metavar="K", help="forecast origins at the end of the data (default 3)")
    p.add_argument("--step", type=int, metavar="S", help="steps between origins (default: the horizon)")
    p.add_argument("--refit", action=argparse.BooleanOptionalAction, default=True,
                   help="a fresh model and scaler per fold (default), or --no-refit: one model trained "
                   "before the first origin")
    p.add_argument("--season", type=int, help="seasonality for seasonal naive and MASE (default from the frequency)")
    p.add_argument("--out", default="runs/backtest", help="directory for backtest.png, folds.csv, forecasts.csv, "
                   "backtest.json (default runs/backtest)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("bench", help="run a standard benchmark protocol (ETTh1/ETTh2, M4 Hourly) and print our "
                       "model next to the baselines and the published figures")
    bench_sub = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    ett = bench_sub.add_parser("ett", help="ETTh1/ETTh2 long-horizon protocol (multivariate, MSE/MAE)")
    ett.add_argument("--dataset", choices=["ETTh1", "ETTh2"], default="ETTh1")
    ett.add_argument("--horizon", type=int, default=96, choices=[96, 192, 336, 720])
    ett.add_argument("--input-length", type=int, default=336, metavar="L", help="input window (default 336)")
    m4 = bench_sub.add_parser("m4-hourly", help="M4 Hourly: 414 series, horizon 48, sMAPE/MASE/OWA")
    for q in (ett, m4):
        q.add_argument("--data-dir", default="../shared/data",
                       help="directory of the benchmark files (default ../shared/data)")
        q.add_argument("--quick", action="store_true", help="a tiny model on a slice, in seconds (for CI)")
        q.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
        q.add_argument("--seed", type=int, help="random seed (train.seed)")
        q.add_argument("--time-budget", metavar="DURATION", help="stop training cleanly after e.g. 20m")
        q.add_argument("--out", metavar="FILE.json", help="also write the result as JSON")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.add_argument("--quiet", action="store_true", help="no progress output")
        q.set_defaults(func=cmd_bench)

    _add_lstm_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        return int(args.func(args) or 0)
    except LstmcastError as exc:
        _stderr(f"lstmcast {args.command}: error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        _stderr(f"lstmcast {args.command}: interrupted after {time.perf_counter() - started:.0f}s")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
