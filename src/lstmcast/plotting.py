"""Plots as PNG files (matplotlib's object API, no global pyplot state, never show())."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lstmcast.forecast import Forecast


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def plot_loss(history: Sequence[dict[str, Any]], path: str | Path | None = None, ax: Axes | None = None,
              title: str = "Training loss") -> Axes:
    """Train and validation loss per epoch (log scale), the learning rate on a second axis,
    and the best epoch marked."""
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
        _save(fig, path)
    return ax


def plot_forecast(forecast: Forecast, path: str | Path | None = None, ax: Axes | None = None,
                  target: str | None = None, series: str | None = None, step: int = 1,
                  title: str | None = None) -> Axes:
    """Truth against the ``step``-ahead forecasts (original units), with the outermost
    quantile band when the model is probabilistic."""
    frame = forecast.to_frame()
    target = target or frame["target"].iloc[0]
    frame = frame[(frame["target"] == target) & (frame["step"] == step)]
    if series is not None and "series" in frame:
        frame = frame[frame["series"] == series]
    elif "series" in frame:
        frame = frame[frame["series"] == frame["series"].iloc[0]]
    fig = Figure(figsize=(10, 4.5)) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    if "actual" in frame:
        ax.plot(frame["time"], frame["actual"], label="actual", color="black", linewidth=1)
    ax.plot(frame["time"], frame["mean"], label=f"forecast ({step}-step ahead)", color="tab:blue")
    if forecast.quantiles:
        lo, hi = forecast.quantiles[0], forecast.quantiles[-1]
        ax.fill_between(frame["time"], frame[f"q{lo:g}"], frame[f"q{hi:g}"], alpha=0.25, color="tab:blue",
                        label=f"{lo:g}-{hi:g} quantiles")
    ax.set_title(title or f"{target}: forecast vs actual")
    ax.set_xlabel("time")
    ax.set_ylabel(str(target))
    ax.legend(loc="upper right", fontsize=8)
    if path is not None:
        _save(fig, path)
    return ax


def plot_attention(weights: np.ndarray, path: str | Path | None = None, ax: Axes | None = None) -> Axes:
    """Attention weights [B, L'] (one row per window) over the LSTM outputs, and their mean."""
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
        _save(fig, path)
    return ax
