"""The long-dependency experiment's quick preset, its table and the recall task."""

from __future__ import annotations

import pytest
import torch

from lstmcast.errors import ConfigError
from lstmcast.lstm import LongDependencyConfig, accuracy_table, long_dependency_experiment
from lstmcast.lstm.longdep import RESULT_COLUMNS, solved_table
from lstmcast.lstm.tasks import build_model, limit_threads, make_recall_batch


def test_quick_run_returns_the_table_with_the_expected_columns():
    config = LongDependencyConfig.quick()
    results = long_dependency_experiment(config)
    assert list(results.columns) == list(RESULT_COLUMNS)
    assert len(results) == len(config.models) * len(config.lengths) * len(config.seeds)
    assert results["accuracy"].between(0, 1).all()
    assert (results["solved"] == (results["accuracy"] >= config.success_accuracy)).all()
    assert (results["steps"] <= config.max_steps).all()
    assert results["chance"].eq(1 / config.n_classes).all()
    assert results.attrs["wall_seconds"] > 0
    assert results.attrs["config"]["lengths"] == config.lengths
    table = accuracy_table(results)
    assert list(table.index) == list(config.models) and list(table.columns) == list(config.lengths)
    assert solved_table(results).map(lambda s: s.endswith("/1")).all().all()


def test_config_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match=r"models must be a non-empty subset.*'lstm-xl'"):
        LongDependencyConfig(models=("rnn", "lstm-xl"))
    with pytest.raises(ConfigError, match="lengths must be positive integers"):
        LongDependencyConfig(lengths=(10, 0))
    with pytest.raises(ConfigError, match=r"success_accuracy must be in \(0, 1\]"):
        LongDependencyConfig(success_accuracy=1.5)


def test_recall_batch_shows_the_class_once_with_a_cue():
    x, y = make_recall_batch(5, 7, n_classes=3, noise=0.0, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 7, 4) and y.shape == (5,)
    torch.testing.assert_close(x[:, 0, :3].argmax(dim=1), y)
    assert x[:, 0, 3].eq(1).all() and x[:, 1:, 3].eq(0).all()
    assert x[:, 1:].abs().sum() == 0  # noise 0: nothing after the first step
    with pytest.raises(ConfigError, match="length and batch_size must be >= 1"):
        make_recall_batch(5, 0)


def test_models_are_reproducible_and_lstm_variants_set_their_biases():
    first, second = build_model("gru", 5, 8, 4, seed=3), build_model("gru", 5, 8, 4, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters(), strict=True))
    lstm = build_model("lstm-fb1", 5, 8, 4).rnn
    torch.testing.assert_close((lstm.bias_ih_l0 + lstm.bias_hh_l0)[8:16].detach(), torch.ones(8))
    with pytest.raises(ConfigError, match="lstm-chrono needs max_length"):
        build_model("lstm-chrono", 5, 8, 4)


def test_limit_threads_restores_the_previous_setting():
    before = torch.get_num_threads()
    with limit_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ConfigError, match="num_threads must be a positive integer"):
        with limit_threads(0):
            pass
