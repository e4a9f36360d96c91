"""The search space: which config keys a study searches, and how (``int`` / ``float`` ranges,
``categorical`` choices), read from TOML tables and checked against the base configuration."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_type_hints

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig, read_toml
from lstmcast.errors import ConfigError

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_SPACE", "NOT_SEARCHABLE", "PARAM_TYPES", "Param", "config_value", "load_space", "parse_param",
           "parse_space", "toml_value"]

PARAM_TYPES = ("int", "float", "categorical")

# Keys whose value changes what the validation loss measures; trials over them are not comparable.
NOT_SEARCHABLE = {
    "data.targets": "it changes the series being forecast",
    "data.horizon": "it changes the forecast steps being scored",
    "data.scaler": "the loss is in scaled units, so each scaler measures it differently",
    "data.val_fraction": "it changes the validation windows",
    "data.test_fraction": "it changes the validation windows",
    "data.val_steps": "it changes the validation windows",
    "train.final_fit": "trials are scored before the final fit",
    "data.time_col": "it changes how the data is read",
    "data.series_col": "it changes how the data is read",
    "model.head": "each head has its own loss (squared error, likelihood, pinball)",
    "model.quantiles": "it changes the quantile loss",
    "train.device": "it is a resource, not a hyper-parameter",
    "train.threads": "it is a resource, not a hyper-parameter",
}
SECTIONS: dict[str, type[Any]] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


@dataclass(frozen=True)
class Param:
    """One searched config key: ``int`` / ``float`` in [low, high] (optionally ``log`` or with a
    ``step``), or ``categorical`` over ``choices``."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a numeric parameter."""
        if self.low is None or self.high is None:
            raise ConfigError(f"{self.key} is {self.type}: it has no low / high bounds.")
        return self.low, self.high

    def distribution(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.type == "categorical":
            return CategoricalDistribution(list(self.choices))
        low, high = self.bounds
        if self.type == "int":
            return IntDistribution(int(low), int(high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(float(low), float(high), log=self.log, step=self.step)

    def suggest(self, trial: optuna.trial.Trial) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        low, high = self.bounds
        if self.type == "int":
            return trial.suggest_int(self.key, int(low), int(high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(low), float(high), step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        if self.type == "categorical":
            return any(type(value) is type(c) and value == c for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        low, high = self.bounds
        if not low <= value <= high:
            return False
        return self.step is None or math.isclose((value - low) / self.step, round((value - low) / self.step),
                                                 abs_tol=1e-9)

    def describe(self) -> str:
        if self.type == "categorical":
            return f"{self.key}: one of {', '.join(toml_value(c) for c in self.choices)}"
        extra = " (log scale)" if self.log else f" (step {toml_value(self.step)})" if self.step else ""
        return f"{self.key}: {self.type} in [{toml_value(self.low)}, {toml_value(self.high)}]{extra}"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, False, ())}
        if "choices" in out:
            out["choices"] = list(out["choices"])
        return out


DEFAULT_SPACE: tuple[Param, ...] = (
    Param("model.hidden_size", "int", 16, 128, step=16),  # multiples of 16: any attention_heads <= 16 divide them
    Param("model.num_layers", "int", 1, 3),
    Param("model.dropout", "float", 0.0, 0.5),
    Param("model.bidirectional", "categorical", choices=(False, True)),
    Param("model.attention", "categorical", choices=(False, True)),
    # data.input_length is derived from the data by default (add it to a --space file to search it)
    Param("model.normalization", "categorical", choices=("none", "last", "mean", "standard")),
    Param("train.learning_rate", "float", 1e-4, 1e-2, log=True),
    Param("train.batch_size", "categorical", choices=(16, 32, 64, 128)),
)
"""The default search space (``lstmcast tune`` without ``--space``)."""


def parse_space(raw: Mapping[str, Any], source: str = "the search space",
                base: ForecastConfig | None = None) -> tuple[Param, ...]:
    """Validate a search space given as TOML tables, either nested or dotted::

        [model.hidden_size]                      ["train.learning_rate"]
        type = "int"                             type = "float"
        low = 16                                 low = 1e-4
        high = 128                               high = 1e-2
        log = true                               log = true

        [model.bidirectional]
        type = "categorical"
        choices = [true, false]

    The listed keys *replace* the default space; add ``defaults = true`` at the top to search
    the default space too, with the listed keys overriding its entries. Every value is checked
    against ``base`` (default: ``ForecastConfig()``), so a bad bound fails here, naming its key.
    """
    base = base or ForecastConfig()
    entries: dict[str, Any] = {}
    include_defaults = False
    for name, value in raw.items():
        if name == "defaults":
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: 'defaults' must be true or false; got {value!r}.")
            include_defaults = value
        elif "." in name:
            entries[name] = value
        elif name in SECTIONS and isinstance(value, Mapping):
            for key, spec in value.items():
                entries[f"{name}.{key}"] = spec
        else:
            raise ConfigError(
                f"{source}: unexpected top-level key {name!r}. Write one table per searched key, "
                'e.g. [model.hidden_size] with type = "int", low = 16, high = 128 (sections: data, '
                "model, train), and optionally defaults = true."
            )
    params = {p.key: p for p in DEFAULT_SPACE} if include_defaults else {}
    for key, spec in entries.items():
        params[key] = parse_param(key, spec, source, base)
    if not params:
        raise ConfigError(f"{source} lists no keys to search; add e.g. [model.hidden_size] with type, low and high.")
    return tuple(params.values())


def load_space(path: str | Path, base: ForecastConfig | None = None) -> tuple[Param, ...]:
    """Read a search space TOML file (see :func:`parse_space`)."""
    raw = read_toml(path, "Search space file")
    return parse_space(raw, source=f"search space {path}", base=base)


def parse_param(key: str, spec: Any, source: str, base: ForecastConfig) -> Param:
    """One ``[key]`` table of a search space -> a Param, or a ConfigError naming the key."""
    where = f"{source}: [{key}]"
    hint = _field_type(key, where)
    if not isinstance(spec, Mapping):
        raise ConfigError(f'{where} must be a table such as type = "int", low = 16, high = 128; got {spec!r}.')
    unknown = set(spec) - {"type", "low", "high", "log", "step", "choices"}
    if unknown:
        raise ConfigError(f"{where} has unknown field(s) {sorted(unknown)}; use type, low, high, log, step, choices.")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise ConfigError(f"{where} type must be one of {', '.join(PARAM_TYPES)}; got {kind!r}.")
    param = _categorical(key, spec, where) if kind == "categorical" else _numeric(key, kind, spec, hint, where)
    for label, value in ([("choice", c) for c in param.choices] if kind == "categorical"
                         else [("low", param.low), ("high", param.high)]):
        check_value(base, param, label, value, where)
    return param


def _field_type(key: str, where: str) -> Any:
    """The annotated type of config key ``section.name``; a ConfigError for an unknown or
    unsearchable key."""
    section, _, name = key.partition(".")
    klass = SECTIONS.get(section)
    valid = {f.name for f in fields(klass)} if klass else set()
    if klass is None or name not in valid:
        hint = f"valid keys in [{section}]: {', '.join(sorted(valid))}" if klass else "sections are data, model, train"
        raise ConfigError(f"{where} is not a config key; {hint}.")
    if key in NOT_SEARCHABLE:
        raise ConfigError(
            f"{where} cannot be searched: {NOT_SEARCHABLE[key]}, so trials would not be comparable. "
            f"Fix it with --set {key}=VALUE and run one study per value."
        )
    return get_type_hints(klass)[name]


def _categorical(key: str, spec: Mapping[str, Any], where: str) -> Param:
    extra = set(spec) - {"type", "choices"}
    choices = spec.get("choices")
    if extra:
        raise ConfigError(f"{where} is categorical: give only choices = [...], not {sorted(extra)}.")
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where} needs choices = [a, b, ...], a non-empty list; got {choices!r}.")
    if any(not isinstance(c, (bool, int, float, str)) for c in choices):
        raise ConfigError(f"{where} choices must be numbers, strings or booleans; got {choices!r}.")
    if len({(type(c), c) for c in choices}) != len(choices):
        raise ConfigError(f"{where} lists a choice twice: {choices!r}.")
    return Param(key, "categorical", choices=tuple(choices))


def _numeric(key: str, kind: str, spec: Mapping[str, Any], hint: Any, where: str) -> Param:
    numbers = {int: int, float: float, int | None: int, float | None: float}  # None: derived at fit
    if hint not in numbers:
        raise ConfigError(f'{where} is not numeric; search it with type = "categorical" and choices = [...].')
    if kind == "float" and numbers[hint] is int:
        raise ConfigError(f'{where} takes whole numbers; use type = "int".')
    missing = [f for f in ("low", "high") if f not in spec]
    if missing:
        raise ConfigError(f"{where} needs {' and '.join(missing)} for type = {kind!r}.")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    number = int if kind == "int" else (int, float)
    for label, value in (("low", low), ("high", high)) + ((("step", step),) if step is not None else ()):
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            what = "an integer" if kind == "int" else "a finite number"
            raise ConfigError(f"{where} {label} must be {what}; got {value!r}.")
    _check_range(low, high, log, step, where)
    return Param(key, kind, low, high, log=log, step=None if (step is None or (kind == "int" and step == 1)) else step)


def _check_range(low: float, high: float, log: Any, step: float | None, where: str) -> None:
    if not isinstance(log, bool):
        raise ConfigError(f"{where} log must be true or false; got {log!r}.")
    if low > high:
        raise ConfigError(f"{where} low ({low}) must not exceed high ({high}).")
    if step is not None and step <= 0:
        raise ConfigError(f"{where} step must be positive; got {step!r}.")
    if log and step is not None and step != 1:
        raise ConfigError(f"{where} cannot have both log = true and a step; drop one of them.")
    if log and low <= 0:
        raise ConfigError(f"{where} log = true needs low > 0; got low = {low}.")


def check_value(base: ForecastConfig, param: Param, label: str, value: Any, where: str) -> None:
    """A ConfigError unless ``base`` accepts ``value`` for the parameter's key."""
    try:
        base.with_overrides({param.key: value})
    except ConfigError as exc:
        raise ConfigError(f"{where} {label} = {toml_value(value)} is not a valid value: {exc}") from None


def config_value(config: ForecastConfig, key: str) -> Any:
    """The value of dotted key ``section.name`` in ``config``."""
    section, _, name = key.partition(".")
    return getattr(getattr(config, section), name)


def toml_value(value: Any) -> str:
    """``value`` written as in a TOML file (true / false, quoted strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)
