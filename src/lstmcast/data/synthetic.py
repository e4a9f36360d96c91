"""The tutorial's demo series: a noisy sine wave."""

from __future__ import annotations

import numpy as np
import pandas as pd


def noisy_sine(n_points: int = 1000, noise_std: float = 0.1, periods: float = 10.0, seed: int = 0) -> pd.DataFrame:
    """``sin(t) + noise`` on ``t = linspace(0, 2*pi*periods, n_points)`` (tutorial: 1000 points,
    10 periods, noise std 0.1). Returns a frame with an integer ``step`` index and a ``value`` column."""
    t = np.linspace(0.0, 2.0 * np.pi * periods, n_points)
    rng = np.random.default_rng(seed)
    values = np.sin(t) + noise_std * rng.standard_normal(n_points)
    return pd.DataFrame({"value": values}, index=pd.RangeIndex(n_points, name="step"))


def heteroscedastic_sine(n_points: int = 2000, seed: int = 0, periods: float = 20.0) -> pd.DataFrame:
    """A sine whose noise level itself follows a slower sine (std between 0.05 and 0.35):
    the test bed for probabilistic heads and interval coverage."""
    t = np.linspace(0.0, 2.0 * np.pi * periods, n_points)
    rng = np.random.default_rng(seed)
    std = 0.2 + 0.15 * np.sin(t / 2.0)
    values = np.sin(t) + std * rng.standard_normal(n_points)
    return pd.DataFrame({"value": values}, index=pd.RangeIndex(n_points, name="step"))
