"""Which backend serves a batch: ONNX Runtime wins small batches (no Python per layer), eager
torch (oneDNN's LSTM kernel) large ones. Measured once at startup, on this machine and model.

The batch size found is in ``GET /model`` (``backend.eager_from_batch``; ``None``: ONNX Runtime
serves every batch) and in what ``benchmarks/serving.py`` prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

BATCHES = (32, 128, 512)  # timed on both backends; all above serving.app.INLINE_SERIES (run on the event loop)
MARGIN = 0.9  # eager must take at most this share of ONNX Runtime's time


def eager_crossover(onnx: Callable[[Any], Any], eager: Callable[[Any], Any], batch_of: Callable[[int], Any],
                    sizes: tuple[int, ...] = BATCHES, clock: Callable[[], float] = time.process_time) -> int | None:
    """The smallest of ``sizes`` at which ``eager(batch)`` takes at most :data:`MARGIN` of
    ``onnx(batch)``'s process CPU time (the middle of 3 timed calls each, after one untimed), or
    None when it never does."""
    for size in sizes:
        batch = batch_of(size)
        seconds = {}
        for name, run in (("onnx", onnx), ("eager", eager)):
            run(batch)
            times = []
            for _ in range(3):
                started = clock()
                run(batch)
                times.append(clock() - started)
            seconds[name] = sorted(times)[1]
        if seconds["eager"] <= MARGIN * seconds["onnx"]:
            return size
    return None
