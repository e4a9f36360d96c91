"""lstmcast: time-series forecasting with LSTM networks on PyTorch."""

from lstmcast._version import __version__
from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.errors import ConfigError, DataError, ModelFileError, NotFittedError
from lstmcast.forecast import Forecast
from lstmcast.forecaster import Forecaster

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
