"""Every plot writes a non-empty PNG and returns its Axes; bad selections raise clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.axes import Axes
from torch import nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm import (
    plot_forget_and_cell_norm,
    plot_gate_heatmaps,
    plot_gradient_flow,
    plot_long_dependency,
    record,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture(scope="module")
def trace():
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 5, num_layers=2, bidirectional=True, batch_first=True)
    return record(lstm, torch.randn(3, 12, 2))


def test_gate_heatmaps_png(trace, tmp_path):
    path = tmp_path / "sub" / "heatmaps.png"
    axes = plot_gate_heatmaps(trace, path, sample=1, layer=0, direction=1)
    assert _is_png(path)
    assert len(axes) == 6 and all(isinstance(ax, Axes) for ax in axes)
    assert axes[0].get_title() == "forget gate f"


def test_forget_and_cell_norm_png(trace, tmp_path):
    path = tmp_path / "forget.png"
    ax = plot_forget_and_cell_norm(trace, path)
    assert _is_png(path)
    assert isinstance(ax, Axes) and len(ax.lines) == 1 and len(ax.right_ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), trace.forget[-1, 0].mean(axis=(0, 2)))


def test_plots_reject_out_of_range_selections(trace):
    with pytest.raises(ConfigError, match="sample=5 is out of range for a trace of 3"):
        plot_gate_heatmaps(trace, sample=5)
    with pytest.raises(ConfigError, match="direction=2 is out of range"):
        plot_forget_and_cell_norm(trace, direction=2)


def test_gradient_flow_png(tmp_path):
    distance = np.arange(20)
    norms = pd.concat(
        [
            pd.DataFrame({"model": m, "stage": "init", "step": distance[::-1], "distance": distance,
                          "h_grad_norm": rate**distance, "c_grad_norm": np.nan, "forget_path": np.nan})
            for m, rate in (("rnn", 0.5), ("lstm", 0.9))
        ]
    )
    path = tmp_path / "flow.png"
    ax = plot_gradient_flow(norms, path)
    assert _is_png(path)
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3  # two models + threshold
    with pytest.raises(DataError, match="must have 'distance' and 'missing'"):
        plot_gradient_flow(norms, column="missing")


def test_long_dependency_png(tmp_path):
    results = pd.DataFrame(
        {"model": ["rnn", "rnn", "lstm", "lstm"], "length": [10, 50, 10, 50],
         "accuracy": [1.0, 0.3, 1.0, 0.95], "chance": 0.25}
    )
    path = tmp_path / "longdep.png"
    ax = plot_long_dependency(results, path)
    assert _is_png(path)
    assert len(ax.get_lines()) == 4
    with pytest.raises(DataError, match=r"missing the columns \['accuracy'\]"):
        plot_long_dependency(results.drop(columns="accuracy"))
