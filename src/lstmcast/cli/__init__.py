"""Command line: the only package that prints or exits (one module per command group).

Every command that reports figures takes ``--json`` and then prints exactly one JSON object on
stdout. Bad input exits with status 2 and a one-paragraph message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from lstmcast._interrupt import restore as _restore_ctrl_c
from lstmcast._version import __version__
from lstmcast.cli.common import EXIT_USAGE, Progress, add_data_options, add_run_options, to_stderr
from lstmcast.cli.deploy import cmd_bench, cmd_export, cmd_serve
from lstmcast.cli.fitting import cmd_backtest, cmd_demo, cmd_evaluate, cmd_predict, cmd_train
from lstmcast.cli.lstm import add_lstm_commands
from lstmcast.cli.tune import cmd_tune
from lstmcast.errors import LstmcastError

__all__ = ["Progress", "build_parser", "main"]


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstmcast", description="Time-series forecasting with LSTM networks.")
    parser.add_argument("--version", action="version", version=f"lstmcast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_training_commands(sub)
    _add_forecast_commands(sub)
    _add_deploy_commands(sub)
    _add_backtest_commands(sub)
    add_lstm_commands(sub)
    return parser


def _add_training_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """demo, train and tune."""
    p = sub.add_parser("demo", help="the tutorial's job: an LSTM on a noisy sine wave")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the noise in the demo series")
    p.add_argument("--config", metavar="FILE.toml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_run_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train on a CSV/Parquet file and save the model directory")
    add_data_options(p, data_required=False)
    add_run_options(p)
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
    add_data_options(p, data_required=False)
    add_run_options(p)
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


def _add_forecast_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """predict and evaluate."""
    p = sub.add_parser("predict", help="forecast the next horizon steps after the end of a file")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", required=True,
                   help="recent history (CSV/Parquet file, or a Parquet dataset directory) with the training columns")
    p.add_argument("--future", help="known-future covariates for the horizon (CSV/Parquet)")
    p.add_argument("--horizon", type=int, metavar="H",
                   help="steps to forecast (default: the trained horizon; more rolls the model forward)")
    p.add_argument("--out", help="CSV file to write (default: print)")
    p.add_argument("--device")
    p.add_argument("--distributed", action="store_true",
                   help="with --data DIR/ under torchrun: each process forecasts its share of the series")
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
    add_data_options(p)
    p.add_argument("--part", default="test", choices=["test", "val", "train", "all"],
                   help="with a model split by fractions: which part (default test = the last horizon)")
    p.add_argument("--season", type=int, help="seasonality for seasonal naive (default from the frequency)")
    add_run_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def _add_deploy_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """export and serve."""
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


def _add_backtest_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """backtest and bench (the benchmark protocols)."""
    p = sub.add_parser("backtest", help="rolling-origin backtest: train before each of K origins, score the next "
                       "horizon steps against baselines")
    add_data_options(p)
    add_run_options(p)
    p.add_argument("--folds", type=int, default=3, metavar="K", help="forecast origins at the end of the data (default 3)")
    p.add_argument("--step", type=int, metavar="S", help="steps between origins (default: the horizon)")
    p.add_argument("--refit", action=argparse.BooleanOptionalAction, default=True,
                   help="a fresh model and scaler per fold (default), or --no-refit: one model trained "
                   "before the first origin")
    p.add_argument("--season", type=int, help="seasonality for seasonal naive and MASE (default from the frequency)")
    p.add_argument("--out", default="runs/backtest", help="directory for backtest.png, folds.csv, forecasts.csv, "
                   "backtest.json (default runs/backtest)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--distributed", action="store_true",
                   help="under torchrun with --data DIR/: each process reads its share of the series, each "
                        "fold's model is trained data-parallel (DDP); rank 0 scores every series and writes")
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
        q.add_argument("--data-dir", metavar="DIR",
                       help="directory of the benchmark files (required; see shared/data/README.md)")
        q.add_argument("--quick", action="store_true", help="a tiny model on a slice, in seconds (for CI)")
        q.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
        q.add_argument("--seed", type=int, help="random seed (train.seed)")
        q.add_argument("--time-budget", metavar="DURATION", help="stop training cleanly after e.g. 20m")
        q.add_argument("--out", metavar="FILE.json", help="also write the result as JSON")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.add_argument("--quiet", action="store_true", help="no progress output")
        q.set_defaults(func=cmd_bench)


def _show_notes(command: str) -> Callable[..., None]:
    """warnings.showwarning that prints lstmcast's data notes as one plain line each."""
    import warnings

    default = warnings.showwarning

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if category.__name__ == "DataNote":
            to_stderr(f"lstmcast {command}: note: {message}")
        else:
            default(message, category, filename, lineno, file, line)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    started = time.perf_counter()
    label = "lstmcast"  # "lstmcast COMMAND" once the command line is parsed
    try:
        _restore_ctrl_c()
        parser = build_parser()
        args = parser.parse_args(argv)
        label = f"lstmcast {args.command}"
        with warnings.catch_warnings():
            warnings.showwarning = _show_notes(args.command)
            return int(args.func(args) or 0)
    except LstmcastError as exc:
        to_stderr(f"{label}: error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        to_stderr(f"{label}: interrupted after {time.perf_counter() - started:.0f}s")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
