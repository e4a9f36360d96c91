"""Scalers fitted on the training part only, stored as JSON.

Every scaler is an affine map ``scaled = (x - offset) / scale`` per channel, so the same two
vectors serve numpy, torch and exported graphs. ``minmax`` maps the training range to [-1, 1]
(the tutorial's MinMaxScaler(feature_range=(-1, 1))); ``standard`` is the z-score with the
population standard deviation; ``none`` is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmcast.errors import DataError, NotFittedError

_RELATIVE = 1e-10  # a spread below this fraction of the channel's magnitude is rounding noise


class Scaler:
    """Per-channel affine scaler. ``fit`` returns self; learned state ends in ``_``."""

    def __init__(self, kind: str = "minmax") -> None:
        if kind not in ("minmax", "standard", "none"):
            raise DataError(f"Scaler kind must be minmax, standard or none; got {kind!r}.")
        self.kind = kind

    def fit(self, values: np.ndarray) -> Scaler:
        """Learn offset and scale from ``values`` [T, C] (the training rows only)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or len(values) == 0:
            raise DataError(f"Scaler.fit expects a non-empty 2-D array [rows, channels]; got {values.shape}.")
        if self.kind == "minmax":
            low, high = values.min(axis=0), values.max(axis=0)
            offset, scale = (high + low) / 2.0, (high - low) / 2.0
        elif self.kind == "standard":
            offset, scale = values.mean(axis=0), values.std(axis=0)
        else:
            offset, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
        # A constant channel would divide by zero: leave it centred but unscaled. "Constant" is
        # relative to the channel's magnitude, so a series of 1e-14 amplitude is still scaled.
        magnitude = np.abs(values).max(axis=0)
        self.offset_ = offset
        self.scale_ = np.where((scale > _RELATIVE * magnitude) & (scale > np.finfo(np.float64).tiny), scale, 1.0)
        return self

    def _check(self, values: np.ndarray) -> np.ndarray:
        if not hasattr(self, "scale_"):
            raise NotFittedError("This Scaler is not fitted yet; call fit(train_values) first.")
        values = np.asarray(values)
        if values.shape[-1] != len(self.scale_):
            raise DataError(
                f"Values have {values.shape[-1]} channels, but the scaler was fitted on {len(self.scale_)}."
            )
        return values

    def transform(self, values: np.ndarray) -> np.ndarray:
        """[..., C] -> [..., C] scaled."""
        values = self._check(values)
        return ((values - self.offset_) / self.scale_).astype(values.dtype, copy=False)

    def inverse_transform(self, values: np.ndarray, channels: slice | list[int] | None = None) -> np.ndarray:
        """Scaled [..., C'] back to original units; ``channels`` picks the fitted channels C' maps to."""
        values = np.asarray(values)
        if not hasattr(self, "scale_"):
            raise NotFittedError("This Scaler is not fitted yet; call fit(train_values) first.")
        offset, scale = self.offset_, self.scale_
        if channels is not None:
            offset, scale = offset[channels], scale[channels]
        return (values * scale + offset).astype(values.dtype, copy=False)

    def to_dict(self) -> dict[str, Any]:
        if not hasattr(self, "scale_"):
            raise NotFittedError("This Scaler is not fitted yet; nothing to save.")
        return {"kind": self.kind, "offset": self.offset_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Scaler:
        try:
            scaler = cls(state["kind"])
            scaler.offset_ = np.asarray(state["offset"], dtype=np.float64)
            scaler.scale_ = np.asarray(state["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"Scaler state is malformed ({exc}); expected keys kind, offset, scale.") from exc
        if scaler.offset_.ndim != 1 or scaler.offset_.shape != scaler.scale_.shape or not len(scaler.scale_):
            raise DataError(
                "Scaler state is malformed: offset and scale must be lists of one number per channel, of the "
                f"same length; got shapes {scaler.offset_.shape} and {scaler.scale_.shape}."
            )
        if not (np.all(np.isfinite(scaler.offset_)) and np.all(np.isfinite(scaler.scale_))):
            raise DataError(
                "Scaler state is malformed: offset or scale holds NaN or infinity, which would turn every "
                "forecast into NaN. Retrain the model or restore its scaler.json."
            )
        if np.any(scaler.scale_ <= 0):
            raise DataError("Scaler state is malformed: every scale must be positive; retrain the model.")
        return scaler
