"""Exceptions raised by lstmcast. Each message says what was expected, what was found, and the fix."""

from __future__ import annotations


class LstmcastError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(LstmcastError, ValueError):
    """The data given (file, frame, column, value) cannot be used as it is."""


class ConfigError(LstmcastError, ValueError):
    """A configuration value or combination of values is invalid."""


class NotFittedError(LstmcastError, ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


class ModelFileError(LstmcastError, ValueError):
    """A saved model directory is missing files, was tampered with or is from an incompatible version."""


class OutputError(LstmcastError, OSError):
    """An output (model directory, forecast file, run directory) cannot be written: no space left,
    a read-only file system or no permission. The message names the path and the fix."""


class RunError(LstmcastError, ValueError):
    """A training run cannot be resumed as asked (changed config or data, missing record)."""


class MissingDependencyError(LstmcastError, ImportError):
    """An optional feature needs an extra that is not installed."""


def require(module: str, extra: str):
    """Import an optional dependency, or raise naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            f"This feature needs the '{module}' package, which is not installed. "
            f"Install it with: pip install 'lstmcast[{extra}]'"
        ) from exc
