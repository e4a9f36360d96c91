"""Inference speed of the exported forecast path: ONNX Runtime vs eager torch, float vs int8.

    python benchmarks/inference.py                  # trains the demo model (hidden 64) first
    python benchmarks/inference.py --model runs/demo/model

Table 1, batch-1 latency (medians, calls interleaved so that load on the machine hits every
contender alike):
  - ``Forecaster.predict`` on a DataFrame of recent history (what a Python user calls),
  - the eager torch forecast pipeline on a ready window (the same arithmetic, no pandas),
  - the exported ONNX graph under ONNX Runtime on a ready window (1 intra-op thread).
The bar: ONNX Runtime at least 5x faster than ``Forecaster.predict``.

Table 2, float vs ONNX Runtime dynamic int8: file size, error against the eager model and test
RMSE against the truth, and median latency at batch 1 and 256.

Table 3, the eager torch pipeline against ONNX Runtime at batch sizes 1 to 1024 (where the
service switches backends, see lstmcast.serving.crossover).

Prints tables; not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lstmcast.data.synthetic import noisy_sine
from lstmcast.export import ForecastPipeline, eager_forecast, export_model
from lstmcast.export.formats import onnx_session
from lstmcast.export.parity import compare
from lstmcast.forecaster import Forecaster


def demo_model(epochs: int) -> tuple[Forecaster, object]:
    """The demo (``lstmcast demo``'s own config): noisy sine (1000 points), windows of 20,
    LSTM(64) + Linear, min-max scaler, the 70/10/20 split."""
    from lstmcast.cli.fitting import demo_inputs

    frame, config = demo_inputs(0)
    config = config.with_overrides([f"train.max_epochs={epochs}", "train.device=cpu"])
    return Forecaster(config).fit(frame), frame


def interleaved(calls: dict[str, object], repeats: int, block: int = 10) -> dict[str, float]:
    """Median seconds per call of each callable. Contenders take turns in blocks of ``block``
    calls (so that load on the machine hits all alike); the first call of each block, which
    pays for caches the other contender evicted, is not counted."""
    for fn in calls.values():
        for _ in range(block):
            fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(max(1, repeats // block)):
        for name, fn in calls.items():
            for k in range(block + 1):
                t0 = time.perf_counter()
                fn()
                if k:
                    times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def test_windows(f: Forecaster, frame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw test windows [N, L, C], truth [N, H, T], and each row's offset/scale [N, C]."""
    w = f.windows(frame, "test")
    scaler = f.scalers_["__single__"]
    raw = w.x.astype(np.float64) * scaler.scale_ + scaler.offset_
    n = len(raw)
    return raw, w.truth, np.tile(scaler.offset_, (n, 1)), np.tile(scaler.scale_, (n, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model directory (default: train the demo model)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs when training the demo model (default 20)")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per contender at batch 1")
    args = parser.parse_args(argv)

    if args.model:
        f = Forecaster.load(args.model, device="cpu")
        frame = noisy_sine(n_points=1000, noise_std=0.1, seed=0)
    else:
        print(f"training the demo model ({args.epochs} epochs)...", flush=True)
        f, frame = demo_model(args.epochs)
    m = f.config_.model  # the config as fitted, with what fit derived from the data
    torch_threads = torch.get_num_threads()
    print(f"model: hidden {m.hidden_size}, layers {m.num_layers}, input_length {f.config_.data.input_length}, "
          f"horizon {f.config_.data.horizon}; torch {torch.__version__} ({torch_threads} threads), "
          f"{os.cpu_count()} CPUs")

    work = Path(tempfile.mkdtemp(prefix="lstmcast-bench-"))
    float_file = export_model(f, work / "model.onnx", "onnx").path
    int8_result = export_model(f, work / "model_int8.onnx", "onnx", quantize="int8")
    pipeline = ForecastPipeline(f)
    session = onnx_session(float_file, threads=1)
    session8 = onnx_session(int8_result.path, threads=1)

    # ---------------------------------------------------------------- batch-1 latency
    recent = frame.tail(f.config_.data.input_length)
    raw, truth, offset, scale = test_windows(f, frame)
    one = {"window": raw[:1].astype(np.float32)}
    with torch.no_grad():
        window_t = torch.from_numpy(one["window"])
        calls = {
            "Forecaster.predict (DataFrame in)": lambda: f.predict(recent),
            "eager torch pipeline (array in)": lambda: pipeline(window_t),
            "ONNX Runtime float (array in)": lambda: session.run(None, one),
            "ONNX Runtime int8 (array in)": lambda: session8.run(None, one),
        }
        medians = interleaved(calls, args.repeats)
    base = medians["Forecaster.predict (DataFrame in)"]
    ort = medians["ONNX Runtime float (array in)"]
    print("\nTable 1: batch-1 latency (median of interleaved calls)")
    print(f"{'path':<36} {'median':>10} {'vs predict':>11}")
    for name, seconds in medians.items():
        print(f"{name:<36} {seconds * 1e3:>8.3f}ms {base / seconds:>10.1f}x")
    ratio = base / ort
    print(f"ONNX Runtime float vs Forecaster.predict: {ratio:.1f}x lower latency "
          f"({'meets' if ratio >= 5 else 'MISSES'} the 5x bar); vs the eager torch pipeline: "
          f"{medians['eager torch pipeline (array in)'] / ort:.1f}x")

    # ---------------------------------------------------------------- float vs int8
    eager = eager_forecast(f, raw, None, offset, scale)
    outputs = {"float": session.run(None, {"window": raw.astype(np.float32)}),
               "int8": session8.run(None, {"window": raw.astype(np.float32)})}
    sizes = {"float": float_file.stat().st_size, "int8": int8_result.path.stat().st_size}
    rmse_eager = float(np.sqrt(np.mean((eager[0] - truth) ** 2)))
    print(f"\nTable 2: float vs int8 ONNX ({len(raw)} test windows; eager test RMSE {rmse_eager:.5f})")
    big = np.resize(raw, (256, *raw.shape[1:])).astype(np.float32)
    speed = {batch: interleaved({"float": lambda x=x: session.run(None, {"window": x}),
                                 "int8": lambda x=x: session8.run(None, {"window": x})},
                                args.repeats if batch == 1 else max(20, args.repeats // 10))
             for batch, x in ((1, one["window"]), (256, big))}
    print(f"{'graph':<6} {'size':>10} {'max rel err':>12} {'test RMSE':>10} {'batch 1':>10} {'batch 256':>10}")
    for name in ("float", "int8"):
        _, rel = compare(outputs[name], eager, np.ptp(raw[..., : eager[0].shape[-1]], axis=1))  # each window's range
        rmse = float(np.sqrt(np.mean((outputs[name][0] - truth) ** 2)))
        print(f"{name:<6} {sizes[name] / 1024:>8.1f}KB {rel.max():>12.2g} {rmse:>10.5f} "
              f"{speed[1][name] * 1e3:>8.3f}ms {speed[256][name] * 1e3:>8.3f}ms")
    print(f"int8: {sizes['int8'] / sizes['float']:.0%} of the size, "
          f"{speed[1]['float'] / speed[1]['int8']:.2f}x float's speed at batch 1, "
          f"{speed[256]['float'] / speed[256]['int8']:.2f}x at batch 256")

    # ---------------------------------------------------------------- backend by batch size
    print("\nTable 3: eager torch (the service's path) vs ONNX Runtime float by batch size")
    print(f"{'batch':>6} {'ONNX Runtime':>13} {'eager torch':>12} {'eager / ONNX':>13}")
    model = f.model_  # the service's eager path: its thread policy, numpy in and out
    for batch in (1, 16, 64, 256, 1024):
        x = np.resize(raw, (batch, *raw.shape[1:]))
        xf, off, sc = x.astype(np.float32), np.resize(offset, (batch, offset.shape[1])), np.resize(scale, (batch, scale.shape[1]))
        t = interleaved({"onnx": lambda xf=xf: session.run(None, {"window": xf}),
                         "eager": lambda x=xf, o=off, c=sc: model.predict_windows(x, None, o, c)},
                        args.repeats if batch <= 16 else max(20, args.repeats // 10))
        print(f"{batch:>6} {t['onnx'] * 1e3:>11.3f}ms {t['eager'] * 1e3:>10.3f}ms {t['eager'] / t['onnx']:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
