"""Peak memory of training on long and on many series (windows are views, never copies).

Cases: one univariate series of 10 million points; 10,000 series of 1,000 points in long
format (one global model, per-series scalers). Each case runs in a fresh process and trains one
epoch on a random sample of windows (train.epoch_windows), then reports the process's peak
resident memory (ru_maxrss). Usage: .venv/bin/python benchmarks/memory.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def run(case: str) -> dict:
    import numpy as np
    import pandas as pd

    from lstmcast import DataConfig, ForecastConfig, Forecaster, ModelConfig, TrainConfig

    rng = np.random.default_rng(0)
    if case == "long":
        n = 10_000_000
        frame = pd.DataFrame({"value": np.sin(np.arange(n) / 20.0) + 0.1 * rng.standard_normal(n)})
        data = DataConfig(targets=("value",), input_length=48, horizon=8)
    else:
        n_series, length = 10_000, 1_000
        t = np.tile(np.arange(length), n_series)
        ids = np.repeat(np.arange(n_series), length)
        values = (ids % 7 + 1) * np.sin(t / (5.0 + ids % 11)) + 0.1 * rng.standard_normal(len(t))
        frame = pd.DataFrame({"id": pd.Categorical.from_codes(ids, [f"s{k}" for k in range(n_series)]),
                              "value": values})
        data = DataConfig(targets=("value",), series_col="id", input_length=48, horizon=8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    config = ForecastConfig(data, ModelConfig(hidden_size=32),
                            TrainConfig(max_epochs=1, batch_size=1024, epoch_windows=200_000))
    start = time.perf_counter()
    forecaster = Forecaster(config).fit(frame)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": case, "rows": len(frame), "train_windows": forecaster.meta_["n_windows"]["train"],
            "frame_mb": frame.memory_usage(deep=True).sum() / 2**20, "peak_mb_before_fit": before,
            "peak_mb": peak, "fit_seconds": seconds}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--case":
        print(json.dumps(run(sys.argv[2])))
        return
    print(f"{'case':<8} {'rows':>11} {'train windows':>14} {'frame MB':>9} {'peak MB (data only)':>20} "
          f"{'peak MB':>8} {'fit s':>7}")
    for case in ("long", "many"):
        out = subprocess.run([sys.executable, __file__, "--case", case], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['case']:<8} {r['rows']:>11,} {r['train_windows']:>14,} {r['frame_mb']:>9.0f} "
              f"{r['peak_mb_before_fit']:>20.0f} {r['peak_mb']:>8.0f} {r['fit_seconds']:>7.1f}")


if __name__ == "__main__":
    main()
