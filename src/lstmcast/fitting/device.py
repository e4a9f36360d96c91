"""Where and how a fit runs: the torch device, the thread count and deterministic kernels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from lstmcast.config import ForecastConfig
from lstmcast.errors import ConfigError
from lstmcast.training.threads import threads_for


def resolve_device(name: str) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda[:k]`` | ``mps`` -> a torch device, or a ConfigError saying what
    this machine has instead."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"Device {name!r} was asked for, but CUDA is not available here; use --device cpu.")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"Device {name!r} was asked for, but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s), numbered from 0; use --device cuda:0 or cpu.")
    if name.startswith("mps") and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"Device {name!r} was asked for, but Apple's MPS is not available here (it needs an Apple "
                          "silicon Mac and a torch built with MPS); use --device cpu.")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"Device {name!r} is not usable here ({exc}); use --device cpu.") from None


@contextmanager
def torch_settings(config: ForecastConfig, device: torch.device) -> Iterator[None]:
    """Threads for the model size (one when deterministic without ``train.threads``) and, with
    ``train.deterministic``, deterministic kernels; the process's settings are restored after."""
    t = config.train
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        if device.type == "cpu":
            torch.set_num_threads(1 if t.deterministic and not t.threads else threads_for(config.model, t))
        if t.deterministic:
            torch.use_deterministic_algorithms(True)
        yield
    finally:
        torch.set_num_threads(threads)
        if t.deterministic:  # the setter imports torch._inductor and torch._dynamo (~1 CPU-s)
            torch.use_deterministic_algorithms(deterministic)
