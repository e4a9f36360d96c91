"""``Forecaster.inspect``: a trained forecaster's LSTM gates and states on its own windows.

The forecaster layer never imports the teaching package; ``Forecaster.inspect`` is a shortcut
that calls :func:`inspect_forecaster` here at call time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from lstmcast.errors import ConfigError
from lstmcast.lstm.introspect import Inspection, record_network
from lstmcast.lstm.plots import write_trace_plots
from lstmcast.models.network import attention_weights

if TYPE_CHECKING:
    from lstmcast.forecaster import Forecaster

__all__ = ["inspect_forecaster"]


def inspect_forecaster(forecaster: Forecaster, frame: pd.DataFrame, part: str = "test", windows: int = 1,
                       out: str | Path | None = None, source: str = "the data") -> Inspection:
    """Record the trained LSTM's gates and states (f, i, o, g, c, h) on the last ``windows``
    windows of ``part`` (train | val | test | all) of ``frame``, exactly as the LSTM sees them
    (after scaling, normalisation or patching); write the PNGs to ``out`` when given."""
    network = forecaster.gated_network("inspect")
    if not isinstance(windows, int) or isinstance(windows, bool) or windows < 1:
        raise ConfigError(f"windows must be a positive integer (how many windows to record); got {windows!r}.")
    if part == "test" and not forecaster.config_.data.uses_fractions:
        part = "all"  # no test part: the last windows of the data
    w = forecaster.windows(frame, part, source)
    device = next(network.parameters()).device
    x = torch.as_tensor(np.ascontiguousarray(w.x[-windows:]), dtype=torch.float32, device=device)
    fut = (torch.as_tensor(np.ascontiguousarray(w.future[-windows:]), dtype=torch.float32, device=device)
           if w.future is not None else None)
    trace = record_network(network, x) if fut is None else record_network(network, x, fut)
    paths = write_trace_plots(trace, out) if out is not None else {}
    attention = attention_weights(network, x, fut)
    if attention is not None and out is not None:
        from lstmcast.plotting import plot_attention

        path = Path(out) / "attention.png"
        plot_attention(attention, path)
        paths["attention"] = str(path)
    return Inspection(trace, trace.to_frame(), paths, attention)
