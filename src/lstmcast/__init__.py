from lstmcast.errors import ConfigError, DataError, NotFittedError

__version__ = "0.1.0"
