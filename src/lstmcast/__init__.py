"""lstmcast: time-series forecasting with LSTM networks on PyTorch."""

__version__ = "0.1.0"

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig  # noqa: E402
from lstmcast.errors import ConfigError, DataError, ModelFileError, NotFittedError  # noqa: E402
from lstmcast.forecast import Forecast  # noqa: E402
from lstmcast.forecaster import Forecaster  # noqa: E402

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
