"""Regenerate the figures and tables of docs/lstm.md by running the commands the page names.

    python docs/make_lstm_figures.py                 # every command (tens of CPU minutes: run it niced)
    python docs/make_lstm_figures.py --only gradient # one group: walkthrough, inspect, gradient, longdep
    python docs/make_lstm_figures.py --tables        # only print the page's tables from the saved CSVs
    python docs/make_lstm_figures.py --quick         # smoke run of every command into a temporary folder

Each group runs exactly the `lstmcast ...` command written next to its figures in docs/lstm.md,
with `--out docs/img/lstm-<group>`, then prints the markdown tables the page quotes from the CSVs
that command wrote. Per-step files too large to keep (gradient_norms.csv, lstm_trace.csv) are
removed after the tables are made.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import pandas as pd

from lstmcast.cli import main as lstmcast
from lstmcast.lstm.longdep import accuracy_table, seed_table, solved_table, steps_table

IMG = Path(__file__).resolve().parent / "img"


def markdown(frame: pd.DataFrame, index: bool = True) -> str:
    """A pipe table (pandas' to_markdown needs the optional 'tabulate' package)."""
    frame = frame.reset_index() if index else frame
    header = [str(c) for c in frame.columns]

    def cell(value: object) -> str:
        if pd.isna(value):
            return ""
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    rows = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def run(*args: str) -> str:
    """Run one `lstmcast` command in this process and return what it printed."""
    print("$ lstmcast " + " ".join(args), flush=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = lstmcast(list(args))
    if code != 0:
        sys.exit(f"lstmcast {' '.join(args)} failed with exit status {code}")
    return buffer.getvalue()


def walkthrough(out: Path, quick: bool) -> None:
    text = run("explain-step")
    out.mkdir(parents=True, exist_ok=True)
    (out / "explain_step.txt").write_text(text, encoding="utf-8")
    print(text)


def inspect(out: Path, quick: bool) -> None:
    demo = Path(tempfile.mkdtemp(prefix="lstm-demo-"))
    steps = ["--quick"] if quick else []
    print(run("inspect", "--recall-demo", "--windows", "64", "--out", str(out / "recall"), *steps))
    train = ["--set", "train.max_epochs=2"] if quick else []
    run("demo", "--out", str(demo), "--quiet", *train)
    print(run("inspect", "--model", str(demo / "model"), "--demo-series", "--windows", "16",
              "--out", str(out / "demo")))
    for trace in out.glob("*/lstm_trace.csv"):
        trace.unlink()


def gradient_tables(out: Path) -> None:
    summary = pd.read_csv(out / "gradient_summary.csv", keep_default_na=False)
    print(markdown(summary, index=False))
    accuracy = pd.read_csv(out / "recall_accuracy.csv").pivot(index="model", columns="seed", values="accuracy")
    print("recall accuracy after training, per seed:\n" + markdown(accuracy.loc[summary["model"].unique()]))
    matrix = pd.read_csv(out / "rnn_matrix_norms.csv")
    spread = matrix.groupby("stage", sort=False)[["sigma_max", "spectral_radius"]].agg(["min", "max"])
    spread.columns = [f"{name} {stat}" for name, stat in spread.columns]
    print("tanh RNN W_hh, min-max over seeds:\n" + markdown(spread))


def first_steps_drop(out: Path) -> None:
    """How much an LSTM's ||dL/dh_t|| drops over the first two steps from the loss (docs section 4)."""
    norms = pd.read_csv(out / "gradient_norms.csv")
    norms = norms[norms["model"].str.startswith("lstm")]
    table = norms.pivot_table(index=["model", "stage", "seed"], columns="distance", values="h_grad_norm")
    drop = table[0] / table[2]
    print(f"LSTM ||dL/dh|| at distance 0 / at distance 2, over every LSTM, stage and seed: "
          f"{drop.min():.0f} to {drop.max():.0f}")


def gradient(out: Path, quick: bool) -> None:
    print(run("gradient-flow", "--out", str(out), *(["--quick"] if quick else [])))
    gradient_tables(out)
    first_steps_drop(out)
    (out / "gradient_norms.csv").unlink(missing_ok=True)  # 0.35 MB of per-step norms: not kept


def longdep_tables(out: Path) -> None:
    results = pd.read_csv(out / "long_dependency.csv")
    accuracy, solved = accuracy_table(results), solved_table(results)
    combined = accuracy.map(lambda v: f"{v:.3f}") + " (" + solved + ")"
    print("mean test accuracy (runs solved):\n" + markdown(combined))
    print("per seed:\n" + markdown(seed_table(results)))
    print("steps (mean over seeds):\n" + markdown(steps_table(results).round(0).astype(int)))
    print(f"CPU seconds of all runs: {results['cpu_seconds'].sum():.0f}")


def longdep(out: Path, quick: bool) -> None:
    print(run("long-dependency", "--jobs", "2", "--out", str(out), *(["--quick"] if quick else [])))
    longdep_tables(out)


GROUPS = {"walkthrough": walkthrough, "inspect": inspect, "gradient": gradient, "longdep": longdep}
TABLES = {"gradient": gradient_tables, "longdep": longdep_tables}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the commands' --quick presets, into a temporary folder")
    parser.add_argument("--only", choices=tuple(GROUPS), help="one group of figures")
    parser.add_argument("--tables", action="store_true", help="print the tables from the saved CSVs only")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lstm-figures-")) if args.quick else IMG
    for name, make in GROUPS.items():
        if args.only not in (None, name):
            continue
        out = root / f"lstm-{name}"
        if args.tables:
            if name in TABLES:
                TABLES[name](out)
        else:
            make(out, args.quick)


if __name__ == "__main__":
    main()
