"""Regenerate the pictures of the docs site (docs/img/*.png except the lstm_* ones).

    .venv/bin/python docs/make_figures.py                 # into docs/img (about a minute on 2 cores)
    .venv/bin/python docs/make_figures.py --quick --out runs/figures   # tiny models, for tests

Every picture is drawn by lstmcast's own plotting functions from seeded runs on generated data
(`shops`: hourly sales of 8 shops, daily and weekly seasonality, seed 0), so the script runs
anywhere. Each figure's caption in the docs names the function that draws it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcast import DataConfig, ForecastConfig, Forecaster, ModelConfig, TrainConfig
from lstmcast.plotting import plot_backtest, plot_loss

IMG = Path(__file__).resolve().parent / "img"


def shops(n_shops: int = 8, n_hours: int = 24 * 42, seed: int = 0) -> pd.DataFrame:
    """Hourly sales of ``n_shops`` shops in long format: columns date, shop, sales."""
    rng = np.random.default_rng(seed)
    hours = np.arange(n_hours)
    times = pd.date_range("2026-01-05", periods=n_hours, freq="h")
    parts = []
    for k in range(n_shops):
        level = 40 + 15 * k
        daily = np.clip(np.sin(2 * np.pi * (hours % 24 - 8) / 24), 0, None) * (20 + 3 * k)
        weekly = np.where(times.day_of_week >= 5, 0.6 + 0.1 * (k % 3), 1.0)
        noise = rng.normal(0, 2 + 0.3 * k, n_hours)
        parts.append(pd.DataFrame({"date": times, "shop": f"shop {k + 1}",
                                   "sales": level * 0.3 + daily * weekly + noise}))
    return pd.concat(parts, ignore_index=True)


def config(quick: bool, series_col: str | None = "shop", head: str = "quantile",
           max_epochs: int = 40) -> ForecastConfig:
    return ForecastConfig(
        data=DataConfig(targets=("sales",), series_col=series_col, input_length=72,
                        horizon=24),
        model=ModelConfig(hidden_size=8 if quick else 32, head=head, normalization="mean",
                          quantiles=(0.1, 0.5, 0.9) if head == "quantile" else (0.5,)),
        train=TrainConfig(max_epochs=2 if quick else max_epochs, patience=5, seed=0, learning_rate=3e-3),
    )


def forecast_figures(out: Path, quick: bool) -> dict[str, Path]:
    frame = shops(n_hours=24 * 14 if quick else 24 * 42)
    forecaster = Forecaster(config(quick)).fit(frame)
    forecast = forecaster.predict(frame)
    paths = {
        "forecast": out / "forecast.png",         # one series: Forecast.plot(history, series=...)
        "forecast_grid": out / "forecast_grid.png",  # many series: a grid of the first six
        "scored": out / "forecast_scored.png",    # forecast.png of train/evaluate
        "loss": out / "loss.png",
    }
    forecast.plot(frame, paths["forecast"], series="shop 3")
    forecast.plot(frame, paths["forecast_grid"])
    forecaster.historical_forecasts(frame).plot(path=paths["scored"], series="shop 3")
    plot_loss(forecaster.history_.history_rows(), paths["loss"])
    return paths


def backtest_figure(out: Path, quick: bool) -> dict[str, Path]:
    frame = shops(n_shops=1, n_hours=24 * 14 if quick else 24 * 28).drop(columns="shop")
    result = Forecaster(config(quick, series_col=None, max_epochs=20)).backtest(frame, folds=3, step=24)
    path = out / "backtest.png"
    plot_backtest(result, path)
    return {"backtest": path}


def tune_figures(out: Path, quick: bool) -> dict[str, Path]:
    from lstmcast import tuning

    frame = shops(n_shops=1, n_hours=24 * 14 if quick else 24 * 28).drop(columns="shop")
    base = config(quick, series_col=None, head="point", max_epochs=12)
    study_dir = tempfile.mkdtemp(prefix="lstmcast-figures-")  # a fresh study each run
    study = tuning.open_study(None, "figures", out_dir=study_dir, max_epochs=base.train.max_epochs)
    space = tuning.parse_space({
        "model.hidden_size": {"type": "int", "low": 8, "high": 64, "log": True},
        "train.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "data.input_length": {"type": "categorical", "choices": [24, 48, 72]},
    }, base=base)
    tuning.tune(frame, base, study, space=space, n_trials=3 if quick else 14)
    paths, notes = tuning.write_plots(study, out)
    for note in notes:
        print(note)
    shutil.rmtree(study_dir, ignore_errors=True)
    names = {"history_plot": "tune_history.png", "importances_plot": "tune_importances.png",
             "learning_curves_plot": "tune_curves.png"}
    renamed = {}
    for key, path in paths.items():
        target = out / names[key]
        Path(path).replace(target)
        renamed[key.removesuffix("_plot")] = target
    return renamed


def main(argv: list[str] | None = None) -> dict[str, Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=IMG, help="folder for the PNGs (default docs/img)")
    parser.add_argument("--quick", action="store_true", help="tiny models: seconds, for tests")
    parser.add_argument("--only", choices=["forecast", "backtest", "tune"], action="append",
                        help="make only these groups (repeatable)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    groups = {"forecast": forecast_figures, "backtest": backtest_figure, "tune": tune_figures}
    written: dict[str, Path] = {}
    for name, make in groups.items():
        if args.only and name not in args.only:
            continue
        start = time.process_time()
        paths = make(args.out, args.quick)
        written.update(paths)
        print(f"{name}: {', '.join(p.name for p in paths.values())} ({time.process_time() - start:.1f} CPU-s)")
    return written


if __name__ == "__main__":
    main()
