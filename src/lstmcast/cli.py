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

from lstmcast._version import __version__
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
    for name, why in scores.get("baselines_missing", {}).items():
        print(f"{name}: not scored: {why}.")
    for line in baseline_verdicts(scores):
        print(line)


def baseline_verdicts(scores: dict[str, Any], metric: str = "mae") -> list[str]:
    """Plain sentences when a baseline beats the model on ``metric`` (empty when none does)."""
    model = scores.get("metrics", {}).get(metric)
    lines = []
    for name, values in scores.get("baselines", {}).items():
        other = values.get(metric)
        if model is not None and other is not None and math.isfinite(model) and other < model:
            lines.append(f"The model loses to {name} on {metric.upper()} ({model:.4g} vs {other:.4g}): "
                         "prefer the baseline for these data, or try a longer input_length, more data or "
                         "model.ensemble=5.")
    return lines


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
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                 TextColumn("{task.fields[eta]}"), transient=False, redirect_stdout=False)
            self._bar.start()
            self._task = self._bar.add_task("train", total=self.max_epochs, completed=state.epoch, info="",
                                            eta="")

    @staticmethod
    def eta(state: Any) -> str:
        """Time left: the remaining epochs at this run's pace, capped by the time budget."""
        from lstmcast.training.callbacks import eta_seconds

        history = state.result.history
        pace = sum(r.seconds for r in history) / len(history) if history else 0.0
        left = eta_seconds(state.epoch, state.config.max_epochs, pace, state.elapsed, state.config.time_budget)
        return f"eta {int(left // 60)}:{int(left % 60):02d}"

    def on_epoch_end(self, state: Any, record: Any) -> None:
        if not self.enabled:
            return
        val = f" val {record.val_loss:.5f}" if record.val_loss is not None else ""
        info = f"train {record.train_loss:.5f}{val} lr {record.learning_rate:.2g}"
        if self._bar is not None:
            self._bar.update(self._task, completed=record.epoch, info=info, eta=self.eta(state))
        elif record.epoch == 1 or record.epoch % self.every == 0 or (record.best and record.epoch < 5):
            _stderr(f"epoch {record.epoch:>4}/{self.max_epochs} {info} ({record.seconds * 1000:.0f} ms, "
                    f"{self.eta(state)})")

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
        "horizon": "data.horizon", "fill": "data.fill", "fill_gaps": "data.fill_gaps", "device": "train.device", "seed": "train.seed",
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
    p.add_argument("--fill-gaps", action="store_true", default=None,
                   help="also add missing timestamps of a regular series, filled by --fill (data.fill_gaps)")
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
    return frame, ForecastConfig(data=data, model=ModelConfig(head="point", normalization="none", patch_length=0))


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
    import shutil

    frame = read_table(args.data)
    out = Path(args.out)
    run_dir = _run_dir(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _RunLock(run_dir, out):
        if not args.resume:  # a new run: nothing of a killed earlier run may be resumed into it
            for stale in run_dir.glob("checkpoint.pt*"):
                stale.unlink(missing_ok=True)
            record = {"data": str(args.data), "data_sha256": sha256_file(Path(args.data)),
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


def _read_summary(out: Path) -> dict[str, Any]:
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _retrained_trial(out: Path) -> int | None:
    """The trial whose configuration the model in OUT/model was retrained from (summary.json)."""
    retrained = _read_summary(out).get("retrained")
    trial = retrained.get("trial") if isinstance(retrained, dict) else None
    return trial if isinstance(trial, int) and (out / "model").is_dir() else None


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
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the notes are printed below
        result = tuning.tune(frame, config, study, space=space, n_trials=args.trials, timeout=timeout,
                             source=source, on_trial=_TrialTable().row if live else None)
    for note in result.notes:
        _stderr(f"lstmcast tune: note: {note}")
    extra: dict[str, Any] = {}
    with tuning.output_lock(out):
        previous = _retrained_trial(out)
        if result.best_config is not None and not args.no_retrain and not result.complete:
            extra["retrain_skipped"] = (f"{result.running} trial(s) of the study still run in other workers, so "
                                        "the best trial may change; the worker that finishes last retrains")
            if live:
                print(f"Not retraining: {extra['retrain_skipped']}.")
        elif result.best_config is not None and not args.no_retrain and previous == result.best_number:
            extra["retrained"] = _read_summary(out).get("retrained")
            if live:
                print(f"The model in {out / 'model'} is already trial {result.best_number}, the best; not retraining.")
        elif result.best_config is not None and not args.no_retrain:
            if live:
                print(f"Retraining the best configuration (trial {result.best_number}) -> {out / 'model'}")
            forecaster = Forecaster(result.best_config).fit(frame, source=source)
            scores = forecaster.evaluate(frame, source=source)
            writers = _plot_writers(forecaster, forecaster.historical_forecasts(frame, source=source))
            forecaster.save(out / "model", extras=writers, metrics=scores)
            extra["retrained"] = {"trial": result.best_number, "validation_loss": forecaster.history_.best_loss,
                                  "model": str(out / "model"), "test_metrics": scores["metrics"],
                                  "baselines": scores["baselines"]}
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
    d = forecaster.config_.data
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

    if not 1 <= args.port <= 65535:
        raise CommandError(f"--port must be a TCP port in 1..65535; got {args.port}.")
    if not 1 <= args.workers <= 256:
        raise CommandError(f"--workers must be in 1..256 (one process each); got {args.workers}.")
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
    from lstmcast.lstm.introspect import describe_gates

    if args.windows < 1:
        raise CommandError(f"--windows must be at least 1; got {args.windows}.")
    attention = None
    if args.recall_demo:
        from lstmcast.lstm.introspect import record
        from lstmcast.lstm.plots import write_trace_plots
        from lstmcast.lstm.tasks import recall_demo

        if args.model or args.data:
            raise CommandError("inspect --recall-demo trains its own model: leave out --model and --data.")
        if args.windows > 64:
            raise CommandError(f"inspect --recall-demo records at most its 64 sequences; got --windows {args.windows}.")
        demo = recall_demo(steps=100 if args.quick else 1500, length=10 if args.quick else 30,
                           hidden_size=8 if args.quick else 16)
        trace = record(demo.model.rnn, demo.inputs[: args.windows])
        paths = write_trace_plots(trace, args.out) if args.out else {}
        source = (f"the recall task ({demo.name}, {demo.model.rnn.hidden_size} units, T={demo.length}; "
                  f"{demo.train.steps} training steps, test accuracy {demo.accuracy:.3f}; sequence 0 has "
                  f"class {int(demo.labels[0])})")
        tidy = trace.to_frame() if args.out else None
    else:
        from lstmcast.data.io import read_table
        from lstmcast.forecaster import Forecaster

        if args.demo_series and args.data:
            raise CommandError("inspect takes --data FILE or --demo-series, not both.")
        if not args.model or not (args.data or args.demo_series):
            raise CommandError("inspect needs --model DIR and --data FILE (the windows to record; --demo-series "
                               "for the series `lstmcast demo` trains on), or --recall-demo.")
        forecaster = Forecaster.load(args.model, device=args.device)
        frame = _demo_inputs(0)[0] if args.demo_series else read_table(args.data)
        name = "the demo series (noisy sine, seed 0)" if args.demo_series else str(args.data)
        result = forecaster.inspect(frame, part=args.part, windows=args.windows, out=args.out, source=name)
        trace, paths, tidy, attention = result.trace, dict(result.paths), result.frame, result.attention
        source = f"the last {args.windows} {args.part} window(s) of {name}"
    if args.out:
        csv = Path(args.out) / "lstm_trace.csv"
        _atomic_csv(tidy, csv)
        paths["trace"] = str(csv)
    layers, directions, batch, length, hidden = trace.shape
    summary = trace.layer_summary()
    reading = describe_gates(trace)
    payload = {"command": "inspect", "source": source,
               "shape": {"layers": layers, "directions": directions, "sequences": batch,
                         "steps": length, "hidden_size": hidden},
               "layers": _records(summary), "reading": reading, "paths": paths}
    if attention is not None:
        mean = attention.mean(axis=0)
        payload["attention"] = {"mean_weights": mean.tolist(), "peak_position": int(mean.argmax()) - len(mean) + 1}
    if args.json:
        _emit_json(payload)
        return 0
    _print_rows(f"LSTM gates over {source}: {layers} layer(s) x {directions} direction(s), {length} steps, "
                f"{hidden} units", list(summary.columns), summary.to_numpy().tolist(),
                caption="remembering: share of forget-gate values above 0.95")
    for sentence in reading:
        print(sentence)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_gradient_flow(args: argparse.Namespace) -> int:
    import dataclasses

    from lstmcast.lstm.gradflow import (
        GradientFlowConfig,
        gradient_flow,
        gradient_horizons,
        network_gradient_norms,
        seed_summary,
    )
    from lstmcast.lstm.plots import plot_gradient_flow

    if not 0.0 < args.threshold < 1.0:
        raise CommandError(f"--threshold must be between 0 and 1 (a fraction of the last step's norm); "
                           f"got {args.threshold}.")
    if args.model:
        from lstmcast.data.io import read_table
        from lstmcast.forecaster import Forecaster

        if not args.data:
            raise CommandError("gradient-flow --model DIR also needs --data FILE: the windows to measure the "
                               "trained LSTM on (e.g. the file it was trained on).")
        forecaster = Forecaster.load(args.model, device=args.device)
        x, fut = _window_tensors(forecaster, read_table(args.data), args.part, args.windows, str(args.data))
        norms = network_gradient_norms(forecaster.network_, x, fut)
        norms.insert(0, "seed", 0)
        norms.insert(0, "stage", "trained")
        norms.insert(0, "model", "forecaster")
        config = None
    else:
        config = GradientFlowConfig.quick() if args.quick else GradientFlowConfig()
        if args.chrono_max_length is not None and args.chrono_max_length < 3:
            raise CommandError(f"--chrono-max-length must be at least 3; got {args.chrono_max_length}.")
        overrides = {"seeds": _int_list("--seeds", args.seeds, 0), "chrono_max_length": args.chrono_max_length,
                     "threshold": args.threshold}
        config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
        norms = gradient_flow(config)
    horizons = gradient_horizons(norms, args.threshold)
    summary = seed_summary(horizons)
    accuracy = norms.attrs.get("accuracy", {})
    matrix = norms.attrs.get("matrix_norms", {}).get("rnn", {})
    paths: dict[str, str] = {}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        import pandas as pd

        tables = [("gradient_norms", norms), ("gradient_horizons", horizons), ("gradient_summary", summary)]
        if accuracy:
            tables.append(("recall_accuracy", pd.DataFrame(
                [{"model": m, "seed": seed, "accuracy": v} for m, per_seed in accuracy.items()
                 for seed, v in per_seed.items()])))
        if matrix:
            tables.append(("rnn_matrix_norms", pd.DataFrame(
                [{"stage": stage, "seed": seed, **values} for stage, per_seed in matrix.items()
                 for seed, values in per_seed.items()])))
        for name, table in tables:
            _atomic_csv(table, out / f"{name}.csv")
            paths[name] = str(out / f"{name}.csv")
        lstm_rows = norms[norms["model"].str.startswith("lstm") | (norms["model"] == "forecaster")]
        plots = [(f"gradient_flow_{stage}", norms, {"stage": stage}) for stage in norms["stage"].unique()]
        if not lstm_rows.empty:
            plots += [("gradient_flow_cell", lstm_rows, {"column": "c_grad_norm"}),
                      ("forget_path", lstm_rows, {"column": "forget_path"})]
        if config is not None:
            plots += [(f"memory_path_{stage}", norms, {"column": "memory", "stage": stage})
                      for stage in norms["stage"].unique()]
        for name, rows, options in plots:
            plot_gradient_flow(rows, out / f"{name}.png", threshold=args.threshold, **options)
            paths[name] = str(out / f"{name}.png")
    payload = {"command": "gradient-flow", "config": config.to_dict() if config else None,
               "summary": _records(summary), "horizons": _records(horizons),
               "recall_accuracy": accuracy, "rnn_matrix_norms": matrix, "paths": paths}
    if args.json:
        _emit_json(payload)
        return 0
    seeds = sorted(norms["seed"].unique().tolist())
    columns = ["model", "stage", "h_horizon", "h_efold", "c_horizon", "c_efold", "path_horizon", "forget_path_end"]
    _print_rows(f"Gradient of a last-step loss: horizon (distance at which the norm falls below "
                f"{args.threshold:g} of its value at the loss) and e-folding length (steps per factor e), "
                f"median (min–max) over seeds {seeds}", columns, summary[columns].to_numpy().tolist(),
                caption=">L-1: beyond the sequence; c / path: LSTM only (dL/dc_t, and the product of forget "
                        "gates along the cell state)")
    if accuracy:
        _print_rows("Recall accuracy after training (chance 0.25), per seed", ["model", *map(str, seeds)],
                    [[m, *(f"{a[s]:.3f}" for s in seeds)] for m, a in accuracy.items()])
    if matrix:
        _print_rows("tanh RNN recurrent matrix W_hh: sigma_max (the bound's rate) and spectral radius "
                    "(the asymptotic rate), per seed", ["stage", "quantity", *map(str, seeds)],
                    [[stage, q, *(f"{values[s][q]:.3f}" for s in seeds)]
                     for stage, values in matrix.items() for q in ("sigma_max", "spectral_radius")])
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _float_list(option: str, text: str, size: int) -> list[float]:
    """``'0.1,-0.2'`` -> ``[0.1, -0.2]`` of exactly ``size`` numbers, or a clear CommandError."""
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if len(values) != size or not all(math.isfinite(v) for v in values):
        raise CommandError(f"{option} takes {size} comma-separated finite numbers, e.g. {option} "
                           f"{','.join(['0.1'] * size)}; got {text!r}.")
    return values


def cmd_explain_step(args: argparse.Namespace) -> int:
    import torch

    from lstmcast.lstm.walkthrough import (
        check_backward,
        explain_step,
        format_backward,
        format_walkthrough,
        make_lstm,
    )

    if args.steps < 1 or args.steps > 50:
        raise CommandError(f"--steps must be between 1 and 50; got {args.steps}.")
    if args.seed < 0:
        raise CommandError(f"--seed must be a non-negative integer; got {args.seed}.")
    x = torch.tensor(_float_list("--x", args.x, 1), dtype=torch.float64)
    h_prev = torch.tensor(_float_list("--h-prev", args.h_prev, 2), dtype=torch.float64)
    c_prev = torch.tensor(_float_list("--c-prev", args.c_prev, 2), dtype=torch.float64)
    lstm = make_lstm(hidden_size=2, input_size=1, seed=args.seed)
    step = explain_step(lstm, x, h_prev, c_prev)
    # the backward pass reads x first, then `steps - 1` inputs drawn from the seed
    rest = torch.randn(args.steps - 1, 1, generator=torch.Generator().manual_seed(args.seed), dtype=torch.float64)
    xs = torch.cat([x.reshape(1, 1), rest])
    u = torch.tensor([1.0, -0.5], dtype=torch.float64)
    check = check_backward(lstm, xs, h_prev, c_prev, u)
    if args.json:
        _emit_json({
            "command": "explain-step", "seed": args.seed,
            "x": x.tolist(), "h_prev": h_prev.tolist(), "c_prev": c_prev.tolist(),
            "weights": {g: w.tolist() for g, w in step.weights.items()},
            "biases": {g: b.tolist() for g, b in step.biases.items()},
            "preactivations": {g: z.tolist() for g, z in step.preactivations.items()},
            "gates": {g: v.tolist() for g, v in step.gates.items()},
            "cell": step.cell.tolist(), "hidden": step.hidden.tolist(),
            "torch": {"cell": step.torch_cell.tolist(), "hidden": step.torch_hidden.tolist()},
            "max_difference": step.max_difference,
            "backward": {"inputs": xs.reshape(-1).tolist(), "u": u.tolist(),
                         "dh": check.manual["dh"].tolist(), "dc": check.manual["dc"].tolist(),
                         "max_difference_from_autograd": check.differences},
        })
        return 0
    print(format_walkthrough(step))
    print()
    print(f"inputs x_0..x_{args.steps - 1} = " + ", ".join(f"{v:.4f}" for v in xs.reshape(-1).tolist())
          + f" (x_0 = --x, the rest from seed {args.seed}); u = [1, -0.5]")
    print(format_backward(check))
    return 0


def _int_list(option: str, text: str | None, minimum: int) -> tuple[int, ...] | None:
    """``'10,50,100'`` -> ``(10, 50, 100)``; a clear CommandError for anything else."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        values = tuple(int(t) for t in items)
    except ValueError:
        raise CommandError(f"{option} takes comma-separated integers, e.g. {option} 10,50; got {text!r}.") from None
    if not values or min(values) < minimum:
        raise CommandError(f"{option} takes comma-separated integers >= {minimum}; got {text!r}.")
    return values


def _name_list(option: str, text: str | None, known: Sequence[str], allow_empty: bool = False) -> tuple[str, ...] | None:
    """``'rnn,lstm-fb1'`` -> ``('rnn', 'lstm-fb1')``, every name checked against ``known``."""
    if text is None:
        return None
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in known]
    if unknown or (not names and not allow_empty):
        raise CommandError(f"{option}: unknown model(s) {', '.join(unknown) or '(none given)'}; "
                           f"choose from {', '.join(known)} (comma-separated).")
    return names


def cmd_long_dependency(args: argparse.Namespace) -> int:
    import dataclasses

    from lstmcast.lstm.longdep import (
        LongDependencyConfig,
        accuracy_table,
        long_dependency_experiment,
        seed_table,
        solved_table,
        steps_table,
    )
    from lstmcast.lstm.plots import plot_long_dependency
    from lstmcast.lstm.tasks import MODEL_NAMES

    config = LongDependencyConfig.quick() if args.quick else LongDependencyConfig()
    seeds = _int_list("--seeds", args.seeds, 0)
    overrides = {
        "models": _name_list("--models", args.models, MODEL_NAMES),
        "variable_lag": _name_list("--variable-lag", args.variable_lag, MODEL_NAMES, allow_empty=True),
        "lengths": _int_list("--lengths", args.lengths, 2),
        "seeds": seeds,
        "max_steps": args.max_steps,
        "n_jobs": args.jobs,
    }
    for option, value in (("--jobs", args.jobs), ("--max-steps", args.max_steps)):
        if value is not None and value < 1:
            raise CommandError(f"{option} must be at least 1; got {value}.")
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    results = long_dependency_experiment(config)
    paths: dict[str, str] = {}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        _atomic_csv(results, out / "long_dependency.csv")
        plot_long_dependency(results, out / "long_dependency.png", success_accuracy=config.success_accuracy)
        paths = {"results": str(out / "long_dependency.csv"), "plot": str(out / "long_dependency.png")}
    accuracy, solved, per_seed, steps = (accuracy_table(results), solved_table(results), seed_table(results),
                                         steps_table(results))
    payload = {"command": "long-dependency", "config": config.to_dict(),
               "wall_seconds": round(results.attrs["wall_seconds"], 2),
               "cpu_seconds": round(float(results["cpu_seconds"].sum()), 2),
               "accuracy": {m: {str(t): float(v) for t, v in row.items()} for m, row in accuracy.iterrows()},
               "solved": {m: {str(t): v for t, v in row.items()} for m, row in solved.iterrows()},
               "runs": _records(results), "paths": paths}
    if args.json:
        _emit_json(payload)
        return 0
    header = ["run", *(f"T={t}" for t in accuracy.columns)]
    rows = [[model, *(f"{a:.3f} ({s})" for a, s in zip(accuracy.loc[model], solved.loc[model], strict=True))]
            for model in accuracy.index]
    _print_rows(f"Recall a class seen T steps ago: mean test accuracy over seeds {list(config.seeds)} (runs "
                f"solved, accuracy >= {config.success_accuracy:g}); chance {1 / config.n_classes:g}", header, rows,
                caption=f"{len(results)} runs in {results.attrs['wall_seconds']:.0f}s wall "
                        f"({results['cpu_seconds'].sum():.0f}s CPU, {config.n_jobs} worker(s))")
    _print_rows("Test accuracy of each seed", header,
                [[run, *per_seed.loc[run].tolist()] for run in per_seed.index])
    _print_rows(f"Training steps taken, mean over seeds ({config.max_steps} = the budget ran out)", header,
                [[run, *(f"{v:.0f}" for v in steps.loc[run])] for run in steps.index])
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _atomic_csv(frame: Any, path: Path) -> None:
    """Write a CSV through a temporary file in the same folder and a rename."""
    import os
    import tempfile

    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would make the result private
        frame.to_csv(temporary, index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _add_lstm_commands(sub: Any) -> None:
    p = sub.add_parser("inspect", help="record a trained model's LSTM gates and cell states on windows of a file "
                       "(or, with --recall-demo, of an LSTM trained to remember)")
    p.add_argument("--model", help="model directory")
    p.add_argument("--data", help="CSV/Parquet with the training columns")
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"],
                   help="which part of the file the windows come from (default test)")
    p.add_argument("--windows", type=int, default=1, metavar="N", help="record the last N windows (default 1; "
                   "with --recall-demo the first N of its 64 sequences)")
    p.add_argument("--demo-series", action="store_true", help="instead of --data: the noisy sine `lstmcast demo` "
                   "trains on (data seed 0)")
    p.add_argument("--recall-demo", action="store_true", help="instead of --model/--data: train a 16-unit chrono "
                   "LSTM to recall a class over 30 steps (seconds) and record it")
    p.add_argument("--quick", action="store_true", help="with --recall-demo: a smaller, shorter demo (for CI)")
    p.add_argument("--out", metavar="DIR", help="write gate heatmaps, the forget/cell plot and lstm_trace.csv here")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("gradient-flow", help="how far back the gradient of a last-step loss reaches: RNN, GRU and "
                       "LSTM (forget bias 0 / 1 / chrono) at init and trained, over seeds 0-4, or a trained "
                       "model's LSTM")
    p.add_argument("--model", metavar="DIR", help="measure this trained model's LSTM instead (needs --data)")
    p.add_argument("--data", help="with --model: CSV/Parquet whose windows to measure on")
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"])
    p.add_argument("--windows", type=int, default=32, metavar="N", help="with --model: the last N windows (default 32)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, two seeds (seconds), for CI")
    p.add_argument("--seeds", metavar="S1,S2", help="seeds (default 0,1,2,3,4)")
    p.add_argument("--threshold", type=float, default=1e-3,
                   help="horizon threshold, a fraction of the norm at the loss (default 1e-3)")
    p.add_argument("--chrono-max-length", type=int, metavar="T",
                   help="T_max of chrono initialisation (default: the training gap, 20)")
    p.add_argument("--out", metavar="DIR", help="write gradient_norms.csv, gradient_horizons.csv, "
                   "gradient_summary.csv and the plots here")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_gradient_flow)

    p = sub.add_parser("explain-step", help="one LSTM step (H=2, F=1) with every number printed and checked "
                       "against nn.LSTM, then a hand-written backward pass checked against autograd")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights (PyTorch's default init; default 0)")
    p.add_argument("--x", default="0.5", metavar="X", help="the input x_t (default 0.5)")
    p.add_argument("--h-prev", default="0.1,-0.2", metavar="H1,H2", help="h_{t-1} (default 0.1,-0.2)")
    p.add_argument("--c-prev", default="0.3,0.4", metavar="C1,C2", help="c_{t-1} (default 0.3,0.4)")
    p.add_argument("--steps", type=int, default=3, metavar="T",
                   help="steps of the backward pass (default 3; x_0 = --x, the rest drawn from --seed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_explain_step)

    p = sub.add_parser("long-dependency", help="train RNN, GRU and LSTMs (forget bias 1/2/3, chrono forget-only, "
                       "chrono; fb1 also with variable-lag training) to recall a class seen T steps ago, "
                       "T in 10, 50, 100, 200, seeds 0-2 (tens of CPU minutes; --quick: seconds)")
    p.add_argument("--quick", action="store_true", help="tiny preset (seconds), for CI")
    p.add_argument("--models", metavar="M1,M2", help="models to train (comma-separated; default: the full "
                   "ablation rnn,gru,lstm-fb1,lstm-fb2,lstm-fb3,lstm-chrono-forget,lstm-chrono)")
    p.add_argument("--variable-lag", metavar="M1,M2", help="models also trained with the cue at a random step "
                   "(lags 0..T-1; scored at lag T-1). Default lstm-fb1; '' for none")
    p.add_argument("--lengths", metavar="T1,T2", help="dependency lengths T (default 10,50,100,200)")
    p.add_argument("--seeds", metavar="S1,S2", help="seeds (default 0,1,2)")
    p.add_argument("--max-steps", type=int, metavar="N", help="training-step budget per run (default 1500)")
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
    p.add_argument("--horizon", type=int, metavar="H",
                   help="steps to forecast (default: the trained horizon; more rolls the model forward)")
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

    p = sub.add_parser("evaluate", help="score a model on the last horizon of each series against baselines, "
                       "or (--holdout H) train on all but the last H steps and score those")
    p.add_argument("--model", help="model directory to score (it must not have seen the file's last rows)")
    p.add_argument("--holdout", type=int, metavar="H",
                   help="train a fresh model (options as for train) on all but the last H steps of each series, "
                        "then score its forecast of those H steps")
    _add_data_options(p)
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"],
                   help="with a model split by fractions: which part (default test = the last horizon)")
    p.add_argument("--season", type=int, help="seasonality for seasonal naive (default from the frequency)")
    _add_run_options(p)
    p.add_argument("--json", action="store_true")
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


def _show_notes(command: str) -> Callable[..., None]:
    """warnings.showwarning that prints lstmcast's data notes as one plain line each."""
    import warnings

    default = warnings.showwarning

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if category.__name__ == "DataNote":
            _stderr(f"lstmcast {command}: note: {message}")
        else:
            default(message, category, filename, lineno, file, line)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    started = time.perf_counter()
    command = "lstmcast"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = args.command
        with warnings.catch_warnings():
            warnings.showwarning = _show_notes(command)
            return int(args.func(args) or 0)
    except LstmcastError as exc:
        _stderr(f"lstmcast {command}: error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        _stderr(f"lstmcast {command}: interrupted after {time.perf_counter() - started:.0f}s")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
