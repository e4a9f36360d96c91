"""Recurrent encoders: the seam where the network's recurrent layer is chosen (``model.encoder``).

Each encoder is the torch module itself (an ``nn.LSTM`` / ``nn.GRU`` built batch-first from a
:class:`~lstmcast.config.ModelConfig`), so its parameter names, its oneDNN kernel and its
exported graph are torch's own. It declares the ONNX operators its export must contain
(``onnx_ops``: a native recurrent node, not a Loop/Scan decomposition) and whether it has LSTM
gates to introspect (``has_gates``). Adding an encoder is a class here, registered in
:data:`ENCODERS`, and its name in ``lstmcast.config.ENCODERS``.

Inputs: x [B, L', F'] (L' steps or N patches, F' channels or patch embeddings).
Outputs: outputs [B, L', W] with W = D * hidden_size (D = 2 when bidirectional).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from lstmcast.config import ModelConfig
from lstmcast.errors import ConfigError
from lstmcast.models.init import set_forget_bias

__all__ = ["ENCODERS", "Encoder", "GRUEncoder", "LSTMEncoder", "encoder_ops", "make_encoder"]


class Encoder(nn.Module):
    """What the network needs of a recurrent encoder (the base of an ``nn.RNNBase`` subclass)."""

    kind: ClassVar[str]
    onnx_ops: ClassVar[tuple[str, ...]]  # operators the ONNX export must hold
    has_gates: ClassVar[bool] = False  # LSTM gates (f, i, o, g) that introspection can record

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[B, L', F'] -> outputs [B, L', W] (the final states are not needed)."""
        outputs, _ = self(x)
        return outputs


def _rnn_options(input_size: int, config: ModelConfig) -> dict[str, object]:
    return {"input_size": input_size, "hidden_size": config.hidden_size, "num_layers": config.num_layers,
            "dropout": config.dropout if config.num_layers > 1 else 0.0,
            "bidirectional": config.bidirectional, "batch_first": True}


class LSTMEncoder(Encoder, nn.LSTM):
    """``nn.LSTM``; ``model.forget_bias`` sets its forget-gate bias at initialisation."""

    kind = "lstm"
    onnx_ops = ("LSTM",)
    has_gates = True

    def __init__(self, input_size: int, config: ModelConfig) -> None:
        nn.LSTM.__init__(self, **_rnn_options(input_size, config))
        if config.forget_bias is not None:
            set_forget_bias(self, config.forget_bias)


class GRUEncoder(Encoder, nn.GRU):
    """``nn.GRU`` (Cho et al. 2014): two gates and no cell state; a third fewer weights than an
    LSTM of the same width."""

    kind = "gru"
    onnx_ops = ("GRU",)

    def __init__(self, input_size: int, config: ModelConfig) -> None:
        if config.forget_bias is not None:
            raise ConfigError(f"model.forget_bias sets an LSTM's forget-gate bias, and model.encoder='gru' has no "
                              f"forget gate; got forget_bias={config.forget_bias!r}. Leave model.forget_bias unset "
                              "or use model.encoder='lstm'.")
        nn.GRU.__init__(self, **_rnn_options(input_size, config))


ENCODERS: dict[str, Callable[[int, ModelConfig], Encoder]] = {"lstm": LSTMEncoder, "gru": GRUEncoder}


def make_encoder(input_size: int, config: ModelConfig) -> Encoder:
    """The encoder ``config.encoder`` names (a saved config without the key reads ``lstm``)."""
    name = config.encoder
    if name not in ENCODERS:
        raise ConfigError(f"model.encoder must be one of {sorted(ENCODERS)}; got {name!r}.")
    return ENCODERS[name](input_size, config)


def encoder_ops(network: nn.Module) -> set[str]:
    """The ONNX operators the encoders inside ``network`` declare (what its export must hold)."""
    return {op for m in network.modules() if isinstance(m, Encoder) for op in m.onnx_ops}


def gated_encoder(network: nn.Module, what: str) -> Encoder | None:
    """The LSTM encoder of ``network`` for gate introspection, or a ConfigError naming the encoder."""
    found = [m for m in network.modules() if isinstance(m, Encoder)]
    plain = [m for m in found if not m.has_gates]
    if plain:
        raise ConfigError(f"{what} records LSTM gates (f, i, o, g and the cell state), and this model's encoder is "
                          f"{type(plain[0]).__name__} (model.encoder={plain[0].kind!r}), which has none. Inspect "
                          "a model trained with model.encoder='lstm'.")
    return found[0] if found else None
