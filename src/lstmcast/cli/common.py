"""Shared pieces of the command line: errors, output, progress, config options."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmcast.errors import LstmcastError

if TYPE_CHECKING:
    import rich.progress

    from lstmcast.training.callbacks import Callback as _ProgressBase
else:  # the fit loop's hook base, imported for the type checker only: it would load torch at start-up
    _ProgressBase = object

EXIT_USAGE = 2


class CommandError(LstmcastError):
    """A problem with the command line itself."""


# ---------------------------------------------------------------------------- output
def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit_json(payload: dict[str, Any]) -> None:
    from lstmcast._json import jsonable

    print(json.dumps(jsonable(payload), indent=2, sort_keys=False))


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else "nan"
    return str(value)


def print_scores(scores: dict[str, Any], extra_rows: Sequence[tuple[str, dict[str, float]]] = (),
                 title: str = "Test metrics (original units)") -> None:
    from rich.console import Console
    from rich.table import Table

    names = list(scores["metrics"])
    table = Table(title=title, caption=f"{scores['n_windows']} windows, horizon {scores['horizon']}")
    table.add_column("model")
    for n in names:
        table.add_column(n.upper(), justify="right")
    table.add_row("lstm", *[format_value(scores["metrics"][n]) for n in names])
    for name, values in scores.get("baselines", {}).items():
        table.add_row(name, *[format_value(values.get(n, float("nan"))) for n in names])
    for name, values in extra_rows:
        table.add_row(name, *[format_value(values.get(n, float("nan"))) if n in values else "" for n in names])
    Console().print(table)
    if "probabilistic" in scores:
        Console().print("probabilistic: " + ", ".join(f"{k}={format_value(v)}" for k, v in scores["probabilistic"].items()))
    for name, why in scores.get("baselines_missing", {}).items():
        print(f"{name}: not scored: {why}.")
    for line in baseline_verdicts(scores):
        print(line)


def baseline_verdicts(scores: dict[str, Any], metric: str = "mae") -> list[str]:
    """Plain sentences when a baseline beats the model on ``metric`` (empty when none does)."""
    model = scores.get("metrics", {}).get(metric)
    lines = []
    for name, values in scores.get("baselines", {}).items():
        other = values.get(metric)
        if model is not None and other is not None and math.isfinite(model) and other < model:
            lines.append(f"The model loses to {name} on {metric.upper()} ({model:.4g} vs {other:.4g}): "
                         "prefer the baseline for these data, or try a longer input_length, more data or "
                         "model.ensemble=5.")
    return lines


class Progress(_ProgressBase):
    """Fit-loop callback: a rich progress bar on a terminal, plain log lines otherwise (CI). It
    defines the hooks it uses; the loop skips those it lacks (``on_batch_end``)."""

    def __init__(self, enabled: bool = True, every: int = 10) -> None:
        self.enabled, self.every = enabled, every
        self._bar: rich.progress.Progress | None = None

    def on_fit_start(self, state: Any) -> None:
        if not self.enabled:
            return
        self.max_epochs = state.config.max_epochs
        if sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            bar = Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                           TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                           TextColumn("{task.fields[eta]}"), transient=False, redirect_stdout=False)
            self._bar = bar
            bar.start()
            self._task = bar.add_task("train", total=self.max_epochs, completed=state.epoch, info="",
                                      eta="")

    @staticmethod
    def eta(state: Any) -> str:
        """Time left: the remaining epochs at this run's pace, capped by the time budget."""
        from lstmcast.training.callbacks import eta_seconds

        history = state.result.history
        pace = sum(r.seconds for r in history) / len(history) if history else 0.0
        left = eta_seconds(state.epoch, state.config.max_epochs, pace, state.elapsed, state.config.time_budget)
        return f"eta {int(left // 60)}:{int(left % 60):02d}"

    def on_epoch_end(self, state: Any, record: Any) -> None:
        if not self.enabled:
            return
        val = f" val {record.val_loss:.5f}" if record.val_loss is not None else ""
        info = f"train {record.train_loss:.5f}{val} lr {record.learning_rate:.2g}"
        if self._bar is not None:
            self._bar.update(self._task, completed=record.epoch, info=info, eta=self.eta(state))
        elif record.epoch == 1 or record.epoch % self.every == 0 or (record.best and record.epoch < 5):
            to_stderr(f"epoch {record.epoch:>4}/{self.max_epochs} {info} ({record.seconds * 1000:.0f} ms, "
                      f"{self.eta(state)})")

    def on_event(self, state: Any, message: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(f"[yellow]{message}")
        else:
            to_stderr(message)

    def on_fit_end(self, state: Any, result: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self.enabled:
            to_stderr(f"trained {len(result.history)} epochs in {result.seconds:.1f}s; best epoch "
                      f"{result.best_epoch} (loss {result.best_loss:.5f}); stop: {result.stop_reason}")


# ---------------------------------------------------------------------------- config
def build_config(args: argparse.Namespace, base: Any = None) -> Any:
    from lstmcast.config import ForecastConfig

    config = ForecastConfig.from_toml(args.config) if getattr(args, "config", None) else (base or ForecastConfig())
    overrides: dict[str, Any] = {}
    mapping = {
        "target": "data.targets", "features": "data.features", "future_features": "data.future_features",
        "time_col": "data.time_col", "series_col": "data.series_col", "input_length": "data.input_length",
        "horizon": "data.horizon", "fill": "data.fill", "fill_gaps": "data.fill_gaps", "device": "train.device", "seed": "train.seed",
    }
    for attr, key in mapping.items():
        value = getattr(args, attr, None)
        if value is not None and value != []:
            overrides[key] = tuple(value) if isinstance(value, list) else value
    if getattr(args, "deterministic", False):
        overrides["train.deterministic"] = True
    if getattr(args, "time_budget", None):
        from lstmcast.config import parse_duration

        overrides["train.time_budget"] = parse_duration(args.time_budget)
    config = config.with_overrides(overrides) if overrides else config
    return config.with_overrides(list(getattr(args, "set", None) or []))


def add_data_options(p: argparse.ArgumentParser, with_config: bool = True, data_required: bool = True) -> None:
    p.add_argument("--data", required=data_required, help="CSV or Parquet file (train: or a Parquet dataset directory)")
    p.add_argument("--target", action="append", metavar="COL", help="column to forecast (repeat for several)")
    p.add_argument("--time-col", metavar="COL", help="time column (default: one named date/time/timestamp/ds)")
    p.add_argument("--series-col", metavar="COL", help="series id column for many series in long format")
    p.add_argument("--features", nargs="+", metavar="COL", help="past covariates (known up to the forecast origin)")
    p.add_argument("--future-features", nargs="+", metavar="COL",
                   help="known-future covariates (their horizon values are needed at predict time)")
    p.add_argument("--input-length", type=int, metavar="L", help="past steps per window (data.input_length)")
    p.add_argument("--horizon", type=int, metavar="H", help="steps to forecast (data.horizon)")
    p.add_argument("--fill", choices=["ffill", "interpolate", "drop"], help="how to treat missing values")
    p.add_argument("--fill-gaps", action="store_true", default=None,
                   help="also add missing timestamps of a regular series, filled by --fill (data.fill_gaps)")
    if with_config:
        p.add_argument("--config", metavar="FILE.toml", help="config file (sections data, model, train)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config key, e.g. --set model.hidden_size=128 (repeatable)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="auto (default: CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms (slower)")
    p.add_argument("--time-budget", metavar="DURATION", help="stop cleanly after e.g. 90s, 5m, 1h")
    p.add_argument("--quiet", action="store_true", help="no progress output")


# ---------------------------------------------------------------------------- commands
def plot_writers(forecaster: Any, hist_forecast: Any) -> dict[str, Callable[[Path], None]]:
    """The pictures of a training run, by file name: each writer draws its PNG at the path given."""
    from lstmcast.plotting import plot_forecast, plot_loss

    writers: dict[str, Callable[[Path], None]] = {}
    if forecaster.history_ is not None and forecaster.history_.history:
        rows = forecaster.history_.history_rows()

        def loss_png(path: Path) -> None:
            plot_loss(rows, path)

        writers["loss.png"] = loss_png
    if hist_forecast is not None:

        def forecast_png(path: Path) -> None:
            plot_forecast(hist_forecast, path)

        writers["forecast.png"] = forecast_png
    return writers


def align_columns(frame: Any, forecaster: Any, args: argparse.Namespace) -> Any:
    """Rename the file's time / series columns (--time-col, --series-col) to the model's names."""
    d = forecaster.config_.data
    for flag, given, expected in (("--series-col", args.series_col, d.series_col),
                                  ("--time-col", args.time_col, d.time_col)):
        if given is None or given == expected:
            continue
        if flag == "--series-col" and expected is None:
            raise CommandError(f"{flag} {given!r}: this model was trained on a single series; drop {flag}.")
        if given not in frame.columns:
            raise CommandError(f"{flag} {given!r} is not a column of the data; columns are: "
                               f"{', '.join(repr(str(c)) for c in frame.columns)}.")
        frame = frame.rename(columns={given: expected}) if expected else frame
    return frame


def print_rows(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 or name in ("source", "origin") else "right")
    for row in rows:
        table.add_row(*["" if v is None else format_value(v) for v in row])
    Console().print(table)



def records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as plain JSON-able dicts (pandas NA -> None, numpy scalars -> Python)."""
    import pandas as pd

    return [{str(k): (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict("records")]


def write_csv_atomic(frame: Any, path: Path) -> None:
    """Write a CSV through a temporary file in the same folder and a rename."""
    from lstmcast._json import atomic_path

    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def derived_settings(forecaster: Any) -> dict[str, Any]:
    """The settings the fit derived from the data because the config left them unset."""
    given, used, out = forecaster.config, forecaster.config_, {}
    if given.data.input_length is None:
        out["input_length"] = used.data.input_length
    if given.model.patch_length is None:
        out["patch_length"] = used.model.patch_length
    if given.model.seasonal_skip is None:
        out["seasonal_skip"] = used.model.seasonal_skip
        out["seasonal_strength"] = forecaster.meta_.get("seasonal_strength", {})
    if given.model.theta_weight is None or given.model.ets_weight is None:
        out["theta_weight"] = forecaster.meta_.get("theta") or {"weight": used.model.theta_weight,
                                                                "ets_weight": used.model.ets_weight}
    return out


def derived_line(derived: dict[str, Any]) -> str | None:
    from lstmcast.defaults import SKIP_RATIO

    parts = [f"{key} {derived[key]}" for key in ("input_length", "patch_length") if key in derived]
    if "seasonal_skip" in derived:
        strength = ", ".join(f"{r} at period {p}" for p, r in derived["seasonal_strength"].items())
        parts.append(f"seasonal_skip {derived['seasonal_skip']}"
                     + (f" (seasonal strength {strength}; the skip is taken at <= {SKIP_RATIO})" if strength else ""))
    if "theta_weight" in derived:
        parts.append(theta_words(derived["theta_weight"]))
    return f"Derived from the data: {'; '.join(parts)}." if parts else None


def theta_words(choice: dict[str, Any]) -> str:
    """``theta_weight 0.4, ets_weight 0.2 (validation MAE / mean step: network 0.61, Theta 0.70,
    ETS 0.66, combined 0.55)``."""
    text = f"theta_weight {choice.get('weight', 0.0):g}, ets_weight {choice.get('ets_weight', 0.0):g}"
    scores = choice.get("scaled_mae")
    if scores:
        ets = f"ETS {scores['ets']:.3g}, " if "ets" in scores else ""
        return text + (f" (validation MAE / mean step: network {scores['network']:.3g}, Theta {scores['theta']:.3g}, "
                       f"{ets}combined {scores['combined']:.3g})")
    return text + (f" ({choice['reason']})" if choice.get("reason") else "")
