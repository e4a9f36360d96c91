"""The optimiser step, gradient clipping and weight snapshots as multi-tensor (foreach) ops.

On the tutorial model one training step does about 0.7 ms of LSTM arithmetic; per-tensor
Python loops (``torch.optim.Adam``'s single-tensor path on CPU, ``clip_grad_norm_``, a
finiteness check per gradient, deep copies of the optimiser state) cost a third more again.
Here every step is a handful of ``torch._foreach_*`` kernels over all parameters at once.

:class:`Adam` computes exactly what ``torch.optim.Adam`` computes (same update, same order of
operations), without ``torch.optim.Optimizer``: constructing one imports ``torch._dynamo``
(0.7-1.4 CPU-s on first use), which a training run that never compiles should not pay.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn


class Adam:
    """Adam (Kingma & Ba) with L2 ``weight_decay`` added to the gradient, as ``torch.optim.Adam``.

    ``lr`` is a plain attribute (the plateau schedule and the divergence guard lower it);
    ``state_dict()`` holds only tensors, numbers and lists, so checkpoints load with
    ``torch.load(weights_only=True)``.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps, self.weight_decay = float(lr), betas, eps, weight_decay
        self.steps = 0
        with torch.no_grad():
            self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
            self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def grads(self) -> list[torch.Tensor]:
        """The gradients of the last backward pass (parameters without one count as zero)."""
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor] | None = None) -> None:
        grads = list(grads) if grads is not None else self.grads()
        beta1, beta2 = self.betas
        self.steps += 1
        if self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        step_size = self.lr / (1 - beta1 ** self.steps)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(1 - beta2 ** self.steps))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, -step_size)

    def state_tensors(self) -> list[torch.Tensor]:
        """The moment tensors, in a fixed order (for snapshots)."""
        return [*self.exp_avg, *self.exp_avg_sq]

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "adam", "steps": self.steps, "lr": self.lr,
                "exp_avg": [t.detach().clone() for t in self.exp_avg],
                "exp_avg_sq": [t.detach().clone() for t in self.exp_avg_sq]}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load :meth:`state_dict`, or a ``torch.optim.Adam`` state dict (checkpoints written
        before this class existed): its per-parameter entries follow the same parameter order."""
        if state.get("kind") != "adam":
            state = _from_torch_adam(state)
        self.steps, self.lr = int(state["steps"]), float(state["lr"])
        if state["exp_avg"] is None:  # saved before the first step: the moments are still zero
            return
        if len(state["exp_avg"]) != len(self.params):
            raise ValueError(f"optimizer state holds {len(state['exp_avg'])} parameters; this model has "
                             f"{len(self.params)}")
        torch._foreach_copy_(self.exp_avg, [t.to(p.device) for t, p in zip(state["exp_avg"], self.params, strict=True)])
        torch._foreach_copy_(self.exp_avg_sq,
                             [t.to(p.device) for t, p in zip(state["exp_avg_sq"], self.params, strict=True)])


def _from_torch_adam(state: dict[str, Any]) -> dict[str, Any]:
    """``torch.optim.Adam.state_dict()`` -> :meth:`Adam.state_dict` form."""
    entries = [state["state"][i] for i in sorted(state.get("state", {}))]
    step = entries[0]["step"] if entries else 0
    return {"kind": "adam", "steps": int(step.item() if isinstance(step, torch.Tensor) else step),
            "lr": state["param_groups"][0]["lr"], "exp_avg": [e["exp_avg"] for e in entries] or None,
            "exp_avg_sq": [e["exp_avg_sq"] for e in entries] or None}


@torch.no_grad()
def clip_gradients(grads: list[torch.Tensor], max_value: float, mode: str = "norm") -> float:
    """Clip ``grads`` in place; returns their global L2 norm before clipping.

    ``mode`` "norm" rescales all gradients together when the norm exceeds ``max_value`` (as
    ``clip_grad_norm_``), "value" clamps each element to [-max_value, max_value]; ``max_value``
    0 only measures. A non-finite return value means some gradient is NaN/Inf: the divergence
    guard reads it instead of checking every gradient again.
    """
    if not grads:
        return 0.0
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    if max_value > 0 and mode == "norm":
        torch._foreach_mul_(grads, torch.clamp(max_value / (total + 1e-6), max=1.0))
    elif max_value > 0:
        torch._foreach_clamp_min_(grads, -max_value)
        torch._foreach_clamp_max_(grads, max_value)
    return float(total)


class Snapshot:
    """Preallocated copies of a list of tensors: ``save`` and ``restore`` are one foreach copy
    each, with no allocation (the best weights are copied only when an epoch is the best)."""

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self.live = [t.detach() for t in tensors]
        self.saved = [t.clone() for t in self.live]
        self.filled = False

    @torch.no_grad()
    def save(self) -> None:
        if self.live:
            torch._foreach_copy_(self.saved, self.live)
        self.filled = True

    @torch.no_grad()
    def restore(self) -> None:
        if self.live:
            torch._foreach_copy_(self.live, self.saved)


def state_tensors(model: nn.Module) -> tuple[list[str], list[torch.Tensor]]:
    """Names and tensors of ``model.state_dict()`` (the live parameters and buffers)."""
    state = model.state_dict(keep_vars=True)
    return list(state), [t.detach() for t in state.values()]
