"""Every model variant on the demo task and on a real multivariate series (ETTh1).

Prints, per variant: test RMSE / MAE in original units, epochs and training time. On the demo
(noisy sine, noise std 0.1) the figure to compare with is the noise floor 0.1; on ETTh1 (target
OT, the six load columns as past covariates, input 96, horizon 24, hourly) the naive and
seasonal-naive baselines. Usage:

    .venv/bin/python benchmarks/variants.py [--only demo|ett] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lstmcast.models.variants import VARIANTS

# settings for ETTh1 beyond the shared list (lstmcast.models.variants): patches of a day
ETT_ONLY = {
    "patches of 24 + instance norm": {"model.patch_length": 24, "model.normalization": "last"},
}


def overrides_for(name: str, targets: list[str], features: list[str], dated: bool) -> dict | None:
    """The shared variant's overrides on a task with these columns; None when the task lacks what
    it needs (future covariates on both tasks; several targets or a time column on the demo)."""
    variant = VARIANTS[name]
    if "future" in variant.needs or ("targets" in variant.needs and len(targets) < 2) \
            or ("time" in variant.needs and not dated) or ("past" in variant.needs and not features):
        return None
    overrides = dict(variant.overrides)
    if "no-past" in variant.needs:
        overrides["data.features"] = []
    if "targets" in variant.needs:
        overrides["data.targets"] = targets
    return overrides


def run(frame, base, overrides, name, rows):
    from lstmcast import Forecaster

    config = base.with_overrides(overrides)
    start = time.perf_counter()
    forecaster = Forecaster(config).fit(frame)
    seconds = time.perf_counter() - start
    scores = forecaster.evaluate(frame)
    target = config.data.targets[0]
    metrics = scores["per_target"][target] if "per_target" in scores else scores["metrics"]
    rows.append((name, metrics["rmse"], metrics["mae"], len(forecaster.history_.history), seconds,
                 scores.get("probabilistic", {}).get("coverage_0.1_0.9")))
    return scores


def table(title, rows, reference):
    print(f"\n{title}")
    print(f"{'variant':<36} {'RMSE':>8} {'MAE':>8} {'epochs':>6} {'train s':>8} {'80% cover':>9}")
    for name, rmse, mae, epochs, seconds, cover in rows:
        cov = f"{cover:.3f}" if cover is not None else ""
        print(f"{name:<36} {rmse:>8.4f} {mae:>8.4f} {epochs:>6} {seconds:>8.1f} {cov:>9}")
    for name, values in reference.items():
        print(f"{name:<36} {values['rmse']:>8.4f} {values['mae']:>8.4f}")


def demo():
    from lstmcast import DataConfig, ForecastConfig
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(1000, 0.1, seed=0)
    base = ForecastConfig(DataConfig(targets=("value",), input_length=20))
    rows = []
    for name in VARIANTS:
        overrides = overrides_for(name, ["value"], [], dated=False)
        if overrides is not None:
            scores = run(frame, base, overrides, name, rows)
    reference = {"naive": scores["baselines"]["naive"], "noise floor": {"rmse": 0.1, "mae": 0.0798}}
    table("Demo task: noisy sine, L=20, H=1, test = last 200 points", rows, reference)


def ett(data_dir: Path):
    import pandas as pd

    from lstmcast import DataConfig, ForecastConfig, TrainConfig

    frame = pd.read_csv(data_dir / "ETTh1.csv").iloc[:14400]  # the standard 12/4/4 months
    features = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL")
    base = ForecastConfig(DataConfig(targets=("OT",), features=features, time_col="date", input_length=96,
                                     horizon=24, val_fraction=0.2, test_fraction=0.2),
                          train=TrainConfig(max_epochs=15, batch_size=64, patience=4))
    rows = []
    every = {name: overrides_for(name, ["OT", *features], list(features), dated=True) for name in VARIANTS}
    for name, overrides in {**every, **ETT_ONLY}.items():
        if overrides is not None:
            scores = run(frame, base, overrides, name, rows)
    table("ETTh1: target OT (+6 covariates), L=96, H=24, test = last 20% (rows 11520..14399)", rows,
          scores["baselines"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["demo", "ett"])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    if args.only in (None, "demo"):
        demo()
    if args.only in (None, "ett"):
        ett(args.data_dir)


if __name__ == "__main__":
    main()
