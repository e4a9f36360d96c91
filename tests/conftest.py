"""Shared fixtures: tiny series and tiny models, so the whole suite stays fast on 2 cores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.data.synthetic import noisy_sine

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data"


@pytest.fixture
def data_dir() -> Path:
    if not (DATA_DIR / "ETTh1.csv").is_file():
        pytest.skip(f"benchmark data not found at {DATA_DIR} (it is present in CI beside the project)")
    return DATA_DIR


def tiny_config(**sections) -> ForecastConfig:
    """A model small enough to train in well under a second."""
    # the split-by-fractions protocol and the tutorial's head, so these tests keep their meaning;
    # the forecast-first defaults have tests of their own (tests/test_forecast_first.py)
    data = dict(targets=("value",), input_length=12, horizon=1, val_fraction=0.1, test_fraction=0.2,
                scaler="minmax")
    model = dict(hidden_size=8, head="point", normalization="none", patch_length=0, ensemble=1, seasonal_skip=0)
    train = dict(max_epochs=3, batch_size=32, patience=0)
    data.update(sections.get("data", {}))
    model.update(sections.get("model", {}))
    train.update(sections.get("train", {}))
    return ForecastConfig(DataConfig(**data), ModelConfig(**model), TrainConfig(**train))


@pytest.fixture
def sine() -> pd.DataFrame:
    return noisy_sine(300, seed=1)


def dated_frame(n: int = 240, columns: int = 3, seed: int = 0, freq: str = "h") -> pd.DataFrame:
    """A multivariate hourly frame with a ``date`` column: y (target), x1.. (covariates)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    data = {"date": pd.date_range("2024-01-01", periods=n, freq=freq)}
    data["y"] = np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)
    for k in range(1, columns):
        data[f"x{k}"] = np.cos(2 * np.pi * t / (12 * k)) + 0.1 * rng.standard_normal(n)
    return pd.DataFrame(data)


@pytest.fixture
def hourly() -> pd.DataFrame:
    return dated_frame()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The docs pages run in one worker, in reading order, and take the longest of any group:
    they go first, so that with ``-n 2`` (make test) the other worker takes the rest meanwhile."""
    def grouped(item: pytest.Item) -> bool:
        return item.get_closest_marker("xdist_group") is not None

    items[:] = [item for item in items if grouped(item)] + [item for item in items if not grouped(item)]
