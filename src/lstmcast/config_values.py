"""Config values as text: TOML files, ``--set key=value`` overrides, durations, and the coercion
of JSON/TOML/CLI values to the annotated types of the config dataclasses (:mod:`lstmcast.config`)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, get_args, get_origin

from lstmcast.errors import ConfigError

RENAMED = {"data.normalization": "model.normalization"}  # old key -> new key


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Older spellings still load: ``data.normalization`` (format 1) is now ``model.normalization``."""
    data = raw.get("data")
    if isinstance(data, dict) and "normalization" in data:
        data = dict(data)
        model = dict(raw.get("model") or {})
        model.setdefault("normalization", data.pop("normalization"))
        raw = {**raw, "data": data, "model": model}
    return raw


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; ``what`` names it in errors ("Config file", "Search space file")."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}.") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text (a binary file?); give a TOML text file.") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror or exc}.") from None


def split_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise ConfigError(f"Override {text!r} must look like section.key=value, e.g. train.max_epochs=50.")
    value = value.strip()
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key.strip(), parsed


def coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert a JSON/TOML/CLI value to the annotated type, with a message naming the key."""
    origin = get_origin(hint)
    args = get_args(hint)
    if value is None:
        if type(None) in args:
            return None
        raise ConfigError(f"{name} cannot be empty.")
    if origin is tuple:
        items = [value] if isinstance(value, (str, int, float)) else list(value)
        if isinstance(value, str) and "," in value:
            items = [v.strip() for v in value.split(",") if v.strip()]
        return tuple(coerce(name, v, args[0]) for v in items)
    if type(None) in args:  # Optional[X]
        inner = next(a for a in args if a is not type(None))
        if value in ("", "none", "None", "null"):
            return None
        return coerce(name, value, inner)
    return _scalar(name, value, hint)


def _scalar(name: str, value: Any, hint: Any) -> Any:
    """bool, int, float or str from a JSON/TOML/CLI value."""
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{name} must be true or false; got {value!r}.")
    if hint is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ConfigError(f"{name} must be an integer; got {value!r}.")
        return int(value)
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be a number; got {value!r}.")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number; got {value!r}.") from None
    if hint is str:
        return str(value)
    return value


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def parse_duration(text: str | float | int) -> float:
    """Parse ``90``, ``"90s"``, ``"5m"``, ``"1.5h"`` into seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    raw = text.strip().lower()
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(raw[-1:], None)
    number = raw[:-1] if scale else raw
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        raise ConfigError(f"Duration {text!r} must look like 90, 90s, 5m or 1.5h.") from None
    if seconds < 0:
        raise ConfigError(f"Duration {text!r} must not be negative.")
    return seconds
