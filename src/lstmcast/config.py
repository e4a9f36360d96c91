"""Frozen configuration dataclasses, one per concern, saved beside the weights.

The same dotted keys work everywhere: in TOML files (``[model] hidden_size = 128``), on the
command line (``--set model.hidden_size=128``) and in Python (``config.with_overrides(...)`` or
``dataclasses.replace``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from lstmcast.config_values import (
    RENAMED,
    coerce,
    migrate,
    parse_duration,
    read_toml,
    split_override,
    toml_value,
)
from lstmcast.errors import ConfigError

__all__ = ["DataConfig", "ForecastConfig", "ModelConfig", "TrainConfig", "parse_duration", "read_toml"]

SCALERS = ("minmax", "standard", "none")
NORMALIZATIONS = ("none", "last", "mean", "standard")
FINAL_FITS = ("refit", "continue", "none")
HEADS = ("point", "gaussian", "quantile")  # lstmcast.models.heads.HEADS builds them
STRATEGIES = ("direct", "recursive")
ENCODERS = ("lstm", "gru")  # lstmcast.models.encoders.ENCODERS builds them
FILLS = ("ffill", "interpolate", "drop")
CLIP_MODES = ("norm", "value")
DEVICE_PATTERN = re.compile(r"auto|cpu(:0)?|cuda(:\d{1,3})?|mps(:0)?")
MAX_SEED = 2**63 - 1
MAX_THREADS = 1024
MAX_HIDDEN = 16384
MAX_LAYERS = 64
MAX_STEPS = 1_000_000
MAX_BATCH = 1 << 24


def _check_choice(section: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{section}.{name} must be one of {', '.join(choices)}; got {value!r}.")


def _check_positive_int(section: str, name: str, value: Any, minimum: int = 1, maximum: int | None = None,
                        why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{section}.{name} must be an integer >= {minimum}; got {value!r}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{section}.{name} must be at most {maximum}{why}; got {value!r}.")


def _check_fraction(section: str, name: str, value: Any, low: float, high: float, closed: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= float(value) <= high) or (
            float(value) == high and not closed):
        raise ConfigError(f"{section}.{name} must be a number in [{low}, {high}{']' if closed else ')'}; got {value!r}.")


@dataclass(frozen=True)
class DataConfig:
    """What the model reads and predicts, and how the series is prepared.

    ``targets`` are the columns forecast; ``features`` are past covariates (known up to the
    forecast origin); ``future_features`` are covariates known for the horizon too (calendar,
    planned values). ``input_length`` (L) past steps predict ``horizon`` (H) future steps;
    ``None`` derives L from the data's frequency, seasonal period and the horizon at fit time
    (see :func:`lstmcast.defaults.resolve`).

    Validation for early stopping is the last ``val_steps`` target steps of each series (``None``:
    the horizon, as in the M4 protocol; 0: none). Non-zero ``val_fraction`` / ``test_fraction``
    instead split each series by fractions (benchmark protocols); ``fit`` never scores a test part.
    """

    targets: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    future_features: tuple[str, ...] = ()
    time_col: str | None = None
    series_col: str | None = None
    input_length: int | None = None
    horizon: int = 1
    scaler: str = "standard"
    calendar_features: bool = False
    val_steps: int | None = None
    val_fraction: float = 0.0
    test_fraction: float = 0.0
    fill: str | None = None
    fill_gaps: bool = False

    def __post_init__(self) -> None:
        for name in ("targets", "features", "future_features"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            else:
                object.__setattr__(self, name, tuple(value))
        if self.input_length is not None:
            _check_positive_int("data", "input_length", self.input_length, maximum=MAX_STEPS,
                                why=" (the window is held in memory)")
        _check_positive_int("data", "horizon", self.horizon, maximum=MAX_STEPS, why=" (the forecast is held in memory)")
        if self.val_steps is not None:
            _check_positive_int("data", "val_steps", self.val_steps, minimum=0, maximum=MAX_STEPS)
        _check_choice("data", "scaler", self.scaler, SCALERS)
        _check_fraction("data", "val_fraction", self.val_fraction, 0.0, 0.9)
        _check_fraction("data", "test_fraction", self.test_fraction, 0.0, 0.9)
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError("data.val_fraction + data.test_fraction must leave at least 10% for training; "
                              f"got {self.val_fraction} + {self.test_fraction}.")
        if self.fill is not None:
            _check_choice("data", "fill", self.fill, FILLS)
        if self.fill_gaps and self.fill not in ("ffill", "interpolate"):
            raise ConfigError(
                "data.fill_gaps=true adds the missing timestamps of a regular series, whose values then "
                f"need filling: set data.fill to ffill or interpolate (--fill); got {self.fill!r}."
            )
        overlap = set(self.targets) & (set(self.features) | set(self.future_features))
        overlap |= set(self.features) & set(self.future_features)
        if overlap:
            raise ConfigError(f"Columns {sorted(overlap)} are listed twice among targets, features and "
                              "future_features; list each column once.")

    @property
    def uses_fractions(self) -> bool:
        """True when the series are split by ``val_fraction`` / ``test_fraction`` (benchmarks)."""
        return self.val_fraction > 0 or self.test_fraction > 0

    @property
    def validation_steps(self) -> int:
        """Target steps at the end of each series used for validation (the fractions aside)."""
        return self.horizon if self.val_steps is None else self.val_steps

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Columns fed to the encoder, in order: targets, then past and future covariates."""
        return self.targets + self.features + self.future_features


@dataclass(frozen=True)
class ModelConfig:
    """The network: an LSTM encoder, optional attention, and a head (point or probabilistic).

    Defaults are for forecasting real data (measured in the README's accuracy table): per-window
    instance normalisation (``normalization="standard"``), a quantile head whose median is the point
    forecast (pinball loss: robust to outliers, intervals for free), patches of one seasonal period
    (``patch_length=None`` derives them at fit time; 0 = none), a residual over the seasonal naive
    where the data's season is strong (``seasonal_skip=None`` decides at fit time; ``skip_cycles=n``: its
    base averages the window's last n cycles, 1 = the seasonal naive), and an ensemble of three
    (``ensemble=K``: K members, seeds seed..seed+K-1, their median forecast; 1 = one network).
    ``theta_weight`` / ``ets_weight`` mix in the Theta method / exponential smoothing (None: chosen at fit,
    :mod:`lstmcast.fitting.combination`, both None: their mean's weight; the sum is at most 1).
    """

    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    attention: bool = False
    attention_heads: int = 4
    head: str = "quantile"
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    normalization: str = "standard"
    strategy: str = "direct"
    channel_independent: bool = False
    forget_bias: float | None = None
    conformal: bool = False
    patch_length: int | None = None
    ensemble: int = 3
    encoder: str = "lstm"
    seasonal_skip: int | None = None
    skip_cycles: int = 1
    theta_weight: float | None = None
    ets_weight: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))
        _check_choice("model", "encoder", self.encoder, ENCODERS)
        _check_positive_int("model", "hidden_size", self.hidden_size, maximum=MAX_HIDDEN,
                            why=f" (an LSTM layer of {MAX_HIDDEN} units already holds over 2 billion weights)")
        if self.patch_length is not None:
            _check_positive_int("model", "patch_length", self.patch_length, minimum=0, maximum=MAX_STEPS)
        _check_positive_int("model", "ensemble", self.ensemble, maximum=MAX_LAYERS)
        if self.seasonal_skip is not None:
            _check_positive_int("model", "seasonal_skip", self.seasonal_skip, minimum=0, maximum=MAX_STEPS)
        _check_positive_int("model", "skip_cycles", self.skip_cycles, maximum=MAX_STEPS)
        for name in ("theta_weight", "ets_weight"):
            if getattr(self, name) is not None:
                _check_fraction("model", name, getattr(self, name), 0.0, 1.0, closed=True)
        if (self.theta_weight or 0.0) + (self.ets_weight or 0.0) > 1 + 1e-9:
            raise ConfigError(f"model.theta_weight + model.ets_weight must be at most 1 (the network keeps the rest); "
                              f"got {self.theta_weight} + {self.ets_weight}.")
        if self.seasonal_skip and self.strategy == "recursive":
            raise ConfigError("model.seasonal_skip does not apply to model.strategy='recursive'; set one back.")
        if self.skip_cycles > 1 and (self.seasonal_skip == 0 or self.strategy == "recursive"):
            raise ConfigError(f"model.skip_cycles={self.skip_cycles} averages the cycles of a seasonal skip, which "
                              "model.seasonal_skip=0 / model.strategy='recursive' turn off; set model.skip_cycles=1.")
        _check_choice("model", "normalization", self.normalization, NORMALIZATIONS)
        _check_positive_int("model", "num_layers", self.num_layers, maximum=MAX_LAYERS)
        _check_positive_int("model", "attention_heads", self.attention_heads, maximum=MAX_HIDDEN)
        _check_fraction("model", "dropout", self.dropout, 0.0, 1.0)
        _check_choice("model", "head", self.head, HEADS)
        _check_choice("model", "strategy", self.strategy, STRATEGIES)
        if self.forget_bias is not None and not math.isfinite(float(self.forget_bias)):
            raise ConfigError(f"model.forget_bias must be finite; got {self.forget_bias!r}.")
        if self.head == "quantile":
            qs = self.quantiles
            if not qs or any(not 0.0 < q < 1.0 for q in qs) or list(qs) != sorted(set(qs)):
                raise ConfigError("model.quantiles must be distinct, increasing levels strictly between 0 "
                                  f"and 1, e.g. [0.1, 0.5, 0.9]; got {list(qs)}.")
        if self.attention:
            width = self.hidden_size * (2 if self.bidirectional else 1)
            if width % self.attention_heads:
                raise ConfigError(f"model.attention_heads ({self.attention_heads}) must divide the LSTM output "
                                  f"width ({width} = hidden_size x directions); change one of them.")


@dataclass(frozen=True)
class TrainConfig:
    """The fit loop: Adam on the head's loss, clipping, plateau LR, early stopping."""

    max_epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    clip_mode: str = "norm"
    patience: int = 10
    lr_factor: float = 0.5
    lr_patience: int = 3
    min_lr: float = 1e-5
    time_budget: float = 0.0
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    threads: int = 0
    checkpoint_every: int = 1
    checkpoint_seconds: float = 0.0
    epoch_windows: int = 0
    final_fit: str = "continue"
    min_delta: float = 0.002
    val_windows: int = 4096

    def __post_init__(self) -> None:
        _check_positive_int("train", "max_epochs", self.max_epochs)
        _check_positive_int("train", "val_windows", self.val_windows, minimum=0)
        if isinstance(self.min_delta, bool) or not isinstance(self.min_delta, (int, float)) \
                or not 0.0 <= self.min_delta < 1.0:
            raise ConfigError(f"train.min_delta must be a number in [0, 1): the relative improvement of the "
                              f"validation loss that counts as progress for early stopping (0.01 = 1%); got {self.min_delta!r}.")
        _check_positive_int("train", "patience", self.patience, minimum=0)
        _check_positive_int("train", "lr_patience", self.lr_patience, minimum=0)
        _check_positive_int("train", "seed", self.seed, minimum=0, maximum=MAX_SEED,
                            why=" (2^63 - 1, the largest seed torch takes)")
        _check_positive_int("train", "threads", self.threads, minimum=0, maximum=MAX_THREADS,
                            why=" (0 picks the threads for the model size)")
        _check_positive_int("train", "batch_size", self.batch_size, maximum=MAX_BATCH)
        _check_positive_int("train", "checkpoint_every", self.checkpoint_every, minimum=0)
        _check_positive_int("train", "epoch_windows", self.epoch_windows, minimum=0)
        _check_choice("train", "clip_mode", self.clip_mode, CLIP_MODES)
        _check_choice("train", "final_fit", self.final_fit, FINAL_FITS)
        for name in ("learning_rate", "min_lr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConfigError(f"train.{name} must be a positive finite number; got {value!r}.")
        for name in ("grad_clip", "weight_decay", "time_budget", "checkpoint_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
                raise ConfigError(f"train.{name} must be a number >= 0 (0 = off); got {value!r}.")
        if not 0.0 < self.lr_factor < 1.0:
            raise ConfigError(f"train.lr_factor must be in (0, 1); got {self.lr_factor!r}.")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError(f"train.device must be auto, cpu, cuda, cuda:N (N a device number) or mps; got {self.device!r}.")


@dataclass(frozen=True)
class ForecastConfig:
    """Everything that defines a forecaster: data, model and training sections."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        m, d = self.model, self.data
        if m.strategy == "recursive":
            if d.features:
                raise ConfigError(
                    "model.strategy=recursive feeds predictions back as inputs, so every input "
                    f"must be known in the future; past-only features {list(d.features)} are not. "
                    "Use model.strategy=direct, or pass them as future features."
                )
            if m.head != "point":
                raise ConfigError(
                    "model.strategy=recursive supports model.head=point only (sampling-free "
                    f"rollout); got head={m.head!r}. Use model.strategy=direct for probabilistic heads."
                )
        if m.patch_length and d.input_length is not None and d.input_length % m.patch_length:
            longer = (d.input_length // m.patch_length + 1) * m.patch_length
            divisor = max(n for n in range(1, m.patch_length) if d.input_length % n == 0)
            raise ConfigError(
                f"model.patch_length={m.patch_length} must divide data.input_length="
                f"{d.input_length} (the window is cut into whole segments); use "
                f"data.input_length={longer}, model.patch_length={divisor}, or "
                "model.patch_length=0 for no patches."
            )
        has_val = d.val_fraction > 0 if d.uses_fractions else d.validation_steps > 0
        if m.conformal and (m.head == "point" or not has_val):
            raise ConfigError(
                "model.conformal=true calibrates prediction intervals on the validation part, so it needs "
                f"model.head=gaussian or quantile (got {m.head!r}) and a validation part (data.val_steps > 0 "
                "or data.val_fraction > 0)."
            )
        if m.channel_independent and (d.features or d.future_features):
            raise ConfigError(
                "model.channel_independent=true runs each target channel through the LSTM on "
                "its own, so covariates cannot be used with it; drop the features or set "
                "model.channel_independent=false."
            )

    # -- conversion ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = dataclasses.asdict(self)
        for section in out.values():
            for key, value in section.items():
                if isinstance(value, tuple):
                    section[key] = list(value)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_toml(self) -> str:
        lines: list[str] = []
        for section, values in self.to_dict().items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                if value is None:
                    continue
                lines.append(f"{key} = {toml_value(value)}")
            lines.append("")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ForecastConfig:
        if not isinstance(raw, dict):
            raise ConfigError(f"A config must be a mapping of sections; got {type(raw).__name__}.")
        unknown = set(raw) - {"data", "model", "train"}
        if unknown:
            raise ConfigError(f"Unknown config section(s) {sorted(unknown)}; valid sections are data, model, train.")
        raw = migrate(raw)
        sections: dict[str, Any] = {}
        for name, klass in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
            section = raw.get(name) or {}
            if not isinstance(section, dict):
                shape = ("an array of tables ([[" + name + "]])" if isinstance(section, list)
                         else f"a {type(section).__name__}")
                raise ConfigError(
                    f"Config section [{name}] must be one table of key = value lines (write [{name}] once); "
                    f"got {shape}."
                )
            values = dict(section)
            valid = {f.name for f in fields(klass)}
            bad = set(values) - valid
            if bad:
                raise ConfigError(
                    f"Unknown key(s) {sorted(f'{name}.{b}' for b in bad)}; valid keys in [{name}]: "
                    f"{', '.join(sorted(valid))}."
                )
            hints = get_type_hints(klass)
            for key, value in list(values.items()):
                values[key] = coerce(f"{name}.{key}", value, hints[key])
            sections[name] = klass(**values)
        return cls(**sections)

    @classmethod
    def from_toml(cls, path: str | Path) -> ForecastConfig:
        return cls.from_dict(read_toml(path, "Config file"))

    def with_overrides(self, overrides: list[str] | tuple[str, ...] | dict[str, Any]) -> ForecastConfig:
        """Apply ``"section.key=value"`` overrides (values parsed as TOML, else as strings)."""
        raw = self.to_dict()
        items = overrides.items() if isinstance(overrides, dict) else map(split_override, overrides)
        for dotted, value in items:
            dotted = RENAMED.get(dotted.strip(), dotted)
            section, _, key = dotted.partition(".")
            if section not in raw or not key:
                raise ConfigError(
                    f"Override {dotted!r} must look like section.key=value with section one of "
                    "data, model, train (e.g. model.hidden_size=128)."
                )
            if key not in raw[section]:
                raise ConfigError(f"Unknown key {dotted!r}; valid keys in [{section}]: {', '.join(sorted(raw[section]))}.")
            raw[section][key] = value
        return ForecastConfig.from_dict(raw)
