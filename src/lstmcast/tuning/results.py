"""A study's results on disk: the best configuration as TOML, every trial as CSV, a JSON
summary and the plots, each written whole and renamed into place (workers share the directory)."""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmcast._json import atomic_path, jsonable, write_text_atomic
from lstmcast.errors import require
from lstmcast.tuning.trials import TuneResult

if TYPE_CHECKING:
    import optuna

__all__ = ["output_lock", "write_plots", "write_results", "write_text_atomic"]


def write_results(study: optuna.study.Study, result: TuneResult, out_dir: str | Path,
                  extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Write ``config.toml`` (the best configuration, ready for ``lstmcast train --config``),
    ``trials.csv``, ``summary.json`` and PNG plots into ``out_dir``; returns the paths.

    Each file is written whole and renamed into place, so workers sharing the directory never
    leave a half-written file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    if result.best_config is not None:
        header = (f"# lstmcast tune: best trial {result.best_number} of study {result.study_name!r}, "
                  f"validation loss {result.best_value:.6g} (scaled units).\n"
                  f"# Train it with: lstmcast train --config config.toml --data ... --out ...\n\n")
        write_text_atomic(out / "config.toml", header + result.best_config.to_toml())
        paths["config"] = str(out / "config.toml")
    frame = study.trials_dataframe(attrs=("number", "value", "state", "datetime_start", "datetime_complete",
                                          "duration", "params", "user_attrs"))
    with atomic_path(out / "trials.csv") as tmp:
        frame.to_csv(tmp, index=False)
    paths["trials"] = str(out / "trials.csv")
    plots, notes = write_plots(study, out)
    paths.update(plots)
    summary = {**result.summary(), **(dict(extra) if extra else {}), "plot_notes": notes,
               "paths": {**paths, "summary": str(out / "summary.json")}}
    write_text_atomic(out / "summary.json", json.dumps(jsonable(summary), indent=2))
    paths["summary"] = str(out / "summary.json")
    return paths


def write_plots(study: optuna.study.Study, out_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The search history, the learning curves (validation loss per epoch of every trial) and the
    parameter importances, labelled in the project's terms (:mod:`lstmcast.plotting`); a plot that
    cannot be drawn (too few trials) is skipped with a note."""
    require("optuna", "tune")
    import optuna

    from lstmcast import plotting

    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = min(done, key=lambda t: math.inf if t.value is None else t.value).number if done else None
    baseline = next((t.number for t in done if t.user_attrs.get("baseline")), None)
    pruned = [t.number for t in trials if t.state == optuna.trial.TrialState.PRUNED]

    def history(path: Path) -> None:
        rows = [(t.number, t.value if t.value is not None else
                 (min(t.intermediate_values.values()) if t.intermediate_values else None), t.state.name)
                for t in trials]
        plotting.plot_tune_history(rows, path, baseline=baseline)

    def importances(path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = optuna.importance.get_param_importances(study)
        plotting.plot_tune_importances(dict(values), path)

    def curves(path: Path) -> None:
        plotting.plot_tune_curves({t.number: dict(t.intermediate_values) for t in trials}, path, best=best,
                                  pruned=pruned)

    plots = {"history": ("optimization_history.png", history),
             "importances": ("param_importances.png", importances),
             "learning_curves": ("intermediate_values.png", curves)}
    paths, notes = {}, []
    for name, (filename, draw) in plots.items():
        try:
            draw(out_dir / filename)
            paths[f"{name}_plot"] = str(out_dir / filename)
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as exc:
            notes.append(f"{filename} not drawn: {exc}")
    return paths, notes


@contextlib.contextmanager
def output_lock(out_dir: str | Path) -> Iterator[None]:
    """Serialise writers of one output directory (workers of one study on one machine)."""
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: renames keep each file whole anyway
        yield
        return
    with open(path / ".tune.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


