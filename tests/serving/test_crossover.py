"""The service's backend per batch size: ONNX Runtime for small batches, eager torch from the
batch size where it was measured faster at startup; both give the same forecast."""

from __future__ import annotations

import numpy as np
import pytest

from lstmcast.serving.crossover import eager_crossover
from tests.export.variants import fit_variant

pytest.importorskip("onnxruntime")


class FakeClock:
    """Time that advances only by the cost the fake backends declare."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def runner(self, fixed: float, per_row: float):
        def run(size: int) -> None:
            self.now += fixed + per_row * size
        return run


def test_the_crossover_is_the_first_batch_size_where_eager_is_clearly_faster():
    clock = FakeClock()
    onnx, eager = clock.runner(0.0, 1.0), clock.runner(50.0, 0.5)  # eager <= 0.9 x onnx from 125 rows
    assert eager_crossover(onnx, eager, lambda size: size, (32, 128, 512), clock=clock) == 128
    never = clock.runner(5.0, 1.0)
    assert eager_crossover(onnx, never, lambda size: size, (32, 128, 512), clock=clock) is None


def test_large_batches_go_to_eager_torch_with_the_same_forecast(tmp_path, monkeypatch):
    from lstmcast.serving.predictor import Batch, Predictor

    f, _, _ = fit_variant("point_stacked_last")
    f.save(tmp_path / "model")
    predictor = Predictor(tmp_path / "model")
    assert predictor.backend == "onnxruntime" and "eager_from_batch" in predictor.backend_info
    used = []
    for name in ("_onnx", "_eager"):
        original = getattr(predictor, name)
        monkeypatch.setattr(predictor, name, lambda batch, o=original, n=name: used.append(n) or o(batch))
    predictor.eager_from = 4
    rng = np.random.default_rng(0)
    channels = len(predictor.columns)
    window = rng.normal(size=(6, predictor.input_length, channels)).astype(np.float32)
    offset, scale = np.zeros((6, channels)), np.ones((6, channels))
    small = predictor.forecast(Batch(window[:3], None, offset[:3], scale[:3]))
    large = predictor.forecast(Batch(window, None, offset, scale))
    assert used == ["_onnx", "_eager"]
    np.testing.assert_allclose(large[0][:3], small[0], rtol=1e-4, atol=1e-5)
