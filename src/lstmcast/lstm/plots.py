"""Plots of LSTM traces, gradient flow and the long-dependency experiment.

Every function draws on the Axes it is given (or on a new figure) and, when ``path`` is given,
writes a PNG there (parent folders are created). Figures are built with ``matplotlib.figure.Figure``
and the Agg canvas, never through pyplot, so nothing global changes and nothing is shown.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm.introspect import DIRECTION_NAMES, QUANTITIES, LSTMTrace, _canonical

__all__ = [
    "MODEL_COLORS",
    "model_color",
    "plot_forget_and_cell_norm",
    "plot_gate_heatmaps",
    "plot_gradient_flow",
    "plot_long_dependency",
    "write_trace_plots",
]

_TITLES = {
    "forget": "forget gate f",
    "input": "input gate i",
    "output": "output gate o",
    "candidate": "candidate g = C~",
    "cell": "cell state c",
    "hidden": "hidden state h",
}


#: One colour per model name, the same in every figure (Tableau colours; red for the plain RNN,
#: blues to greens for the LSTMs as their memory time scale at initialisation grows).
MODEL_COLORS: dict[str, str] = {
    "rnn": "#d62728",
    "gru": "#9467bd",
    "lstm": "#7f7f7f",
    "lstm-fb0": "#ff7f0e",
    "lstm-fb1": "#1f77b4",
    "lstm-fb2": "#17becf",
    "lstm-fb3": "#8c564b",
    "lstm-chrono-forget": "#bcbd22",
    "lstm-chrono": "#2ca02c",
    "forecaster": "#000000",
}
_FALLBACK_COLORS = ("#e377c2", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2")


def model_color(name: str) -> str:
    """The colour of a model in every figure: :data:`MODEL_COLORS`, else one picked from the name
    itself (a CRC of it), so it never depends on which other models are drawn or in what order.
    A run label such as ``'lstm-fb1 (variable lag)'`` has its model's colour."""
    model = str(name).split(" (")[0]
    if model in MODEL_COLORS:
        return MODEL_COLORS[model]
    return _FALLBACK_COLORS[zlib.crc32(model.encode()) % len(_FALLBACK_COLORS)]


def _plain_log_axis(axis: object) -> None:
    """Label only the decades of a log axis (no 2x10^-3 style minor labels)."""
    from matplotlib.ticker import NullFormatter

    axis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]


def _figure(figsize: tuple[float, float], layout: str | None = "constrained") -> Figure:
    figure = Figure(figsize=figsize, dpi=100, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path | None) -> None:
    """Write the PNG atomically: to a temporary file beside ``path``, then renamed over it."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        figure.savefig(temporary, format="png", dpi=figure.dpi)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _check_selection(trace: LSTMTrace, sample: int, layer: int, direction: int) -> None:
    layers, directions, batch, _, _ = trace.shape
    if not -layers <= layer < layers:
        raise ConfigError(f"layer={layer} is out of range for a trace with {layers} layer(s).")
    if not 0 <= direction < directions:
        raise ConfigError(f"direction={direction} is out of range for a trace with {directions} direction(s).")
    if not 0 <= sample < batch:
        raise ConfigError(f"sample={sample} is out of range for a trace of {batch} sequence(s).")


def _draw_inputs(ax: Axes, inputs: np.ndarray, *, title: bool = True) -> None:
    """The input window ``[L, F]`` over the steps: a line for one feature, a (feature, step)
    heatmap on a symmetric scale for several."""
    length, features = inputs.shape
    if features == 1:
        ax.plot(np.arange(length), inputs[:, 0], marker=".", markersize=3, linewidth=1.0)
        ax.set_xlim(-0.5, length - 0.5)
    else:
        bound = float(np.abs(inputs).max()) or 1.0
        ax.imshow(inputs.T, aspect="auto", origin="lower", cmap="PuOr_r", vmin=-bound, vmax=bound,
                  interpolation="nearest")
        ax.set_ylabel("feature", fontsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=6, labelbottom=False)
    if title:
        ax.set_title("input window $x_t$ (what the LSTM reads)", fontsize=8)


def plot_gate_heatmaps(
    trace: LSTMTrace,
    path: str | Path | None = None,
    *,
    sample: int = 0,
    layer: int = -1,
    direction: int = 0,
    quantities: tuple[str, ...] = QUANTITIES,
    axes: np.ndarray | list[Axes] | None = None,
) -> np.ndarray:
    """Heatmaps over (step, unit) of each gate and state for one sequence.

    Draws ``trace.<quantity>[layer, direction, sample]`` (``[L, H]``) for each quantity: gates on
    a fixed [0, 1] scale, candidate and hidden state on [-1, 1], the cell state on a symmetric
    scale. When the trace kept its inputs and no ``axes`` are given, the input window of the
    sample is drawn above every row of heatmaps on the same step axis. Steps and units are
    integer ticks. Returns the array of heatmap Axes (one per quantity); writes a PNG when
    ``path`` is given.
    """
    _check_selection(trace, sample, layer, direction)
    if axes is None:
        columns = 3 if len(quantities) > 3 else len(quantities)
        rows = -(-len(quantities) // columns)
        with_inputs = trace.inputs is not None
        # a fixed layout with explicit colorbar columns: constrained layout costs seconds per figure
        figure = _figure((4.4 * columns, (3.4 if with_inputs else 2.6) * rows), layout=None)
        outer = figure.add_gridspec(rows, columns, left=0.05, right=0.97, bottom=0.07, top=0.9,
                                    wspace=0.28, hspace=0.42)
        heat, bars = [], []
        for k in range(len(quantities)):
            row, column = divmod(k, columns)
            inner = outer[row, column].subgridspec(
                2 if with_inputs else 1, 2, width_ratios=[1.0, 0.045],
                height_ratios=[0.5, 1.6] if with_inputs else [1.0], wspace=0.05, hspace=0.12,
            )
            ax = figure.add_subplot(inner[-1, 0])
            heat.append(ax)
            bars.append(figure.add_subplot(inner[-1, 1]))
            if with_inputs:
                strip = figure.add_subplot(inner[0, 0], sharex=ax)
                _draw_inputs(strip, trace.inputs[sample], title=False)
                strip.set_title(_TITLES.get(_canonical(quantities[k]), quantities[k])
                                + "   (above: the input window $x_t$)" * (k == 0), fontsize=9)
        axes = np.array(heat, dtype=object)
    else:
        axes = np.atleast_1d(np.asarray(axes, dtype=object).ravel())
        figure = axes[0].figure
        bars = [None] * len(axes)
    if len(axes) < len(quantities):
        raise ConfigError(f"Got {len(axes)} Axes for {len(quantities)} quantities; pass one Axes per quantity.")
    layer_index = layer % trace.num_layers
    for ax, bar, quantity in zip(axes, bars, quantities, strict=False):
        name = _canonical(quantity)
        values = trace.get(name)[layer, direction, sample].T  # [L, H] -> [H, L]
        if name in ("forget", "input", "output"):
            limits, cmap = (0.0, 1.0), "viridis"
        elif name == "cell":
            bound = float(np.abs(values).max()) or 1.0
            limits, cmap = (-bound, bound), "RdBu_r"
        else:
            limits, cmap = (-1.0, 1.0), "RdBu_r"
        image = ax.imshow(values, aspect="auto", origin="lower", cmap=cmap, vmin=limits[0], vmax=limits[1],
                          interpolation="nearest")
        if bar is None or trace.inputs is None:
            ax.set_title(_TITLES.get(name, name), fontsize=9)
        ax.set_xlabel("step t", fontsize=8)
        ax.set_ylabel("unit", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        if bar is None:
            figure.colorbar(image, ax=ax, shrink=0.85).ax.tick_params(labelsize=7)
        else:
            figure.colorbar(image, cax=bar).ax.tick_params(labelsize=7)
    for ax in axes[len(quantities):]:
        ax.set_visible(False)
    figure.suptitle(
        f"LSTM gates and states: layer {layer_index}, {DIRECTION_NAMES[direction]}, sample {sample}",
        fontsize=10,
    )
    _save(figure, path)
    return axes


def plot_forget_and_cell_norm(
    trace: LSTMTrace,
    path: str | Path | None = None,
    *,
    layer: int = -1,
    direction: int = 0,
    sample: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Mean forget gate (left axis) and cell-state L2 norm (right axis) along the sequence.

    Means are over units, and over the batch unless ``sample`` picks one sequence. When the trace
    kept its inputs and no ``ax`` is given, the input window (of ``sample``, or of sequence 0) is
    drawn above on the same step axis. Returns the left Axes (the right one is ``ax.right_ax``,
    the input one ``ax.input_ax`` or ``None``); writes a PNG when ``path`` is given.
    """
    _check_selection(trace, sample or 0, layer, direction)
    forget = trace.forget[layer, direction]  # [B, L, H]
    cell = trace.cell[layer, direction]  # [B, L, H]
    if sample is not None:
        forget, cell = forget[sample : sample + 1], cell[sample : sample + 1]
    mean_forget = forget.mean(axis=(0, 2))  # [L]
    cell_norm = np.linalg.norm(cell, axis=-1).mean(axis=0)  # [B, L] -> [L]
    input_ax = None
    if ax is None:
        if trace.inputs is not None:
            figure = _figure((7.0, 4.6))
            input_ax, ax = figure.subplots(2, 1, sharex=True, height_ratios=[1.0, 2.2])
            _draw_inputs(input_ax, trace.inputs[sample or 0], title=False)
            input_ax.set_title(f"input window $x_t$ of sequence {sample or 0}", fontsize=9)
        else:
            figure = _figure((7.0, 3.2))
            ax = figure.subplots()
    steps = np.arange(trace.length)
    ax.plot(steps, mean_forget, color="tab:blue", label="mean forget gate")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("step t")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("mean $f_t$", color="tab:blue")
    right = ax.twinx()
    right.plot(steps, cell_norm, color="tab:red", label=r"$\Vert c_t\Vert$")
    right.set_ylabel(r"$\Vert c_t\Vert$", color="tab:red")
    right.set_ylim(bottom=0.0)
    ax.right_ax = right  # type: ignore[attr-defined]
    ax.input_ax = input_ax  # type: ignore[attr-defined]
    which = "mean over batch" if sample is None else f"sample {sample}"
    ax.set_title(f"Forget gate and cell-state norm ({which}, layer {layer % trace.num_layers}, "
                 f"{DIRECTION_NAMES[direction]})", fontsize=10)
    _save(ax.figure, path)
    return ax


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
        figure = _figure((7.5, 4.2))
        ax = figure.subplots()
    keys = [k for k in ("model", "stage") if k in frame.columns and (k != "stage" or stage is None)]
    groups = frame.groupby(keys, sort=False) if keys else [("", frame)]
    lowest = 1.0
    seeds = frame["seed"].nunique() if "seed" in frame.columns else 1
    for key, group in groups:
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
            continue
        distance = np.sort(group["distance"].unique())
        stacked = np.stack(curves)  # [seeds, L]
        median = np.median(stacked, axis=0)
        lowest = min(lowest, float(stacked.min()))
        color = model_color(model) if model else "C0"
        style = "--" if "trained" in parts[1:] else "-"
        label = " / ".join(parts)
        if column == "memory":
            label += "  (c)" if name == "c_grad_norm" else "  (h)"
        ax.semilogy(distance, median, style, color=color, label=label, linewidth=1.4)
        if len(curves) > 1:
            ax.fill_between(distance, stacked.min(axis=0), stacked.max(axis=0), color=color, alpha=0.12,
                            linewidth=0)
    ax.set_ylim(bottom=max(lowest / 2, floor), top=2.0)
    _plain_log_axis(ax.yaxis)
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
    _save(ax.figure, path)
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
        figure = _figure((7.5, 4.5))
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
    _plain_log_axis(ax.xaxis)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("dependency length T (sequence length: the cue comes T - 1 steps before the answer)")
    ax.set_ylabel("test accuracy (lag T - 1)")
    seeds = results["seed"].nunique() if "seed" in results.columns else 1
    ax.set_title(f"Recall a class seen T steps ago: points = seeds ({seeds}), lines = mean", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _save(ax.figure, path)
    return ax


def write_trace_plots(trace: LSTMTrace, out_dir: str | Path, *, sample: int = 0,
                      prefix: str = "lstm_") -> dict[str, str]:
    """Write the standard pictures of a trace into ``out_dir`` and return their paths by name.

    ``{prefix}gates_l{k}[_backward].png`` (heatmaps of every gate and state, one sequence) for each
    layer and direction, and ``{prefix}forget_cell.png`` (mean forget gate and cell-state norm of
    the last layer over the batch).
    """
    out_dir = Path(out_dir)
    paths: dict[str, str] = {}
    for layer in range(trace.num_layers):
        for direction in range(trace.num_directions):
            name = f"{prefix}gates_l{layer}" + ("_backward" if direction else "")
            path = out_dir / f"{name}.png"
            plot_gate_heatmaps(trace, path, sample=sample, layer=layer, direction=direction)
            paths[name] = str(path)
    path = out_dir / f"{prefix}forget_cell.png"
    plot_forget_and_cell_norm(trace, path)
    paths[f"{prefix}forget_cell"] = str(path)
    return paths
