"""Hyper-parameter search with Optuna over config overrides (``pip install 'lstmcast[tune]'``).

    study = open_study(None, "lstmcast", out_dir="runs/tune")          # a journal file in the dir
    result = tune(frame, base_config, study, n_trials=30)               # -> TuneResult
    write_results(study, result, "runs/tune")                           # config.toml, trials.csv, plots

Each trial applies one set of overrides (``{"model.hidden_size": 96, ...}``) to a base
:class:`~lstmcast.config.ForecastConfig`, trains with :class:`~lstmcast.forecaster.Forecaster`
and reports the validation loss after every epoch to the pruner (median by default, or
hyperband); the objective is the trial's best validation loss, in the scaled units of the
training loss.

**Why trials are comparable.** Every trial is scored on the same validation windows: a window
belongs to the split that holds its *targets* (its inputs may reach back into the training
part), so ``data.input_length`` changes what a model sees, not what it is scored on, as long as
it stays below the length of the training part. The scaler is fitted on the same training rows
in every trial. Keys that would change what the loss measures (targets, horizon, scaler, split
fractions, head) cannot be searched: compare those with separate studies.

**Many workers, one study.** Every ``tune`` call that opens the same storage and study name
works on the same study (trial numbers are handed out by the storage). ``n_trials`` is the size
of the study, counted over all workers. The default storage is a journal file in the output
directory (processes on one machine, or on machines sharing an NFS directory); an RDB URL
(``postgresql+psycopg://user:password@host/db`` with ``pip install 'lstmcast[tune-postgres]'``)
serves workers on many machines; workers started at once on a fresh database all join (schema
creation is serialised and retried). Each trial records
its worker (``host:pid``); a trial left RUNNING by a worker that died is marked FAIL by the next
worker on the same host (and, for RDB storages, by a heartbeat on any host).

Modules: :mod:`~lstmcast.tuning.space` (what is searched), :mod:`~lstmcast.tuning.storage`
(where the study lives, sampler, pruner), :mod:`~lstmcast.tuning.trials` (running trials),
:mod:`~lstmcast.tuning.results` (files on disk). Every name is importable from
``lstmcast.tuning``.
"""

from lstmcast.forecaster import Forecaster
from lstmcast.tuning.results import output_lock, write_plots, write_results
from lstmcast.tuning.space import (
    DEFAULT_SPACE,
    NOT_SEARCHABLE,
    PARAM_TYPES,
    Param,
    config_value,
    load_space,
    parse_space,
)
from lstmcast.tuning.storage import (
    GRACE_SECONDS,
    HEARTBEAT_SECONDS,
    JOURNAL_NAME,
    PRUNERS,
    make_pruner,
    open_storage,
    open_study,
    storage_label,
)
from lstmcast.tuning.trials import (
    WORKER,
    PruningCallback,
    TrialRow,
    TuneResult,
    fail_dead_trials,
    tune,
)

__all__ = [
    "DEFAULT_SPACE",
    "GRACE_SECONDS",
    "HEARTBEAT_SECONDS",
    "JOURNAL_NAME",
    "NOT_SEARCHABLE",
    "PARAM_TYPES",
    "PRUNERS",
    "WORKER",
    "Forecaster",
    "Param",
    "PruningCallback",
    "TrialRow",
    "TuneResult",
    "config_value",
    "fail_dead_trials",
    "load_space",
    "make_pruner",
    "open_storage",
    "open_study",
    "output_lock",
    "parse_space",
    "storage_label",
    "tune",
    "write_plots",
    "write_results",
]
