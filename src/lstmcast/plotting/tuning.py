"""Pictures of a hyper-parameter search: history, learning curves, importances."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lstmcast.plotting.common import log_axis, save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes



def plot_tune_history(trials: Sequence[tuple[int, float | None, str]], path: str | Path | None = None, *,
                      baseline: int | None = None) -> Axes:
    """Hyper-parameter search: each trial's best validation loss (scaled units, log axis) by trial
    number, the best so far, and the base configuration marked. ``trials``: (number, value,
    state) with state ``COMPLETE``, ``PRUNED`` or ``FAIL``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    done = [(n, v) for n, v, s in trials if s == "COMPLETE" and v is not None and np.isfinite(v)]
    pruned = [(n, v) for n, v, s in trials if s == "PRUNED" and v is not None and np.isfinite(v)]
    if not done:
        raise ValueError("No completed trial to plot.")
    numbers, values = zip(*sorted(done), strict=True)
    ax.scatter(numbers, values, color="tab:blue", s=18, label="completed trial", zorder=3)
    if pruned:
        pruned_numbers, pruned_values = zip(*pruned, strict=True)
        ax.scatter(pruned_numbers, pruned_values, color="tab:grey", marker="x", s=18,
                   label="pruned trial (loss when stopped)", zorder=3)
    ax.step(numbers, np.minimum.accumulate(values), where="post", color="tab:red", label="best so far")
    if baseline is not None and baseline in numbers:
        ax.scatter([baseline], [values[numbers.index(baseline)]], s=90, facecolors="none", edgecolors="black",
                   label="base configuration", zorder=4)
    shown = [*values, *(v for _, v in pruned)]
    if min(shown) > 0 and max(shown) / min(shown) > 3:
        log_axis(ax)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are whole numbers
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation loss (scaled units)")
    ax.set_title(f"Search history: {len(done)} completed, {len(pruned)} pruned, "
                 f"best {min(values):.4g} (trial {numbers[int(np.argmin(values))]})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        save_png(fig, path)
    return ax


#: (colour, line width, line style, alpha, z-order) of each kind of trial's learning curve
_CURVE_STYLES: dict[str, tuple[str, float, str, float, float]] = {
    "best trial": ("tab:red", 2.2, "-", 1.0, 3),
    "pruned trial": ("tab:grey", 0.8, "--", 0.7, 2),
    "trial": ("tab:blue", 0.9, "-", 0.6, 2),
}


def plot_tune_curves(curves: dict[int, dict[int, float]], path: str | Path | None = None, *,
                     best: int | None = None, pruned: Sequence[int] = ()) -> Axes:
    """Validation loss per epoch (scaled units, log axis) of every trial; the best trial drawn
    bold, pruned trials dashed where they were stopped."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    curves = {n: c for n, c in curves.items() if c}
    if not curves:
        raise ValueError("No trial reported a validation loss per epoch.")
    labelled: set[str] = set()
    for number, curve in sorted(curves.items()):
        epochs = sorted(curve)
        kind = "best trial" if number == best else "pruned trial" if number in pruned else "trial"
        color, linewidth, linestyle, alpha, zorder = _CURVE_STYLES[kind]
        label = (f"best trial ({number})" if kind == "best trial" else kind) if kind not in labelled else None
        labelled.add(kind)
        ax.plot(epochs, [curve[e] for e in epochs], label=label, color=color, linewidth=linewidth,
                linestyle=linestyle, alpha=alpha, zorder=zorder)
    values = [v for c in curves.values() for v in c.values()]
    if min(values) > 0 and max(values) / min(values) > 3:
        log_axis(ax)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss (scaled units)")
    ax.set_title(f"Learning curves of {len(curves)} trials (the pruner stops the dashed ones)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        save_png(fig, path)
    return ax


def plot_tune_importances(importances: dict[str, float], path: str | Path | None = None) -> Axes:
    """How much of the validation loss's variation across trials each searched key explains
    (Optuna's fANOVA importances, summing to 1), largest on top."""
    from matplotlib.figure import Figure

    if not importances:
        raise ValueError("No parameter importances to plot.")
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = Figure(figsize=(8, 0.9 + 0.38 * len(items)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlabel("share of the validation loss's variation explained")
    ax.set_xlim(0, max(v for _, v in items) * 1.15)
    ax.set_title("Which settings mattered (config keys searched)")
    if path is not None:
        save_png(fig, path)
    return ax
