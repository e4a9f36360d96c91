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
    MODEL_COLORS,
    model_color,
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
    # the input window is drawn above each heatmap, on the same step axis, titled with the gate
    figure = axes[0].figure
    strips = [ax for ax in figure.axes if ax not in list(axes) and ax.get_title()]
    assert strips[0].get_title().startswith("forget gate f")
    assert len(strips) == 6 and strips[0].get_xlim() == axes[0].get_xlim()
    np.testing.assert_allclose(strips[0].lines[0].get_ydata() if strips[0].lines else strips[0].images[0]
                               .get_array().T, trace.inputs[1])
    for ax in axes:  # integer step and unit ticks only
        assert all(float(t).is_integer() for t in ax.get_xticks())
        assert all(float(t).is_integer() for t in ax.get_yticks())


def test_gate_heatmaps_without_inputs_still_work(trace, tmp_path):
    bare = record(nn.LSTM(2, 3), torch.randn(1, 5, 2))
    object.__setattr__(bare, "inputs", None)
    axes = plot_gate_heatmaps(bare, tmp_path / "bare.png")
    assert axes[0].get_title() == "forget gate f" and _is_png(tmp_path / "bare.png")


def test_forget_and_cell_norm_png(trace, tmp_path):
    path = tmp_path / "forget.png"
    ax = plot_forget_and_cell_norm(trace, path)
    assert _is_png(path)
    assert isinstance(ax, Axes) and len(ax.lines) == 1 and len(ax.right_ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), trace.forget[-1, 0].mean(axis=(0, 2)))
    assert ax.input_ax is not None and ax.input_ax.get_xlim() == ax.get_xlim()
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_plots_reject_out_of_range_selections(trace):
    with pytest.raises(ConfigError, match="sample=5 is out of range for a trace of 3"):
        plot_gate_heatmaps(trace, sample=5)
    with pytest.raises(ConfigError, match="direction=2 is out of range"):
        plot_forget_and_cell_norm(trace, direction=2)


def _norms(models, seeds=(0,), stage="init"):
    distance = np.arange(20)
    return pd.concat(
        [
            pd.DataFrame({"model": m, "stage": stage, "seed": seed, "step": distance[::-1], "distance": distance,
                          "h_grad_norm": (rate + 0.01 * seed) ** distance,
                          "c_grad_norm": np.nan if m in ("rnn", "gru") else 0.95 ** distance,
                          "forget_path": np.nan})
            for m, rate in models for seed in seeds
        ]
    )


def test_model_colors_are_the_same_in_every_figure():
    assert model_color("rnn") == MODEL_COLORS["rnn"] and model_color("lstm-chrono") == MODEL_COLORS["lstm-chrono"]
    assert model_color("lstm-fb1 (variable lag)") == model_color("lstm-fb1")
    assert len(set(MODEL_COLORS.values())) == len(MODEL_COLORS)  # no two models share a colour
    assert model_color("my-model") == model_color("my-model")  # unknown names: from the name alone
    forward = plot_gradient_flow(_norms([("rnn", 0.5), ("lstm-fb1", 0.9), ("gru", 0.7)]), stage="init")
    backward = plot_gradient_flow(_norms([("gru", 0.7), ("lstm-fb1", 0.9)]), stage="init")

    def colours(ax):
        return {line.get_label(): line.get_color() for line in ax.get_lines() if "threshold" not in line.get_label()}

    first, second = colours(forward), colours(backward)
    assert first["lstm-fb1"] == second["lstm-fb1"] == MODEL_COLORS["lstm-fb1"]
    assert first["gru"] == second["gru"] == MODEL_COLORS["gru"]


def test_gradient_flow_png(tmp_path):
    norms = _norms([("rnn", 0.5), ("lstm", 0.9)]).drop(columns="seed")
    path = tmp_path / "flow.png"
    ax = plot_gradient_flow(norms, path)
    assert _is_png(path)
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3  # two models + threshold
    assert "partial L" in ax.get_ylabel()  # a mathematical label, not the column name
    assert not any(t.get_text() for t in ax.yaxis.get_minorticklabels())  # decades only
    with pytest.raises(DataError, match="must have 'distance' and 'missing'"):
        plot_gradient_flow(norms, column="missing")


def test_gradient_flow_draws_the_median_over_seeds_with_a_band():
    norms = _norms([("rnn", 0.5)], seeds=(0, 1, 2))
    ax = plot_gradient_flow(norms, stage="init")
    (line,) = [line for line in ax.get_lines() if line.get_label() == "rnn"]
    np.testing.assert_allclose(line.get_ydata(), 0.51 ** np.arange(20))  # the median seed
    assert len(ax.collections) == 1  # the min-max band
    assert "3 seeds" in ax.get_title()


def test_memory_path_puts_rnn_h_beside_lstm_c():
    ax = plot_gradient_flow(_norms([("rnn", 0.5), ("lstm-fb1", 0.9)]), column="memory", stage="init")
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["rnn  (h)"].get_ydata(), 0.5 ** np.arange(20))
    np.testing.assert_allclose(lines["lstm-fb1  (c)"].get_ydata(), 0.95 ** np.arange(20))


def test_long_dependency_png(tmp_path):
    results = pd.DataFrame(
        {"model": ["rnn"] * 4 + ["lstm-fb1"] * 4, "training": ["fixed"] * 6 + ["variable-lag"] * 2,
         "length": [10, 50, 10, 50, 10, 50, 10, 50], "seed": [0, 0, 1, 1, 0, 0, 0, 0],
         "accuracy": [1.0, 0.3, 1.0, 0.5, 1.0, 0.95, 0.99, 0.9], "chance": 0.25}
    )
    path = tmp_path / "longdep.png"
    ax = plot_long_dependency(results, path)
    assert _is_png(path)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["rnn", "lstm-fb1", "lstm-fb1 (variable lag)"]
    (rnn,) = [line for line in ax.get_lines() if line.get_label() == "rnn"]
    np.testing.assert_allclose(rnn.get_ydata(), [1.0, 0.4])  # the mean over seeds
    # every run is a point
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(results)
    assert rnn.get_color() == MODEL_COLORS["rnn"]
    with pytest.raises(DataError, match=r"missing the columns \['accuracy'\]"):
        plot_long_dependency(results.drop(columns="accuracy"))
