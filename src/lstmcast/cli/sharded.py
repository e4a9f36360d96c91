"""The command line's side of Parquet dataset directories (train / predict / backtest --data DIR/).

Under torchrun with ``--distributed`` each process reads only its share of the series
(:mod:`lstmcast.data.dataset`); alone, a process reads every series of the directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

from lstmcast.cli.common import CommandError, Progress, align_columns, emit_json
from lstmcast.data.dataset import data_sha256

__all__ = ["backtest_dataset", "cmd_predict_dataset", "data_sha256", "train_input"]


def train_input(args: argparse.Namespace, config: Any) -> tuple[Any, Any]:
    """What ``train --data`` trains on in this process: the file, or for a dataset directory
    this process's share of the series (all of them without ``--distributed``) and the config
    with the dataset's series column; sets ``args.sharded``."""
    from lstmcast.data.dataset import is_dataset, load_shard
    from lstmcast.data.io import read_table
    from lstmcast.training.sharded import check_sharded_config

    if not is_dataset(args.data):
        return read_table(args.data), config
    args.sharded = bool(getattr(args, "distributed", False))
    rank, world = 0, 1
    if args.sharded:
        check_sharded_config(config)
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    frame, data = load_shard(args.data, config.data, rank, world)
    return frame, dataclasses.replace(config, data=data)


def cmd_predict_dataset(args: argparse.Namespace) -> int:
    """predict --data DIR/: one CSV of every series' forecasts (one part per process, joined)."""
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster
    from lstmcast.sharded import predict_dataset

    if args.plot:
        raise CommandError("--plot draws from one file: predict --data FILE.csv/.parquet --plot, or drop --plot "
                           "with a dataset directory.")
    distributed = bool(getattr(args, "distributed", False))
    if distributed and not args.out:
        raise CommandError("predict --distributed writes one CSV from every process: give --out FILE.csv.")
    model = Forecaster.load(args.model, device=args.device)
    future = align_columns(read_table(args.future), model, args) if args.future else None
    forecast = predict_dataset(model, args.data, args.out, horizon=args.horizon, future=future,
                               frame_hook=lambda frame: align_columns(frame, model, args), distributed=distributed)
    if distributed and os.environ.get("RANK", "0") != "0":
        return 0
    table = forecast.to_frame()
    rows = sum(1 for _ in open(args.out, encoding="utf-8")) - 1 if args.out else len(table)
    payload: dict[str, Any] = {"command": "predict", "rows": rows,
                               "horizon": args.horizon or model.config_.data.horizon,
                               "notes": list(getattr(forecast, "notes", []))}
    if args.out:
        payload["paths"] = {"forecast": str(args.out)}
    if args.json:
        if not distributed:
            import json

            payload["forecast"] = json.loads(table.to_json(orient="records", date_format="iso"))
        emit_json(payload)
    elif args.out:
        print(f"forecast written to {args.out} ({rows} rows)")
    else:
        print(table.to_csv(index=False), end="")
    return 0


def backtest_dataset(args: argparse.Namespace, config: Any) -> tuple[Any, dict[str, str]] | None:
    """backtest --data DIR/: alone, every series of the directory, as from one file. With
    ``--distributed`` (one process of a torchrun job) this process's share of the series: each
    fold's model is trained data-parallel on every process's series, each process forecasts its
    own, and the scores cover every series. Returns the result and the paths rank 0 (or the one
    process) wrote; None on the other processes."""
    from lstmcast.data.dataset import load_shard
    from lstmcast.evaluation.backtest import backtest, write_backtest

    ctx = None
    if getattr(args, "distributed", False):
        from lstmcast.training.distributed import init_distributed
        from lstmcast.training.sharded import check_sharded_config

        check_sharded_config(config)
        ctx = init_distributed(config.train.device)
        ctx.sharded = True  # each process holds only its own series
    try:
        frame, data = load_shard(args.data, config.data, *((ctx.rank, ctx.world_size) if ctx else (0, 1)))
        config = dataclasses.replace(config, data=data)
        progress = [Progress(not args.quiet and (ctx is None or ctx.is_main))]
        result = backtest(config, frame, folds=args.folds, step=args.step, refit=args.refit, season=args.season,
                          callbacks=progress, source=str(args.data), distributed=ctx)
        paths = write_backtest(result, args.out) if ctx is None or ctx.is_main else None
        if ctx is not None:
            ctx.barrier()  # the outputs are there when any process returns
    finally:
        if ctx is not None:
            ctx.close()
    return None if paths is None else (result, paths)
