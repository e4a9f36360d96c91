"""Forecaster.predict on many series in one call: CPU seconds and series per CPU-second.

    python benchmarks/predict_many.py                   # 10,000 series x 48 hourly rows
    python benchmarks/predict_many.py --series 1000 100000

Trains a small global model (LSTM(64), input 48, horizon 24) on 200 sine series, then calls
``predict`` once per size on a long-format frame of N unseen series (each scaled by its own
history). Prints the median of ``--repeats`` calls: process CPU seconds, series/s and the
forecast rows written. Not a test; the one-thread inference policy is in effect (training.threads).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd


def frame_of(n_series: int, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    y = np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 24, (n_series, 1))) / 24)
    y = y * rng.uniform(1, 10, (n_series, 1)) + rng.normal(0, 0.1, (n_series, rows))
    return pd.DataFrame({"unique_id": np.repeat([f"s{i}" for i in range(n_series)], rows),
                         "ds": np.tile(pd.date_range("2024-01-01", periods=rows, freq="h"), n_series),
                         "y": y.reshape(-1)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import warnings

    from lstmcast import DataConfig, ForecastConfig, Forecaster, ModelConfig, TrainConfig

    warnings.simplefilter("ignore")  # the long-layout note
    config = ForecastConfig(DataConfig(input_length=48, horizon=24), ModelConfig(hidden_size=64, ensemble=1),
                            TrainConfig(max_epochs=2, seed=0))
    forecaster = Forecaster(config).fit(frame_of(200, 240, seed=0))
    print(f"{'series':>8} {'CPU s':>8} {'series/CPU-s':>13} {'rows':>9}   (median of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.2f})")
    for n in args.series:
        frame = frame_of(n, 48, seed=1)
        cpu, rows = [], 0
        for _ in range(args.repeats):
            start = time.process_time()
            rows = len(forecaster.predict(frame).to_frame())
            cpu.append(time.process_time() - start)
        median = statistics.median(cpu)
        print(f"{n:>8} {median:>8.2f} {n / median:>13.0f} {rows:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
