"""The order of a model's input channels, in one place.

A window ``X [B, L, C]`` holds, in this order: the targets (T), the past covariates (known up to
the forecast origin), the future covariates (known for the horizon too) and the calendar
features. The last ``n_future`` channels (future covariates + calendar) are also given for the H
steps after the origin; the first ``n_known`` are known only up to the origin... except that
future covariates are known in both: ``n_known = C - n_future`` counts the channels that are
*only* in the window. Every consumer (training, inference, export, serving) reads these numbers
from the layout rather than re-deriving them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lstmcast.errors import ModelFileError


@dataclass(frozen=True)
class ChannelLayout:
    targets: tuple[str, ...]
    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()
    calendar: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns read from the data (calendar channels are computed from the time index)."""
        return self.targets + self.past + self.future

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel of the window, in network order."""
        return self.columns + self.calendar

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    @property
    def n_future(self) -> int:
        """Channels also known for the horizon: future covariates, then calendar features."""
        return len(self.future) + len(self.calendar)

    @property
    def n_known(self) -> int:
        """Channels given only for the window (targets and past covariates)."""
        return self.n_channels - self.n_future

    def to_dict(self) -> dict[str, list[str]]:
        return {"targets": list(self.targets), "past": list(self.past), "future": list(self.future),
                "calendar": list(self.calendar)}

    @classmethod
    def from_dict(cls, raw: Any) -> ChannelLayout:
        if not isinstance(raw, dict) or not isinstance(raw.get("targets"), list):
            raise ModelFileError(f"The channel layout must be a mapping with a 'targets' list; got {raw!r}.")
        parts = {}
        for key in ("targets", "past", "future", "calendar"):
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ModelFileError(f"Channel layout field {key!r} must be a list of names; got {value!r}.")
            parts[key] = tuple(value)
        return cls(**parts)
