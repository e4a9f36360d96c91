from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from lstmcast.forecaster import Forecaster
from tests.export.variants import fit_variant


@pytest.fixture(scope="session")
def fitted() -> Callable[[str], tuple[Forecaster, pd.DataFrame, pd.DataFrame | None]]:
    """fitted(name) -> (forecaster, frame, future); each variant is trained once per session."""
    cache: dict[str, tuple[Forecaster, pd.DataFrame, pd.DataFrame | None]] = {}

    def get(name: str) -> tuple[Forecaster, pd.DataFrame, pd.DataFrame | None]:
        if name not in cache:
            cache[name] = fit_variant(name)
        return cache[name]

    return get
