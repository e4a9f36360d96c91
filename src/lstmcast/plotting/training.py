"""Training pictures: the loss curves and the attention weights."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lstmcast.plotting.common import save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes



def plot_loss(history: Sequence[dict[str, Any]], path: str | Path | None = None, ax: Axes | None = None,
              title: str = "Training loss") -> Axes:
    """Train and validation loss per epoch (log scale), the learning rate on a second axis,
    and the best epoch marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5)) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    epochs = [r["epoch"] for r in history]
    ax.plot(epochs, [r["train_loss"] for r in history], label="train loss")
    if any(r.get("val_loss") is not None for r in history):
        ax.plot(epochs, [r["val_loss"] if r.get("val_loss") is not None else np.nan for r in history],
                label="validation loss")
    best = [r["epoch"] for r in history if r.get("best")]
    if best:
        ax.axvline(best[-1], color="grey", linestyle=":", label=f"best epoch ({best[-1]})")
    losses = [r["train_loss"] for r in history] + [r["val_loss"] for r in history if r.get("val_loss") is not None]
    if losses and min(losses) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (scaled units)")
    ax.set_title(title)
    lr_ax = ax.twinx()
    lr_ax.plot(epochs, [r["learning_rate"] for r in history], color="tab:red", alpha=0.5, linestyle="--",
               label="learning rate")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_yscale("log")
    lines = ax.get_legend_handles_labels()
    lr_lines = lr_ax.get_legend_handles_labels()
    ax.legend(lines[0] + lr_lines[0], lines[1] + lr_lines[1], loc="upper right", fontsize=8)
    if path is not None:
        save_png(fig, path)
    return ax


def plot_attention(weights: np.ndarray, path: str | Path | None = None, ax: Axes | None = None) -> Axes:
    """Attention weights [B, L'] (one row per window) over the LSTM outputs, and their mean."""
    from matplotlib.figure import Figure

    weights = np.atleast_2d(np.asarray(weights))
    fig = Figure(figsize=(9, 4.5)) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    steps = np.arange(weights.shape[1]) - weights.shape[1] + 1  # 0 = the last input step
    if len(weights) > 1:
        image = ax.imshow(weights, aspect="auto", cmap="viridis", interpolation="nearest",
                          extent=(steps[0] - 0.5, steps[-1] + 0.5, len(weights) - 0.5, -0.5))
        fig.colorbar(image, ax=ax, label="attention weight")
        ax.set_ylabel("window")
    else:
        ax.bar(steps, weights[0], color="tab:blue")
        ax.set_ylabel("attention weight")
    ax.set_xlabel("input position (0 = last step)")
    ax.set_title("Attention over the LSTM outputs (query: the last state)")
    if path is not None:
        save_png(fig, path)
    return ax
