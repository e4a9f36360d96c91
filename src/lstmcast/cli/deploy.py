"""Commands that ship a model: export, serve, and the benchmark protocols (bench)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lstmcast.cli.common import CommandError, Progress, emit_json, print_rows, to_stderr


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
        emit_json(payload)
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
        to_stderr(f"serving {args.model} on http://{args.host}:{args.port} (OpenAPI page: /docs); Ctrl-C stops")
    run_server(args.model, host=args.host, port=args.port, workers=args.workers, backend=args.backend,
               quiet=args.quiet)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from lstmcast.evaluation import bench

    if not args.data_dir:
        files = "ETTh1.csv / ETTh2.csv" if args.benchmark == "ett" else "m4_hourly_train.csv and m4_hourly_test.csv"
        raise CommandError(f"lstmcast bench {args.benchmark} needs --data-dir DIR: the directory holding the "
                           f"unmodified benchmark files ({files}; see shared/data/README.md).")
    overrides = list(args.set or [])
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.time_budget:
        from lstmcast.config import parse_duration

        overrides.append(f"train.time_budget={parse_duration(args.time_budget)}")
    callbacks: list[Any] = [Progress(not args.quiet)]  # a fit-loop Callback
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
        from lstmcast._json import jsonable

        out.write_text(json.dumps(jsonable(result), indent=2), encoding="utf-8")
    if args.json:
        emit_json({"command": "bench", **result})
        return 0
    header, rows = bench.result_table(result)
    t, hw = result["training"], result["hardware"]
    print_rows(title + (" (--quick: tiny model on a slice)" if args.quick else ""), header, rows,
               caption=bench.describe_config(result["config"]))
    print(f"training: {t['seconds']:.1f}s, {t['epochs']} epochs (best {t['best_epoch']}, stop: {t['stop_reason']}), "
          f"{t['parameters']:,} parameters, {t['threads']} threads; hardware: {hw['cpu']}, "
          f"{hw['cpu_count']} cores, torch {hw['torch']}")
    if args.out:
        print(f"result: {args.out}")
    return 0
