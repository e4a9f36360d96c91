"""What every picture of the teaching package shares: one colour per model, a figure on the Agg
canvas (never pyplot: nothing global changes and nothing is shown), decade-only log axes and the
atomic PNG write."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Literal

from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure

from lstmcast._json import atomic_path

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


def plain_log_axis(axis: Axis) -> None:
    """Label only the decades of a log axis (no 2x10^-3 style minor labels)."""
    from matplotlib.ticker import NullFormatter

    axis.set_minor_formatter(NullFormatter())


def new_figure(figsize: tuple[float, float],
               layout: Literal["constrained", "compressed", "tight"] | None = "constrained") -> Figure:
    """A figure of ``figsize`` inches at 100 dpi on its own Agg canvas."""
    figure = Figure(figsize=figsize, dpi=100, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure | SubFigure, path: str | Path | None) -> None:
    """Write the PNG atomically: to a temporary file beside ``path``, then renamed over it. An
    Axes in a subfigure writes its whole figure. Nothing happens when ``path`` is None."""
    if path is None:
        return
    figure = figure.figure  # the root figure (a Figure is its own root)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=figure.dpi)
