"""The model variants every suite covers: one list, named once.

Each variant is a dict of dotted config overrides (:meth:`ForecastConfig.with_overrides`) of the
network and its data path. ``needs`` names what the data must offer; a suite supplies the column
names (several targets, past / future covariates, a time column) for its own data.

- the contract suite (tests/models/test_contract.py) trains every variant on tiny data;
- the export suite (tests/export) checks every option here reaches an ONNX / TorchScript export
  in at least one of its combined variants (each combination costs one fit);
- ``benchmarks/variants.py`` measures them on the demo task and on ETTh1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["VARIANTS", "Variant"]


@dataclass(frozen=True)
class Variant:
    """Dotted overrides, and what the data needs: "targets" (several), "past" / "future" covariates,
    "time" (a time column), or "no-past" (the variant refuses past-only covariates)."""

    overrides: dict[str, Any]
    needs: frozenset[str] = field(default_factory=frozenset)


def _v(overrides: dict[str, Any], *needs: str) -> Variant:
    return Variant(overrides, frozenset(needs))


VARIANTS: dict[str, Variant] = {
    "plain": _v({}),
    "stacked": _v({"model.num_layers": 2}),
    "bidirectional": _v({"model.bidirectional": True}),
    "attention": _v({"model.attention": True, "model.attention_heads": 2}),
    "bi+attention+stacked": _v({"model.bidirectional": True, "model.attention": True,
                                "model.attention_heads": 2, "model.num_layers": 2}),
    "gru": _v({"model.encoder": "gru"}),
    "gru+bi+attention+stacked": _v({"model.encoder": "gru", "model.bidirectional": True, "model.attention": True,
                                    "model.attention_heads": 2, "model.num_layers": 2}),
    "gaussian": _v({"model.head": "gaussian"}),
    "quantile": _v({"model.head": "quantile", "model.quantiles": (0.1, 0.5, 0.9)}),
    "quantile+conformal": _v({"model.head": "quantile", "model.conformal": True}),
    "recursive": _v({"model.strategy": "recursive"}, "no-past"),
    "recursive+future": _v({"model.strategy": "recursive"}, "no-past", "future"),
    "revin-last": _v({"model.normalization": "last"}),
    "revin-mean+gaussian": _v({"model.normalization": "mean", "model.head": "gaussian"}),
    "revin-standard+quantile": _v({"model.normalization": "standard", "model.head": "quantile"}),
    "ensemble-3": _v({"model.ensemble": 3, "model.head": "quantile", "model.normalization": "standard"}),
    "channel-independent": _v({"model.channel_independent": True}, "targets", "no-past"),
    "covariates": _v({}, "past", "future"),
    "calendar": _v({"data.calendar_features": True}, "time"),
    "patches": _v({"model.patch_length": 4}),
    "forget-bias": _v({"model.forget_bias": 1.0}),
    "standard-scaler": _v({"data.scaler": "standard"}),
    "seasonal-skip": _v({"model.seasonal_skip": 4, "model.head": "quantile"}),
}
