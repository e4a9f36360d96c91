"""Running trials: each applies one set of overrides to the base configuration, trains with
:class:`~lstmcast.forecaster.Forecaster` and reports its validation loss every epoch to the
pruner; the study's state is summarised as a :class:`TuneResult`."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lstmcast.config import ForecastConfig
from lstmcast.errors import ConfigError, require
from lstmcast.forecaster import Forecaster
from lstmcast.training.loop import Callback, EpochRecord, FitResult, LoopState
from lstmcast.tuning.space import DEFAULT_SPACE, Param, config_value, toml_value
from lstmcast.tuning.storage import storage_label_of

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial, Trial

__all__ = ["WORKER", "PruningCallback", "TrialRow", "TuneResult", "fail_dead_trials", "trial_row", "tune"]

WORKER = f"{socket.gethostname()}:{os.getpid()}"


class PruningCallback(Callback):
    """Reports each epoch's validation loss to the trial and stops training cleanly (through
    ``state.stop_requested``, keeping the best weights) when the pruner says so."""

    def __init__(self, trial: Trial) -> None:
        self.trial = trial
        self.pruned_at: int | None = None

    def on_epoch_end(self, state: LoopState, record: EpochRecord) -> None:
        value = record.val_loss if record.val_loss is not None else record.train_loss
        self.trial.report(value if math.isfinite(value) else math.inf, step=record.epoch)
        if self.trial.should_prune():
            self.pruned_at = record.epoch
            state.stop_requested = "pruned"


@dataclass(frozen=True)
class TrialRow:
    """One finished trial, as the live table shows it."""

    number: int
    state: str
    value: float | None
    best_value: float | None
    best_number: int | None
    epochs: int | None
    seconds: float | None
    params: dict[str, Any]
    note: str = ""


@dataclass
class TuneResult:
    """What :func:`tune` found: the study's best trial (over all workers), and the base
    configuration's own score when the study ran it (the first trial of a new study)."""

    study_name: str
    storage: str
    n_trials: int
    states: dict[str, int]
    best_number: int | None
    best_value: float | None
    best_params: dict[str, Any]
    best_config: ForecastConfig | None
    baseline_number: int | None
    baseline_value: float | None
    trials_here: int
    seconds: float
    space: tuple[Param, ...] = field(default=())
    running: int = 0
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """No trial of the study is still running (in any worker): the best trial is final."""
        return self.running == 0

    def summary(self) -> dict[str, Any]:
        improvement = None
        if self.baseline_value and self.best_value is not None and math.isfinite(self.baseline_value):
            improvement = 1.0 - self.best_value / self.baseline_value
        return {
            "study": self.study_name,
            "storage": self.storage,
            "n_trials": self.n_trials,
            "states": self.states,
            "trials_run_here": self.trials_here,
            "seconds": round(self.seconds, 3),
            "objective": "best validation loss of the trial (scaled units, same validation windows in every trial)",
            "best": {"trial": self.best_number, "value": self.best_value, "params": self.best_params,
                     "config": self.best_config.to_dict() if self.best_config else None},
            "baseline": {"trial": self.baseline_number, "value": self.baseline_value,
                         "improvement": improvement},
            "space": [p.to_dict() for p in self.space],
            "complete": self.complete,
            "running_trials": self.running,
            "notes": list(self.notes),
        }


def tune(frame: Any, base: ForecastConfig, study: Study, *, space: Sequence[Param] = DEFAULT_SPACE,
         n_trials: int = 30, timeout: float | None = None, source: str = "the data",
         on_trial: Callable[[TrialRow], None] | None = None, include_baseline: bool = True) -> TuneResult:
    """Run trials in this process until ``study`` holds ``n_trials`` trials (from all workers)
    or ``timeout`` seconds have passed; no trial starts after the timeout.

    A trial that raises is recorded as FAIL (its ``error`` user attribute says why) and the
    study goes on; a pruned trial stops at the end of its epoch and its model is freed. A new
    study runs the base configuration first (``include_baseline``), so the best trial is never
    worse than it and the summary can say by how much it improved.
    """
    optuna = require("optuna", "tune")
    if (base.data.val_fraction <= 0) if base.data.uses_fractions else base.data.validation_steps <= 0:
        raise ConfigError("Tuning scores trials on the validation part: keep data.val_steps > 0 (default: the "
                          "horizon) or, with fractions, set data.val_fraction > 0 (e.g. 0.1).")
    if n_trials < 1:
        raise ConfigError(f"The number of trials must be at least 1; got {n_trials}.")
    space = tuple(space)
    check_study_matches(study, base, space)
    notes = _enqueue_baseline(study, base, space) if include_baseline else []
    started = time.monotonic()
    objective = _objective(frame, base, space, source)

    def report(study: Study, frozen: FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(trial_row(study, frozen))

    ran = 0
    while True:
        fail_dead_trials(study)
        if len(study.get_trials(deepcopy=False)) >= n_trials:
            break
        if timeout is not None and time.monotonic() - started >= timeout:
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
            study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[report])
        ran += 1
        gc.collect()
        _empty_cuda_cache()
    return _result(study, base, space, ran, time.monotonic() - started, notes)


def _enqueue_baseline(study: Study, base: ForecastConfig, space: tuple[Param, ...]) -> list[str]:
    """Enqueue the base configuration as the first trial of a new study; a note (and a warning)
    when it lies outside the space."""
    values = {p.key: config_value(base, p.key) for p in space}
    outside = [p for p in space if not p.contains(values[p.key])]
    if outside:
        note = ("the base configuration lies outside the search space ("
                + "; ".join(f"{p.key} = {toml_value(values[p.key])}, space {p.describe().partition(': ')[2]}"
                            for p in outside)
                + "), so the study has no baseline trial to compare with; widen --space or change the base "
                "with --set to include it")
        warnings.warn(note, UserWarning, stacklevel=3)
        return [note]
    if not study.get_trials(deepcopy=False):
        study.enqueue_trial(values, user_attrs={"baseline": True}, skip_if_exists=True)
    return []


def _objective(frame: Any, base: ForecastConfig, space: tuple[Param, ...],
               source: str) -> Callable[[Trial], float]:
    optuna = require("optuna", "tune")

    def objective(trial: Trial) -> float:
        trial.set_user_attr("worker", WORKER)
        params = {p.key: p.suggest(trial) for p in space}
        callback = PruningCallback(trial)
        try:
            # scored on validation, by one network unless the space searches the ensemble size
            trial_only = {"train.final_fit": "none", **({} if "model.ensemble" in params else {"model.ensemble": 1})}
            config = base.with_overrides({**params, **trial_only})
            forecaster = Forecaster(config).fit(frame, callbacks=[callback], source=source)
            result: FitResult | None = forecaster.history_
            del forecaster  # the network, optimiser and windows go with it
            if result is None:  # pragma: no cover - fit always records its history
                raise RuntimeError("the fit recorded no history")
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise
        trial.set_user_attr("epochs", len(result.history))
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("seconds", round(result.seconds, 3))
        if callback.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {callback.pruned_at}")
        return float(result.best_loss)

    return objective


def _result(study: Study, base: ForecastConfig, space: tuple[Param, ...], ran: int, seconds: float,
            notes: list[str]) -> TuneResult:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    states = {s.name: sum(t.state == s for t in trials) for s in TrialState if any(t.state == s for t in trials)}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = _best(complete)
    baseline = next((t for t in complete if t.user_attrs.get("baseline")), None)
    return TuneResult(
        study_name=study.study_name, storage=storage_label_of(study), n_trials=len(trials), states=states,
        best_number=best.number if best else None, best_value=best.value if best else None,
        best_params=dict(best.params) if best else {},
        best_config=base.with_overrides(dict(best.params)) if best else None,
        baseline_number=baseline.number if baseline else None, baseline_value=baseline.value if baseline else None,
        trials_here=ran, seconds=seconds, space=space,
        running=sum(t.state == TrialState.RUNNING for t in trials), notes=tuple(notes),
    )


def _best(complete: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The complete trial of the lowest value (complete trials always have one)."""
    return min(complete, key=lambda t: math.inf if t.value is None else t.value) if complete else None


def trial_row(study: Study, frozen: FrozenTrial) -> TrialRow:
    """A finished trial as a row of the live table, next to the study's best so far."""
    from optuna.trial import TrialState

    best = _best(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    attrs = frozen.user_attrs
    note = attrs.get("error", "")
    if frozen.state == TrialState.PRUNED:
        note = f"pruned at epoch {attrs.get('epochs', '?')}"
    elif attrs.get("baseline"):
        note = "base configuration"
    value = frozen.value if frozen.state == TrialState.COMPLETE else (
        frozen.intermediate_values[max(frozen.intermediate_values)] if frozen.intermediate_values else None)
    return TrialRow(frozen.number, frozen.state.name, value, best.value if best else None,
                    best.number if best else None, attrs.get("epochs"), attrs.get("seconds"), dict(frozen.params), note)


def fail_dead_trials(study: Study) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker process, on this host, no longer exists (a
    worker killed mid-trial); returns their numbers. Other hosts' trials are left to the RDB
    heartbeat (a journal file has none: restart a worker on that host, or leave them)."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        worker_host, _, pid = worker.rpartition(":")
        if worker_host != host or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        with contextlib.suppress(RuntimeError, ValueError):  # another worker got there first
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            failed.append(trial.number)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def check_study_matches(study: Study, base: ForecastConfig, space: tuple[Param, ...]) -> None:
    """Workers of one study must search the same space from the same base configuration."""
    ignore = {"train.device", "train.threads"}
    flat = {f"{s}.{k}": v for s, values in base.to_dict().items() for k, v in values.items()
            if f"{s}.{k}" not in ignore}
    mine = {"base": flat, "space": [p.to_dict() for p in space]}
    theirs = study.user_attrs.get("lstmcast")
    if theirs is None:
        study.set_user_attr("lstmcast", mine)
        return
    if theirs.get("space") != mine["space"]:
        raise ConfigError(
            f"Study {study.study_name!r} searches another space; every worker must use the same --space "
            "file (or none). Use another --study name for a different space."
        )
    changed = sorted(k for k in set(flat) | set(theirs.get("base", {})) if flat.get(k) != theirs["base"].get(k))
    if changed:
        raise ConfigError(
            f"Study {study.study_name!r} was started from another base configuration (differs in "
            f"{', '.join(changed)}); give every worker the same --config, --set and data options, "
            "or use another --study name."
        )
