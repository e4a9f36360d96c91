"""Regenerate the figures of docs/lstm.md (docs/img/lstm_*.png) and print the tables it quotes.

    .venv/bin/python docs/make_lstm_figures.py            # everything (a few minutes on 2 cores)
    .venv/bin/python docs/make_lstm_figures.py --quick    # smoke run with the quick presets

Every number and picture in docs/lstm.md comes from this script; rerun it after changing
src/lstmcast/lstm/ and paste the printed tables into the page.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from lstmcast.lstm import (
    GradientFlowConfig,
    LongDependencyConfig,
    accuracy_table,
    gradient_flow,
    gradient_horizons,
    long_dependency_experiment,
    plot_forget_and_cell_norm,
    plot_gate_heatmaps,
    plot_gradient_flow,
    plot_long_dependency,
    record,
)
from lstmcast.lstm.longdep import solved_table
from lstmcast.lstm.tasks import (
    build_model,
    evaluate_recall,
    limit_threads,
    make_recall_batch,
    train_recall,
)

IMG = Path(__file__).resolve().parent / "img"


def markdown(frame: pd.DataFrame, index: bool = True) -> str:
    """A pipe table (pandas' to_markdown needs the optional 'tabulate' package)."""
    frame = frame.reset_index() if index else frame
    header = [str(c) for c in frame.columns]
    def cell(value: object) -> str:
        if pd.isna(value):
            return ""
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    rows = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def trace_figures(quick: bool) -> None:
    """Gates and states of an LSTM trained to recall a class over 30 steps of noise."""
    length, hidden = (10, 8) if quick else (30, 16)
    with limit_threads(1):
        model = build_model("lstm-chrono", 5, hidden, 4, max_length=length, seed=0)
        result = train_recall(model, length, steps=50 if quick else 1500, learning_rate=3e-3)
        accuracy = evaluate_recall(model, length)
        x, y = make_recall_batch(64, length, generator=torch.Generator().manual_seed(1))
        trace = record(model.rnn, x)
    print(f"trace model: lstm-chrono, hidden {hidden}, T={length}: {result.steps} steps, "
          f"test accuracy {accuracy:.3f}; sample 0 has class {int(y[0])}")
    plot_gate_heatmaps(trace, IMG / "lstm_gates.png", sample=0)
    plot_forget_and_cell_norm(trace, IMG / "lstm_forget_cell.png")


def gradient_figures(quick: bool) -> None:
    config = GradientFlowConfig.quick() if quick else GradientFlowConfig(
        models=("rnn", "gru", "lstm-fb0", "lstm-fb1", "lstm-chrono")
    )
    start = time.perf_counter()
    norms = gradient_flow(config)
    print(f"\ngradient flow ({time.perf_counter() - start:.1f} s), config: {config}")
    print("recall accuracy after training:", {k: round(v, 3) for k, v in norms.attrs["accuracy"].items()})
    print(markdown(gradient_horizons(norms), index=False))
    plot_gradient_flow(norms, IMG / "lstm_gradflow_init.png", stage="init")
    plot_gradient_flow(norms, IMG / "lstm_gradflow_trained.png", stage="trained")
    lstm_rows = norms[norms["model"].str.startswith("lstm")]
    plot_gradient_flow(lstm_rows, IMG / "lstm_gradflow_cell.png", column="c_grad_norm")
    plot_gradient_flow(lstm_rows, IMG / "lstm_forget_path.png", column="forget_path")


def long_dependency_figure(quick: bool) -> None:
    config = LongDependencyConfig.quick() if quick else LongDependencyConfig()
    results = long_dependency_experiment(config)
    print(f"\nlong dependency: wall {results.attrs['wall_seconds']:.0f} s with n_jobs={config.n_jobs}; "
          f"CPU time of all runs {results['cpu_seconds'].sum():.0f} s (wall on an idle machine is about "
          f"this / n_jobs); config: {config}")
    print("mean test accuracy:\n" + markdown(accuracy_table(results).round(3)))
    print(f"solved runs (accuracy >= {config.success_accuracy:.2f}):\n" + markdown(solved_table(results)))
    print("steps taken (mean over seeds):\n"
          + markdown(results.pivot_table(index="model", columns="length", values="steps", sort=False).round(0)))
    plot_long_dependency(results, IMG / "lstm_longdep.png", success_accuracy=config.success_accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use the quick presets (seconds)")
    parser.add_argument("--only", choices=("trace", "gradient", "longdep"), help="make one group of figures")
    args = parser.parse_args()
    pd.set_option("display.width", 160)
    IMG.mkdir(parents=True, exist_ok=True)
    groups = {"trace": trace_figures, "gradient": gradient_figures, "longdep": long_dependency_figure}
    for name, make in groups.items():
        if args.only in (None, name):
            make(args.quick)
    for path in sorted(IMG.glob("lstm_*.png")):
        print(f"{path.relative_to(IMG.parent.parent)}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
