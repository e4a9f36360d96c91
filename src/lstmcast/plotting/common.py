"""What the plots share: the atomic PNG write and the axis formats. matplotlib is imported inside
each function."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmcast._json import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure


def save_png(fig: Figure | SubFigure, path: str | Path) -> Path:
    """Write the PNG atomically (a temporary file, then a rename). An Axes in a subfigure writes
    its whole figure."""
    root = fig.figure  # the root figure (a Figure is its own root)
    with atomic_path(path) as tmp:
        root.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    return Path(path)


def log_axis(ax: Axes) -> None:
    """A log y axis whose ticks read as plain numbers (0.05, 0.1, 0.2), not powers of ten."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)


def format_time_axis(ax: Axes, times: Any) -> None:
    if isinstance(times, pd.DatetimeIndex) or np.issubdtype(np.asarray(times).dtype, np.datetime64):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
