"""Plots of LSTM traces, gradient flow and the long-dependency experiment.

The trace plots live here; the experiments' plots in :mod:`lstmcast.lstm.experiment_plots` and the
shared colours and figure helpers in :mod:`lstmcast.lstm.figures` (all importable from here).
Every function draws on the Axes it is given (or on a new figure) and, when ``path`` is given,
writes a PNG there (parent folders are created). Figures are built with ``matplotlib.figure.Figure``
and the Agg canvas, never through pyplot, so nothing global changes and nothing is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator

from lstmcast.errors import ConfigError
from lstmcast.lstm.experiment_plots import GRADIENT_LABELS, plot_gradient_flow, plot_long_dependency
from lstmcast.lstm.figures import MODEL_COLORS, model_color, new_figure, save_png
from lstmcast.lstm.introspect import DIRECTION_NAMES, QUANTITIES, LSTMTrace, canonical_quantity

__all__ = [
    "GRADIENT_LABELS",
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
    bars: list[Axes | None]
    if axes is None:
        figure, heat, bars = _heatmap_grid(trace, quantities, sample)
        axes = np.array(heat, dtype=object)
    else:
        axes = np.atleast_1d(np.asarray(axes, dtype=object).ravel())
        figure = axes[0].figure
        bars = [None] * len(axes)
    if len(axes) < len(quantities):
        raise ConfigError(f"Got {len(axes)} Axes for {len(quantities)} quantities; pass one Axes per quantity.")
    layer_index = layer % trace.num_layers
    for ax, bar, quantity in zip(axes, bars, quantities, strict=False):
        name = canonical_quantity(quantity)
        values = trace.get(name)[layer, direction, sample].T  # [L, H] -> [H, L]
        _draw_heatmap(figure, ax, bar, values, name, titled=bar is None or trace.inputs is None)
    for ax in axes[len(quantities):]:
        ax.set_visible(False)
    figure.suptitle(
        f"LSTM gates and states: layer {layer_index}, {DIRECTION_NAMES[direction]}, sample {sample}",
        fontsize=10,
    )
    save_png(figure, path)
    return axes


def _heatmap_grid(trace: LSTMTrace, quantities: tuple[str, ...],
                  sample: int) -> tuple[Figure, list[Axes], list[Axes | None]]:
    """A new figure with, per quantity, a heatmap Axes, its colorbar Axes and (when the trace kept
    its inputs) the sample's input window above it on the same step axis."""
    columns = 3 if len(quantities) > 3 else len(quantities)
    rows = -(-len(quantities) // columns)
    inputs = trace.inputs
    # a fixed layout with explicit colorbar columns: constrained layout costs seconds per figure
    figure = new_figure((4.4 * columns, (3.4 if inputs is not None else 2.6) * rows), layout=None)
    outer = figure.add_gridspec(rows, columns, left=0.05, right=0.97, bottom=0.07, top=0.9,
                                wspace=0.28, hspace=0.42)
    heat: list[Axes] = []
    bars: list[Axes | None] = []
    for k in range(len(quantities)):
        row, column = divmod(k, columns)
        inner = outer[row, column].subgridspec(
            2 if inputs is not None else 1, 2, width_ratios=[1.0, 0.045],
            height_ratios=[0.5, 1.6] if inputs is not None else [1.0], wspace=0.05, hspace=0.12,
        )
        ax = figure.add_subplot(inner[-1, 0])
        heat.append(ax)
        bars.append(figure.add_subplot(inner[-1, 1]))
        if inputs is not None:
            strip = figure.add_subplot(inner[0, 0], sharex=ax)
            _draw_inputs(strip, inputs[sample], title=False)
            strip.set_title(_TITLES.get(canonical_quantity(quantities[k]), quantities[k])
                            + "   (above: the input window $x_t$)" * (k == 0), fontsize=9)
    return figure, heat, bars


def _draw_heatmap(figure: Figure | SubFigure, ax: Axes, bar: Axes | None, values: np.ndarray, name: str, *,
                  titled: bool) -> None:
    """One quantity's ``[H, L]`` values: gates on [0, 1], the cell state on a symmetric scale, the
    rest on [-1, 1]; a colorbar in ``bar`` (or beside ``ax``)."""
    if name in ("forget", "input", "output"):
        limits, cmap = (0.0, 1.0), "viridis"
    elif name == "cell":
        bound = float(np.abs(values).max()) or 1.0
        limits, cmap = (-bound, bound), "RdBu_r"
    else:
        limits, cmap = (-1.0, 1.0), "RdBu_r"
    image = ax.imshow(values, aspect="auto", origin="lower", cmap=cmap, vmin=limits[0], vmax=limits[1],
                      interpolation="nearest")
    if titled:
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
            figure = new_figure((7.0, 4.6))
            top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1.0, 2.2])
            input_ax, ax = cast(Axes, top), cast(Axes, bottom)
            _draw_inputs(input_ax, trace.inputs[sample or 0], title=False)
            input_ax.set_title(f"input window $x_t$ of sequence {sample or 0}", fontsize=9)
        else:
            ax = new_figure((7.0, 3.2)).subplots()
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
    # documented extras on the returned Axes (an Axes has no such attributes of its own)
    ax.right_ax = right  # type: ignore[attr-defined]
    ax.input_ax = input_ax  # type: ignore[attr-defined]
    which = "mean over batch" if sample is None else f"sample {sample}"
    ax.set_title(f"Forget gate and cell-state norm ({which}, layer {layer % trace.num_layers}, "
                 f"{DIRECTION_NAMES[direction]})", fontsize=10)
    save_png(ax.figure, path)
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
