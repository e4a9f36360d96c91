"""The teaching commands: inspect, gradient-flow, long-dependency, explain-step (the two
experiments' commands are in :mod:`lstmcast.cli.lstm_experiments`)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from lstmcast.cli.common import CommandError, emit_json, print_rows, records, write_csv_atomic
from lstmcast.cli.fitting import demo_inputs
from lstmcast.cli.lstm_experiments import cmd_gradient_flow, cmd_long_dependency


# ---------------------------------------------------------------------------- the LSTM explained (lstmcast.lstm)
def _recall_demo_trace(args: argparse.Namespace) -> tuple[Any, dict[str, str], Any, None, str]:
    """inspect --recall-demo: train an LSTM to recall a class, record it on its first sequences."""
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
    return trace, paths, trace.to_frame() if args.out else None, None, source


def _model_trace(args: argparse.Namespace) -> tuple[Any, dict[str, str], Any, Any, str]:
    """inspect --model DIR: record the trained model's LSTM on the last windows of --data."""
    from lstmcast.data.io import read_table
    from lstmcast.forecaster import Forecaster

    if args.demo_series and args.data:
        raise CommandError("inspect takes --data FILE or --demo-series, not both.")
    if not args.model or not (args.data or args.demo_series):
        raise CommandError("inspect needs --model DIR and --data FILE (the windows to record; --demo-series "
                           "for the series `lstmcast demo` trains on), or --recall-demo.")
    forecaster = Forecaster.load(args.model, device=args.device)
    frame = demo_inputs(0)[0] if args.demo_series else read_table(args.data)
    name = "the demo series (noisy sine, seed 0)" if args.demo_series else str(args.data)
    result = forecaster.inspect(frame, part=args.part, windows=args.windows, out=args.out, source=name)
    source = f"the last {args.windows} {args.part} window(s) of {name}"
    return result.trace, dict(result.paths), result.frame, result.attention, source


def cmd_inspect(args: argparse.Namespace) -> int:
    from lstmcast.lstm.introspect import describe_gates

    if args.windows < 1:
        raise CommandError(f"--windows must be at least 1; got {args.windows}.")
    trace, paths, tidy, attention, source = _recall_demo_trace(args) if args.recall_demo else _model_trace(args)
    if args.out:
        csv = Path(args.out) / "lstm_trace.csv"
        write_csv_atomic(tidy, csv)
        paths["trace"] = str(csv)
    layers, directions, batch, length, hidden = trace.shape
    summary = trace.layer_summary()
    reading = describe_gates(trace)
    payload = {"command": "inspect", "source": source,
               "shape": {"layers": layers, "directions": directions, "sequences": batch,
                         "steps": length, "hidden_size": hidden},
               "layers": records(summary), "reading": reading, "paths": paths}
    if attention is not None:
        mean = attention.mean(axis=0)
        payload["attention"] = {"mean_weights": mean.tolist(), "peak_position": int(mean.argmax()) - len(mean) + 1}
    if args.json:
        emit_json(payload)
        return 0
    print_rows(f"LSTM gates over {source}: {layers} layer(s) x {directions} direction(s), {length} steps, "
               f"{hidden} units", list(summary.columns), summary.to_numpy().tolist(),
               caption="remembering: share of forget-gate values above 0.95")
    for sentence in reading:
        print(sentence)
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
        emit_json({
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


def add_lstm_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The teaching commands, in the order ``lstmcast --help`` lists them."""
    _add_recording_commands(sub)
    _add_lesson_commands(sub)


def _add_recording_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """inspect and gradient-flow: what a network's gates and gradients do."""
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


def _add_lesson_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """explain-step and long-dependency: one step by hand, and the long-memory experiment."""
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
