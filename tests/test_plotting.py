"""Backtest and tuning pictures speak the project's terms, with readable axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.dates import ConciseDateFormatter

from lstmcast.evaluation.backtest import backtest
from lstmcast.plotting import (
    plot_backtest,
    plot_tune_curves,
    plot_tune_history,
    plot_tune_importances,
)
from tests.conftest import dated_frame, tiny_config


def test_backtest_plot_names_every_fold_and_dates_readably(tmp_path):
    config = tiny_config(data=dict(targets=("y",), input_length=24, horizon=6),
                         train=dict(max_epochs=1))
    result = backtest(config, dated_frame(200, columns=1), folds=3)
    ax = plot_backtest(result, tmp_path / "backtest.png")
    labels = ax.get_legend_handles_labels()[1]
    folds = [label for label in labels if label.startswith("LSTM, fold")]
    assert len(folds) == 3  # each fold's colour is in the legend
    assert folds[0].startswith("LSTM, fold 1 (origin 2024-01-")
    assert {"actual", "seasonal naive", "forecast origins"} <= set(labels)
    assert isinstance(ax.xaxis.get_major_formatter(), ConciseDateFormatter)
    assert "3 folds of 6 steps" in ax.get_title()
    assert (tmp_path / "backtest.png").read_bytes()[:4] == b"\x89PNG"


def test_tune_history_is_labelled_in_our_terms_on_a_log_axis(tmp_path):
    trials = [(0, 0.5, "COMPLETE"), (1, 0.02, "COMPLETE"), (2, 0.9, "PRUNED"), (3, None, "FAIL"),
              (4, 0.01, "COMPLETE")]
    ax = plot_tune_history(trials, tmp_path / "history.png", baseline=0)
    assert ax.get_xlabel() == "trial" and ax.get_ylabel() == "best validation loss (scaled units)"
    assert ax.get_yscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert "base configuration" in labels and "pruned trial (loss when stopped)" in labels
    assert "best 0.01 (trial 4)" in ax.get_title()
    assert all(float(tick).is_integer() for tick in ax.get_xticks())  # no trial 0.5
    best_line = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    np.testing.assert_allclose(best_line.get_ydata(), [0.5, 0.02, 0.01])
    text = " ".join([ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), *labels])
    assert "Objective" not in text and "Step" not in text
    with pytest.raises(ValueError, match="No completed trial"):
        plot_tune_history([(0, None, "FAIL")])


def test_tune_curves_and_importances(tmp_path):
    curves = {0: {1: 0.5, 2: 0.2, 3: 0.1}, 1: {1: 0.9, 2: 0.8}, 2: {1: 0.4, 2: 0.05, 3: 0.02}}
    ax = plot_tune_curves(curves, tmp_path / "curves.png", best=2, pruned=[1])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "validation loss (scaled units)"
    assert ax.get_yscale() == "log"
    assert ax.get_legend_handles_labels()[1] == ["trial", "pruned trial", "best trial (2)"]
    ax = plot_tune_importances({"model.hidden_size": 0.7, "train.learning_rate": 0.3}, tmp_path / "imp.png")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["train.learning_rate", "model.hidden_size"]
    assert "Objective" not in ax.get_xlabel()
    for name in ("curves.png", "imp.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_integer_time_keeps_plain_ticks(tmp_path):
    frame = pd.DataFrame({"value": np.sin(np.arange(300) / 10)})
    config = tiny_config(data=dict(horizon=5), train=dict(max_epochs=1))
    result = backtest(config, frame, folds=2)
    ax = plot_backtest(result, tmp_path / "b.png")
    assert not isinstance(ax.xaxis.get_major_formatter(), ConciseDateFormatter)
