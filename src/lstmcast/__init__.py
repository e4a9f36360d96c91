"""lstmcast: time-series forecasting with LSTM networks on PyTorch.

``import lstmcast`` is light (configs and errors only); torch, pandas and the forecaster load
on first use of :class:`Forecaster` or :class:`Forecast` (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lstmcast import _interrupt  # noqa: F401  (first: Ctrl-C while the command line starts is one line)
from lstmcast._version import __version__
from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.errors import ConfigError, DataError, ModelFileError, NotFittedError

if TYPE_CHECKING:
    from lstmcast.forecast import Forecast
    from lstmcast.forecaster import Forecaster

_LAZY = {"Forecast": "lstmcast.forecast", "Forecaster": "lstmcast.forecaster"}

__all__ = [
    "ConfigError",
    "DataConfig",
    "DataError",
    "Forecast",
    "ForecastConfig",
    "Forecaster",
    "ModelConfig",
    "ModelFileError",
    "NotFittedError",
    "TrainConfig",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lstmcast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
