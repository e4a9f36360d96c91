"""Plots of the experiments: gradient flow against the distance from the loss, and the accuracy
of the long-dependency task against the dependency length. See :mod:`lstmcast.lstm.plots`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from lstmcast.errors import DataError
from lstmcast.lstm.figures import model_color, new_figure, plain_log_axis, save_png

#: Axis labels of the gradient-flow columns (matplotlib mathtext).
GRADIENT_LABELS: dict[str, str] = {
    "h_grad_norm": r"$\Vert\partial L/\partial h_t\Vert$",
    "c_grad_norm": r"$\Vert\partial L/\partial c_t\Vert$",
    "forget_path": r"$\Pi_{s>t}\, f_s$ (mean over units)",
    "memory": r"RNN, GRU: $\Vert\partial L/\partial h_t\Vert$;  LSTM: $\Vert\partial L/\partial c_t\Vert$",
}


def _memory_column(model: str) -> str:
    return "c_grad_norm" if str(model).startswith("lstm") else "h_grad_norm"


def plot_gradient_flow(
    norms: pd.DataFrame,
    path: str | Path | None = None,
    *,
    column: str = "h_grad_norm",
    stage: str | None = None,
    threshold: float | None = 1e-3,
    floor: float = 1e-16,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Gradient norm vs distance from the loss, log y-scale, one line per model (and stage).

    ``norms`` is :func:`~lstmcast.lstm.gradflow.gradient_flow`'s frame; ``column`` one of
    ``h_grad_norm``, ``c_grad_norm``, ``forget_path``, or ``memory``: each model's memory path,
    ``dL/dc_t`` for an LSTM and ``dL/dh_t`` for an RNN or GRU (the tutorial's comparison).
    ``stage`` ('init' | 'trained') keeps one stage; otherwise trained lines are dashed. Each
    seed's line is divided by its value at distance 0, so the ``threshold`` line marks the
    gradient horizon; with several seeds the median over seeds is drawn with a band from the
    smallest to the largest. Colours come from :func:`model_color`. The y-axis stops at
    ``floor``. Returns the Axes; writes a PNG when ``path`` is given.
    """
    needed = ["distance"] + (["h_grad_norm", "c_grad_norm"] if column == "memory" else [column])
    if any(c not in norms.columns for c in needed):
        raise DataError(f"norms must have 'distance' and {column!r} columns; got {list(norms.columns)}.")
    frame = norms if stage is None else norms[norms["stage"] == stage]
    if frame.empty:
        raise DataError(f"No rows to plot for stage={stage!r}.")
    if ax is None:
        figure = new_figure((7.5, 4.2))
        ax = figure.subplots()
    keys = [k for k in ("model", "stage") if k in frame.columns and (k != "stage" or stage is None)]
    groups = frame.groupby(keys, sort=False) if keys else [("", frame)]
    seeds = frame["seed"].nunique() if "seed" in frame.columns else 1
    lowest = min([1.0, *(_draw_normalised(ax, group, key, keys, column) for key, group in groups)])
    ax.set_ylim(bottom=max(lowest / 2, floor), top=2.0)
    plain_log_axis(ax.yaxis)
    if threshold is not None:
        ax.axhline(threshold, color="grey", linewidth=0.8, linestyle=":", label=f"horizon threshold {threshold:g}")
    ax.set_xlabel(r"distance from the loss, $L - t$ (steps)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    label = GRADIENT_LABELS.get(column, column)
    ax.set_ylabel(f"{label}\n/ value at $t = L$" if column != "memory" else "norm / value at $t = L$")
    if title is None:
        when = {"init": "at initialisation", "trained": "after training"}.get(stage or "", "")
        spread = f"; median and range over {seeds} seeds" if seeds > 1 else ""
        title = " ".join(part for part in (label, when) if part) + spread
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_png(ax.figure, path)
    return ax


def plot_long_dependency(
    results: pd.DataFrame,
    path: str | Path | None = None,
    *,
    success_accuracy: float | None = 0.9,
    ax: Axes | None = None,
) -> Axes:
    """Test accuracy vs dependency length T: every seed as a point, the mean over seeds as a line.

    ``results`` is :func:`~lstmcast.lstm.longdep.long_dependency_experiment`'s frame (one row per
    run). One colour per model (:func:`model_color`); a variable-lag run has its model's colour,
    dashed. Each run's points are shifted slightly along T so that equal values do not hide
    each other. Returns the Axes; writes a PNG when ``path`` is given.
    """
    from lstmcast.lstm.longdep import run_label

    missing = [c for c in ("model", "length", "accuracy") if c not in results.columns]
    if missing:
        raise DataError(f"results is missing the columns {missing}; pass long_dependency_experiment's frame.")
    if ax is None:
        figure = new_figure((7.5, 4.5))
        ax = figure.subplots()
    training = results["training"] if "training" in results.columns else pd.Series("fixed", index=results.index)
    labels = pd.Series([run_label(m, t) for m, t in zip(results["model"], training, strict=True)],
                       index=results.index)
    runs = list(dict.fromkeys(labels))
    for k, run in enumerate(runs):
        group = results[labels == run]
        shift = 1.035 ** (k - (len(runs) - 1) / 2)  # a small offset on the log T axis
        mean = group.groupby("length")["accuracy"].mean()
        color = model_color(run)
        style = "--" if run.endswith("(variable lag)") else "-"
        ax.plot(mean.index * shift, mean.to_numpy(), style, color=color, marker="o", markersize=4,
                linewidth=1.2, label=run)
        ax.scatter(group["length"] * shift, group["accuracy"], s=12, color=color, alpha=0.45,
                   edgecolors="none")
    if "chance" in results.columns:
        ax.axhline(float(results["chance"].iloc[0]), color="grey", linestyle=":", linewidth=0.8, label="chance")
    if success_accuracy is not None:
        ax.axhline(success_accuracy, color="black", linestyle="--", linewidth=0.6, label="solved threshold")
    ax.set_xscale("log")
    lengths = sorted(results["length"].unique())
    ax.set_xticks(lengths)
    ax.set_xticklabels([str(t) for t in lengths])
    plain_log_axis(ax.xaxis)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("dependency length T (sequence length: the cue comes T - 1 steps before the answer)")
    ax.set_ylabel("test accuracy (lag T - 1)")
    seeds = results["seed"].nunique() if "seed" in results.columns else 1
    ax.set_title(f"Recall a class seen T steps ago: points = seeds ({seeds}), lines = mean", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_png(ax.figure, path)
    return ax


def _draw_normalised(ax: Axes, group: pd.DataFrame, key: object, keys: list[str], column: str) -> float:
    """One model's (and stage's) line: each seed's curve divided by its value at distance 0, the
    median over seeds drawn with the band from smallest to largest. Returns the lowest value
    drawn (1.0 when there is nothing to draw)."""
    parts = [str(k) for k in (key if isinstance(key, tuple) else (key,))]
    model = parts[0] if "model" in keys else ""
    name = _memory_column(model) if column == "memory" else column
    by_seed = group.groupby("seed") if "seed" in group.columns else [(0, group)]
    curves = []
    for _, run in by_seed:
        run = run.sort_values("distance")
        values = run[name].to_numpy(dtype=np.float64)
        if np.isnan(values).all() or values[0] <= 0:
            continue
        curves.append(np.maximum(values / values[0], 1e-300))
    if not curves:
        return 1.0
    distance = np.sort(group["distance"].unique())
    stacked = np.stack(curves)  # [seeds, L]
    median = np.median(stacked, axis=0)
    color = model_color(model) if model else "C0"
    style = "--" if "trained" in parts[1:] else "-"
    label = " / ".join(parts)
    if column == "memory":
        label += "  (c)" if name == "c_grad_norm" else "  (h)"
    ax.semilogy(distance, median, style, color=color, label=label, linewidth=1.4)
    if len(curves) > 1:
        ax.fill_between(distance, stacked.min(axis=0), stacked.max(axis=0), color=color, alpha=0.12,
                        linewidth=0)
    return float(stacked.min())
