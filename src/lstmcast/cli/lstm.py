"""The teaching commands: inspect, gradient-flow, long-dependency, explain-step."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lstmcast.cli.common import CommandError, _emit_json, _print_rows
from lstmcast.cli.fitting import _demo_inputs


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
        network = forecaster.network_
        network = network.members[0] if hasattr(network, "members") else network  # an ensemble: its first member
        norms = network_gradient_norms(network, x, fut)
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
