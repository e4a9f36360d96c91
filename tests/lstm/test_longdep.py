"""The long-dependency experiment's quick preset, its table and the recall task."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from lstmcast.errors import ConfigError
from lstmcast.lstm import LongDependencyConfig, accuracy_table, long_dependency_experiment
from lstmcast.lstm.longdep import RESULT_COLUMNS, run_label, seed_table, solved_table, steps_table
from lstmcast.lstm.tasks import MODEL_NAMES, build_model, limit_threads, make_recall_batch


def test_quick_run_returns_the_table_with_the_expected_columns():
    config = LongDependencyConfig.quick()
    results = long_dependency_experiment(config)
    assert list(results.columns) == list(RESULT_COLUMNS)
    runs = len(config.models) + len(config.variable_lag)
    assert len(results) == runs * len(config.lengths) * len(config.seeds)
    assert set(results["training"]) == {"fixed", "variable-lag"}
    assert results["accuracy"].between(0, 1).all()
    assert (results["solved"] == (results["accuracy"] >= config.success_accuracy)).all()
    assert (results["steps"] <= config.max_steps).all()
    assert results["chance"].eq(1 / config.n_classes).all()
    assert results.attrs["wall_seconds"] > 0
    assert results.attrs["config"]["lengths"] == config.lengths
    table = accuracy_table(results)
    labels = [*config.models, *(f"{m} (variable lag)" for m in config.variable_lag)]
    assert list(table.index) == labels and list(table.columns) == list(config.lengths)
    assert solved_table(results).map(lambda s: s.endswith("/1")).all().all()
    assert list(steps_table(results).index) == labels


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


def test_seed_aggregation_tables():
    results = pd.DataFrame({
        "model": ["rnn"] * 6 + ["lstm-fb1"] * 3,
        "training": ["fixed"] * 6 + ["variable-lag"] * 3,
        "length": [200, 200, 200, 50, 50, 50, 50, 50, 50],
        "seed": [2, 0, 1, 0, 1, 2, 0, 1, 2],
        "accuracy": [0.52, 0.27, 0.72, 1.0, 0.95, 0.25, 0.99, 0.98, 0.3],
        "solved": [False, False, False, True, True, False, True, True, False],
        "steps": [1500, 1500, 1500, 100, 300, 1500, 200, 400, 1500],
    })
    per_seed = seed_table(results)
    assert per_seed.loc["rnn", 200] == "0.27/0.72/0.52"  # in seed order, not row order
    assert per_seed.loc["lstm-fb1 (variable lag)", 50] == "0.99/0.98/0.30"
    assert accuracy_table(results).loc["rnn", 200] == pytest.approx((0.52 + 0.27 + 0.72) / 3)
    assert solved_table(results).loc["rnn", 50] == "2/3"
    assert steps_table(results).loc["rnn", 50] == pytest.approx(1900 / 3)
    assert run_label("lstm-fb1", "fixed") == "lstm-fb1"


def test_variable_lag_puts_one_cue_anywhere_and_keeps_the_labels_and_noise():
    fixed_x, fixed_y = make_recall_batch(200, 12, noise=0.1, generator=torch.Generator().manual_seed(3))
    x, y = make_recall_batch(200, 12, noise=0.1, generator=torch.Generator().manual_seed(3), variable_lag=True)
    torch.testing.assert_close(y, fixed_y)
    cue = x[:, :, 4]  # [B, L] cue flag
    assert cue.sum(dim=1).eq(1).all()  # exactly one cue per sequence
    position = cue.argmax(dim=1)
    assert position.min() == 0 and position.max() == 11 and len(set(position.tolist())) == 12
    rows = torch.arange(200)
    torch.testing.assert_close(x[rows, position, :4].argmax(dim=1), y)
    # away from the cue the sequence is the same noise as the fixed-lag batch's
    away = torch.ones(200, 12, dtype=torch.bool)
    away[rows, position] = False
    away[:, 0] = False
    torch.testing.assert_close(x[away], fixed_x[away])


def test_forget_bias_and_chrono_ablations_set_the_right_biases():
    for value in (2, 3):
        lstm = build_model(f"lstm-fb{value}", 5, 8, 4).rnn
        torch.testing.assert_close((lstm.bias_ih_l0 + lstm.bias_hh_l0)[8:16].detach(), torch.full((8,), float(value)))
    default = build_model("lstm", 5, 8, 4, seed=4).rnn
    chrono = build_model("lstm-chrono", 5, 8, 4, max_length=50, seed=4).rnn
    forget_only = build_model("lstm-chrono-forget", 5, 8, 4, max_length=50, seed=4).rnn
    total = {name: (m.bias_ih_l0 + m.bias_hh_l0).detach()
             for name, m in (("default", default), ("chrono", chrono), ("forget", forget_only))}
    torch.testing.assert_close(total["forget"][8:16], total["chrono"][8:16])  # the same forget biases
    torch.testing.assert_close(total["forget"][:8], total["default"][:8])  # the input gate left at init
    torch.testing.assert_close(total["chrono"][:8], -total["chrono"][8:16])  # chrono closes it
    assert {"lstm-fb2", "lstm-fb3", "lstm-chrono-forget"} <= set(MODEL_NAMES)
    with pytest.raises(ConfigError, match="lstm-chrono-forget needs max_length"):
        build_model("lstm-chrono-forget", 5, 8, 4)


def test_ablation_config_is_validated():
    config = LongDependencyConfig()
    assert {"lstm-fb1", "lstm-fb2", "lstm-fb3", "lstm-chrono-forget", "lstm-chrono"} <= set(config.models)
    assert config.variable_lag == ("lstm-fb1",)
    assert len(config.runs()) == (len(config.models) + 1) * 4 * 3
    with pytest.raises(ConfigError, match=r"variable_lag must name models.*'gpt'"):
        LongDependencyConfig(variable_lag=("gpt",))
    with pytest.raises(ConfigError, match="seeds must be one or more non-negative integers"):
        LongDependencyConfig(seeds=(-1,))
