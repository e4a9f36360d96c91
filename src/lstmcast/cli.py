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
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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
        elif record.epoch == 1 or record.epoch % self.every == 0 or record.best and record.epoch < 5:
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


def _add_data_options(p: argparse.ArgumentParser, with_config: bool = True) -> None:
    p.add_argument("--data", required=True, help="CSV or Parquet file")
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

    forecaster = Forecaster(config).fit(frame, callbacks=[Progress(not args.quiet)], source=source)
    scores = forecaster.evaluate(frame, source=source)
    hist = forecaster.historical_forecasts(frame, source=source)
    writers = _plot_writers(forecaster, hist)
    model_dir = out / "model" if args.command == "demo" else out
    forecaster.save(model_dir, extras=writers, metrics=scores)
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


def cmd_demo(args: argparse.Namespace) -> int:
    from lstmcast.config import DataConfig, ForecastConfig
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(n_points=1000, noise_std=0.1, seed=args.data_seed)
    base = ForecastConfig(data=DataConfig(targets=("value",), input_length=20, horizon=1, scaler="minmax"))
    config = _build_config(args, base)
    out = Path(args.out)
    if not args.json:
        print("Demo: noisy sine (1000 points, noise std 0.1), windows of 20, LSTM(64) + Linear, "
              "scaler fitted on the training part only.")
    _train_and_report(args, frame, config, out, source="the demo series", noise_floor=0.1)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table

    config = _build_config(args)
    frame = read_table(args.data)
    _train_and_report(args, frame, config, Path(args.out), source=str(args.data))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    forecaster = Forecaster.load(args.model, device=args.device)
    frame = read_table(args.data)
    future = read_table(args.future) if args.future else None
    forecast = forecaster.predict(frame, future=future, source=str(args.data))
    table = forecast.to_frame()
    payload: dict[str, Any] = {"command": "predict", "rows": len(table), "horizon": forecaster.config.data.horizon}
    if args.out:
        payload["paths"] = {"forecast": str(forecast.to_csv(args.out))}
    if args.json:
        payload["forecast"] = json.loads(table.to_json(orient="records", date_format="iso"))
        _emit_json(payload)
    elif args.out:
        print(f"forecast of {len(table)} rows written to {args.out}")
    else:
        print(table.to_csv(index=False), end="")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    forecaster = Forecaster.load(args.model, device=args.device)
    frame = read_table(args.data)
    scores = forecaster.evaluate(frame, part=args.part, source=str(args.data), season=args.season)
    if args.json:
        _emit_json({"command": "evaluate", **scores})
    else:
        _print_scores(scores, title=f"Metrics on the {args.part} part of {args.data}")
    return 0


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
    _add_data_options(p)
    _add_run_options(p)
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="forecast the next horizon steps after the end of a file")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", required=True, help="recent history (CSV/Parquet) with the training columns")
    p.add_argument("--future", help="known-future covariates for the horizon (CSV/Parquet)")
    p.add_argument("--out", help="CSV file to write (default: print)")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="score a model on a file's last part against baselines")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"],
                   help="which part of the file, split by the model's fractions (default test)")
    p.add_argument("--season", type=int, help="seasonality for seasonal naive (default from the frequency)")
    p.add_argument("--device")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

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
