"""Plots as PNG files (matplotlib's object API, no global pyplot state, never show()).

matplotlib is imported inside each function, so importing this package costs nothing. One module
per subject: :mod:`~lstmcast.plotting.forecast`, :mod:`~lstmcast.plotting.training` (loss,
attention), :mod:`~lstmcast.plotting.backtest` and :mod:`~lstmcast.plotting.tuning`; every
function is importable from here."""

from lstmcast.plotting.backtest import plot_backtest
from lstmcast.plotting.forecast import default_window, plot_forecast
from lstmcast.plotting.training import plot_attention, plot_loss
from lstmcast.plotting.tuning import plot_tune_curves, plot_tune_history, plot_tune_importances

__all__ = [
    "default_window",
    "plot_attention",
    "plot_backtest",
    "plot_forecast",
    "plot_loss",
    "plot_tune_curves",
    "plot_tune_history",
    "plot_tune_importances",
]
