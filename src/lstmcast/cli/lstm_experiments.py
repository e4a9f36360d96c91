"""The LSTM experiments on the command line: gradient-flow and long-dependency."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lstmcast.cli.common import CommandError, emit_json, print_rows, records, write_csv_atomic


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


def cmd_gradient_flow(args: argparse.Namespace) -> int:
    from lstmcast.lstm.gradflow import gradient_horizons, seed_summary

    if not 0.0 < args.threshold < 1.0:
        raise CommandError(f"--threshold must be between 0 and 1 (a fraction of the last step's norm); "
                           f"got {args.threshold}.")
    norms, config = _trained_norms(args) if args.model else _experiment_norms(args)
    horizons = gradient_horizons(norms, args.threshold)
    summary = seed_summary(horizons)
    accuracy = norms.attrs.get("accuracy", {})
    matrix = norms.attrs.get("matrix_norms", {}).get("rnn", {})
    paths = _write_gradient_flow(Path(args.out), norms, horizons, summary, experiment=config is not None,
                                 threshold=args.threshold) if args.out else {}
    payload = {"command": "gradient-flow", "config": config.to_dict() if config else None,
               "summary": records(summary), "horizons": records(horizons),
               "recall_accuracy": accuracy, "rnn_matrix_norms": matrix, "paths": paths}
    if args.json:
        emit_json(payload)
        return 0
    seeds = sorted(norms["seed"].unique().tolist())
    columns = ["model", "stage", "h_horizon", "h_efold", "c_horizon", "c_efold", "path_horizon", "forget_path_end"]
    print_rows(f"Gradient of a last-step loss: horizon (distance at which the norm falls below "
               f"{args.threshold:g} of its value at the loss) and e-folding length (steps per factor e), "
               f"median (min–max) over seeds {seeds}", columns, summary[columns].to_numpy().tolist(),
               caption=">L-1: beyond the sequence; c / path: LSTM only (dL/dc_t, and the product of forget "
                       "gates along the cell state)")
    if accuracy:
        print_rows("Recall accuracy after training (chance 0.25), per seed", ["model", *map(str, seeds)],
                   [[m, *(f"{a[s]:.3f}" for s in seeds)] for m, a in accuracy.items()])
    if matrix:
        print_rows("tanh RNN recurrent matrix W_hh: sigma_max (the bound's rate) and spectral radius "
                   "(the asymptotic rate), per seed", ["stage", "quantity", *map(str, seeds)],
                   [[stage, q, *(f"{values[s][q]:.3f}" for s in seeds)]
                    for stage, values in matrix.items() for q in ("sigma_max", "spectral_radius")])
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _trained_norms(args: argparse.Namespace) -> tuple[Any, None]:
    """gradient-flow --model: the norms of a trained model's LSTM on the last windows of --data."""
    from torch import nn

    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster
    from lstmcast.lstm.gradflow import network_gradient_norms

    if not args.data:
        raise CommandError("gradient-flow --model DIR also needs --data FILE: the windows to measure the "
                           "trained LSTM on (e.g. the file it was trained on).")
    forecaster = Forecaster.load(args.model, device=args.device)
    network: nn.Module = forecaster.gated_network("gradient-flow")  # an ensemble's first member; no GRU
    x, fut = _window_tensors(forecaster, read_table(args.data), args.part, args.windows, str(args.data))
    norms = network_gradient_norms(network, x, fut)
    norms.insert(0, "seed", 0)
    norms.insert(0, "stage", "trained")
    norms.insert(0, "model", "forecaster")
    return norms, None


def _experiment_norms(args: argparse.Namespace) -> tuple[Any, Any]:
    """gradient-flow without --model: the RNN / GRU / LSTM comparison over seeds, and its config."""
    import dataclasses

    from lstmcast.lstm.gradflow import GradientFlowConfig, gradient_flow

    config = GradientFlowConfig.quick() if args.quick else GradientFlowConfig()
    if args.chrono_max_length is not None and args.chrono_max_length < 3:
        raise CommandError(f"--chrono-max-length must be at least 3; got {args.chrono_max_length}.")
    overrides = {"seeds": _int_list("--seeds", args.seeds, 0), "chrono_max_length": args.chrono_max_length,
                 "threshold": args.threshold}
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    return gradient_flow(config), config


def _write_gradient_flow(out: Path, norms: Any, horizons: Any, summary: Any, *, experiment: bool,
                         threshold: float) -> dict[str, str]:
    """The CSV tables and the plots of a gradient-flow run in ``out``; returns their paths by name."""
    import pandas as pd

    from lstmcast.lstm.plots import plot_gradient_flow

    out.mkdir(parents=True, exist_ok=True)
    accuracy = norms.attrs.get("accuracy", {})
    matrix = norms.attrs.get("matrix_norms", {}).get("rnn", {})
    paths: dict[str, str] = {}
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
        write_csv_atomic(table, out / f"{name}.csv")
        paths[name] = str(out / f"{name}.csv")
    lstm_rows = norms[norms["model"].str.startswith("lstm") | (norms["model"] == "forecaster")]
    plots = [(f"gradient_flow_{stage}", norms, {"stage": stage}) for stage in norms["stage"].unique()]
    if not lstm_rows.empty:
        plots += [("gradient_flow_cell", lstm_rows, {"column": "c_grad_norm"}),
                  ("forget_path", lstm_rows, {"column": "forget_path"})]
    if experiment:
        plots += [(f"memory_path_{stage}", norms, {"column": "memory", "stage": stage})
                  for stage in norms["stage"].unique()]
    for name, rows, options in plots:
        plot_gradient_flow(rows, out / f"{name}.png", threshold=threshold, **options)
        paths[name] = str(out / f"{name}.png")
    return paths


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


def _long_dependency_config(args: argparse.Namespace) -> Any:
    """The experiment's config: the full (or --quick) preset with the options given."""
    import dataclasses

    from lstmcast.lstm.longdep import LongDependencyConfig
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
    return config


def cmd_long_dependency(args: argparse.Namespace) -> int:
    from lstmcast.lstm.longdep import (
        accuracy_table,
        long_dependency_experiment,
        seed_table,
        solved_table,
        steps_table,
    )
    from lstmcast.lstm.plots import plot_long_dependency

    config = _long_dependency_config(args)
    results = long_dependency_experiment(config)
    paths: dict[str, str] = {}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(results, out / "long_dependency.csv")
        plot_long_dependency(results, out / "long_dependency.png", success_accuracy=config.success_accuracy)
        paths = {"results": str(out / "long_dependency.csv"), "plot": str(out / "long_dependency.png")}
    accuracy, solved, per_seed, steps = (accuracy_table(results), solved_table(results), seed_table(results),
                                         steps_table(results))
    payload = {"command": "long-dependency", "config": config.to_dict(),
               "wall_seconds": round(results.attrs["wall_seconds"], 2),
               "cpu_seconds": round(float(results["cpu_seconds"].sum()), 2),
               "accuracy": {m: {str(t): float(v) for t, v in row.items()} for m, row in accuracy.iterrows()},
               "solved": {m: {str(t): v for t, v in row.items()} for m, row in solved.iterrows()},
               "runs": records(results), "paths": paths}
    if args.json:
        emit_json(payload)
        return 0
    header = ["run", *(f"T={t}" for t in accuracy.columns)]
    rows = [[model, *(f"{a:.3f} ({s})" for a, s in zip(accuracy.loc[model], solved.loc[model], strict=True))]
            for model in accuracy.index]
    print_rows(f"Recall a class seen T steps ago: mean test accuracy over seeds {list(config.seeds)} (runs "
               f"solved, accuracy >= {config.success_accuracy:g}); chance {1 / config.n_classes:g}", header, rows,
               caption=f"{len(results)} runs in {results.attrs['wall_seconds']:.0f}s wall "
                       f"({results['cpu_seconds'].sum():.0f}s CPU, {config.n_jobs} worker(s))")
    print_rows("Test accuracy of each seed", header,
               [[run, *per_seed.loc[run].tolist()] for run in per_seed.index])
    print_rows(f"Training steps taken, mean over seeds ({config.max_steps} = the budget ran out)", header,
               [[run, *(f"{v:.0f}" for v in steps.loc[run])] for run in steps.index])
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
