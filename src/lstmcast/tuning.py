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
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import os
import re
import socket
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_type_hints

from lstmcast._json import jsonable
from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig, read_toml
from lstmcast.errors import ConfigError, require
from lstmcast.forecaster import Forecaster
from lstmcast.training.loop import Callback, EpochRecord, LoopState

if TYPE_CHECKING:
    import optuna

PARAM_TYPES = ("int", "float", "categorical")
PRUNERS = ("median", "hyperband", "none")
JOURNAL_NAME = "study.journal"
HEARTBEAT_SECONDS = 30  # RDB storages: a RUNNING trial without a heartbeat for GRACE_SECONDS fails
GRACE_SECONDS = 120

# Keys whose value changes what the validation loss measures; trials over them are not comparable.
NOT_SEARCHABLE = {
    "data.targets": "it changes the series being forecast",
    "data.horizon": "it changes the forecast steps being scored",
    "data.scaler": "the loss is in scaled units, so each scaler measures it differently",
    "data.val_fraction": "it changes the validation windows",
    "data.test_fraction": "it changes the validation windows",
    "data.val_steps": "it changes the validation windows",
    "train.final_fit": "trials are scored before the final fit",
    "data.time_col": "it changes how the data is read",
    "data.series_col": "it changes how the data is read",
    "model.head": "each head has its own loss (squared error, likelihood, pinball)",
    "model.quantiles": "it changes the quantile loss",
    "train.device": "it is a resource, not a hyper-parameter",
    "train.threads": "it is a resource, not a hyper-parameter",
}
_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


# ---------------------------------------------------------------------------- search space
@dataclass(frozen=True)
class Param:
    """One searched config key: ``int`` / ``float`` in [low, high] (optionally ``log`` or with a
    ``step``), or ``categorical`` over ``choices``."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.type == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self.type == "float":
            return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)
        return CategoricalDistribution(list(self.choices))

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        if self.type == "float":
            return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)
        return trial.suggest_categorical(self.key, list(self.choices))

    def contains(self, value: Any) -> bool:
        if self.type == "categorical":
            return any(type(value) is type(c) and value == c for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not self.low <= value <= self.high:
            return False
        return self.step is None or math.isclose((value - self.low) / self.step,
                                                 round((value - self.low) / self.step), abs_tol=1e-9)

    def describe(self) -> str:
        if self.type == "categorical":
            return f"{self.key}: one of {', '.join(_toml(c) for c in self.choices)}"
        extra = " (log scale)" if self.log else f" (step {_toml(self.step)})" if self.step else ""
        return f"{self.key}: {self.type} in [{_toml(self.low)}, {_toml(self.high)}]{extra}"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, False, ())}
        if "choices" in out:
            out["choices"] = list(out["choices"])
        return out


DEFAULT_SPACE: tuple[Param, ...] = (
    Param("model.hidden_size", "int", 16, 128, step=16),  # multiples of 16: any attention_heads <= 16 divide them
    Param("model.num_layers", "int", 1, 3),
    Param("model.dropout", "float", 0.0, 0.5),
    Param("model.bidirectional", "categorical", choices=(False, True)),
    Param("model.attention", "categorical", choices=(False, True)),
    # data.input_length is derived from the data by default (add it to a --space file to search it)
    Param("model.normalization", "categorical", choices=("none", "last", "mean", "standard")),
    Param("train.learning_rate", "float", 1e-4, 1e-2, log=True),
    Param("train.batch_size", "categorical", choices=(16, 32, 64, 128)),
)
"""The default search space (``lstmcast tune`` without ``--space``)."""


def parse_space(raw: Mapping[str, Any], source: str = "the search space",
                base: ForecastConfig | None = None) -> tuple[Param, ...]:
    """Validate a search space given as TOML tables, either nested or dotted::

        [model.hidden_size]                      ["train.learning_rate"]
        type = "int"                             type = "float"
        low = 16                                 low = 1e-4
        high = 128                               high = 1e-2
        log = true                               log = true

        [model.bidirectional]
        type = "categorical"
        choices = [true, false]

    The listed keys *replace* the default space; add ``defaults = true`` at the top to search
    the default space too, with the listed keys overriding its entries. Every value is checked
    against ``base`` (default: ``ForecastConfig()``), so a bad bound fails here, naming its key.
    """
    base = base or ForecastConfig()
    entries: dict[str, Any] = {}
    include_defaults = False
    for name, value in raw.items():
        if name == "defaults":
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: 'defaults' must be true or false; got {value!r}.")
            include_defaults = value
        elif "." in name:
            entries[name] = value
        elif name in _SECTIONS and isinstance(value, Mapping):
            for key, spec in value.items():
                entries[f"{name}.{key}"] = spec
        else:
            raise ConfigError(
                f"{source}: unexpected top-level key {name!r}. Write one table per searched key, "
                'e.g. [model.hidden_size] with type = "int", low = 16, high = 128 (sections: data, '
                "model, train), and optionally defaults = true."
            )
    params = {p.key: p for p in DEFAULT_SPACE} if include_defaults else {}
    for key, spec in entries.items():
        params[key] = _parse_param(key, spec, source, base)
    if not params:
        raise ConfigError(f"{source} lists no keys to search; add e.g. [model.hidden_size] with type, low and high.")
    return tuple(params.values())


def load_space(path: str | Path, base: ForecastConfig | None = None) -> tuple[Param, ...]:
    """Read a search space TOML file (see :func:`parse_space`)."""
    raw = read_toml(path, "Search space file")
    return parse_space(raw, source=f"search space {path}", base=base)


def _parse_param(key: str, spec: Any, source: str, base: ForecastConfig) -> Param:
    where = f"{source}: [{key}]"
    section, _, name = key.partition(".")
    klass = _SECTIONS.get(section)
    valid = {f.name for f in fields(klass)} if klass else set()
    if klass is None or name not in valid:
        hint = f"valid keys in [{section}]: {', '.join(sorted(valid))}" if klass else "sections are data, model, train"
        raise ConfigError(f"{where} is not a config key; {hint}.")
    if key in NOT_SEARCHABLE:
        raise ConfigError(
            f"{where} cannot be searched: {NOT_SEARCHABLE[key]}, so trials would not be comparable. "
            f"Fix it with --set {key}=VALUE and run one study per value."
        )
    if not isinstance(spec, Mapping):
        raise ConfigError(f'{where} must be a table such as type = "int", low = 16, high = 128; got {spec!r}.')
    unknown = set(spec) - {"type", "low", "high", "log", "step", "choices"}
    if unknown:
        raise ConfigError(f"{where} has unknown field(s) {sorted(unknown)}; use type, low, high, log, step, choices.")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise ConfigError(f"{where} type must be one of {', '.join(PARAM_TYPES)}; got {kind!r}.")
    hint = get_type_hints(klass)[name]
    if kind == "categorical":
        extra = set(spec) - {"type", "choices"}
        choices = spec.get("choices")
        if extra:
            raise ConfigError(f"{where} is categorical: give only choices = [...], not {sorted(extra)}.")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where} needs choices = [a, b, ...], a non-empty list; got {choices!r}.")
        if any(not isinstance(c, (bool, int, float, str)) for c in choices):
            raise ConfigError(f"{where} choices must be numbers, strings or booleans; got {choices!r}.")
        if len({(type(c), c) for c in choices}) != len(choices):
            raise ConfigError(f"{where} lists a choice twice: {choices!r}.")
        param = Param(key, kind, choices=tuple(choices))
        for choice in choices:
            _check_value(base, param, "choice", choice, where)
        return param
    if hint not in (int, float) and hint != (float | None):
        raise ConfigError(f'{where} is not numeric; search it with type = "categorical" and choices = [...].')
    if kind == "float" and hint is int:
        raise ConfigError(f'{where} takes whole numbers; use type = "int".')
    missing = [f for f in ("low", "high") if f not in spec]
    if missing:
        raise ConfigError(f"{where} needs {' and '.join(missing)} for type = {kind!r}.")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    number = int if kind == "int" else (int, float)
    for label, value in (("low", low), ("high", high)) + ((("step", step),) if step is not None else ()):
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            what = "an integer" if kind == "int" else "a finite number"
            raise ConfigError(f"{where} {label} must be {what}; got {value!r}.")
    if not isinstance(log, bool):
        raise ConfigError(f"{where} log must be true or false; got {log!r}.")
    if low > high:
        raise ConfigError(f"{where} low ({low}) must not exceed high ({high}).")
    if step is not None and step <= 0:
        raise ConfigError(f"{where} step must be positive; got {step!r}.")
    if log and step is not None and step != 1:
        raise ConfigError(f"{where} cannot have both log = true and a step; drop one of them.")
    if log and low <= 0:
        raise ConfigError(f"{where} log = true needs low > 0; got low = {low}.")
    param = Param(key, kind, low, high, log=log, step=None if (step is None or (kind == "int" and step == 1)) else step)
    _check_value(base, param, "low", low, where)
    _check_value(base, param, "high", high, where)
    return param


def _check_value(base: ForecastConfig, param: Param, label: str, value: Any, where: str) -> None:
    try:
        base.with_overrides({param.key: value})
    except ConfigError as exc:
        raise ConfigError(f"{where} {label} = {_toml(value)} is not a valid value: {exc}") from None


def config_value(config: ForecastConfig, key: str) -> Any:
    section, _, name = key.partition(".")
    return getattr(getattr(config, section), name)


# ---------------------------------------------------------------------------- storage and study
def storage_label(url: str) -> str:
    """``url`` with any password masked, for messages and summaries."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_storage(url: str | None, out_dir: str | Path | None = None) -> tuple[Any, str]:
    """The storage a study lives in, and its label.

    ``None``: a journal file ``study.journal`` in ``out_dir``. ``journal:PATH`` or a plain file
    path: a journal file there (one machine, or an NFS directory shared by many). A database URL
    (``sqlite:///file.db``, ``postgresql+psycopg://user:password@host:5432/db``, ``mysql+pymysql://...``):
    an RDB storage with heartbeats, for workers on many machines. Workers opening a fresh database
    at the same moment are serialised (a ``FILE.db.lock`` next to SQLite, an advisory lock on
    PostgreSQL) and retried on the schema-creation race, so all of them join.
    """
    optuna = require("optuna", "tune")
    if url is None or url.startswith("journal:") or "://" not in url:
        if url is None:
            if out_dir is None:
                raise ConfigError("Give a study storage URL or an output directory to keep the study in.")
            path = Path(out_dir) / JOURNAL_NAME
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            path = Path(url.removeprefix("journal:").removeprefix("//")).expanduser()
        label = f"journal:{path}"
        if not path.parent.is_dir():
            raise ConfigError(
                f"Cannot open the study storage {label}: directory {path.parent} does not exist. "
                "Create it, or point --storage at an existing directory."
            )
        try:
            from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
        except ImportError:  # optuna < 4
            from optuna.storages import JournalFileOpenLock
            from optuna.storages import JournalFileStorage as JournalFileBackend
        try:
            lock = JournalFileOpenLock(str(path)) if os.name == "nt" else None
            backend = JournalFileBackend(str(path), lock_obj=lock)
            return optuna.storages.JournalStorage(backend), label
        except OSError as exc:
            raise ConfigError(f"Cannot open the study storage {label}: {exc.strerror or exc}.") from exc
        except ValueError as exc:
            raise ConfigError(f"The study storage {label} is not an Optuna journal file: {exc}") from exc
    label = storage_label(url)
    dialect = url.split("://", 1)[0]
    engine_kwargs: dict[str, Any] | None = None
    if dialect.startswith(("postgresql", "mysql")):
        engine_kwargs = {"connect_args": {"connect_timeout": 10}}
    elif dialect.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}  # workers wait for each other's writes
    try:
        with _schema_lock(url), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
            storage = _retry_race(lambda: optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, grace_period=GRACE_SECONDS, heartbeat_interval=HEARTBEAT_SECONDS))
    except ImportError as exc:
        driver = getattr(exc, "name", None) or "its database driver"
        raise ConfigError(
            f"The study storage {label} needs {driver}, which is not installed here. For PostgreSQL: "
            "pip install 'lstmcast[tune-postgres]' (psycopg 3) and a URL postgresql+psycopg://user:password@"
            "host:5432/db (SQLAlchemy 2.1 reads postgresql:// as psycopg 3 too; postgresql+psycopg2:// needs "
            "psycopg2-binary); for MySQL: pip install pymysql and mysql+pymysql://."
        ) from None
    except ConfigError:
        raise
    except Exception as exc:  # SQLAlchemy / driver errors: connection refused, unknown host, bad URL
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(
            f"Cannot open the study storage {label}: {reason}. Check the URL "
            "(dialect://user:password@host:port/database), that the database server is running and "
            "reachable from this machine, and that the database exists."
        ) from None
    return storage, label


# Errors of workers that create the schema or the study of a fresh database at the same moment
# (optuna issue 1092): another worker got there first, so trying again finds it done.
_RACE_MARKERS = ("already exists", "unique constraint", "duplicate key", "database is locked",
                 "pg_type_typname_nsp_index", "deadlock", "could not serialize", "duplicatedstudy")


def _is_race(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {getattr(exc, 'orig', '')} {exc}".lower()
    return any(marker in text for marker in _RACE_MARKERS)


def _retry_race(make: Callable[[], Any], attempts: int = 10) -> Any:
    import random

    for attempt in range(attempts):
        try:
            return make()
        except Exception as exc:
            if attempt == attempts - 1 or not _is_race(exc):
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """Serialise schema creation between workers starting at once: a lock file next to a SQLite
    database, a session advisory lock on PostgreSQL; elsewhere the retries alone."""
    dialect = url.split("://", 1)[0]
    if dialect.startswith("sqlite") and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if not path.parent.is_dir():
            raise ConfigError(f"Cannot open the study storage {url}: directory {path.parent} does not exist.")
        with open(path.with_name(path.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if not dialect.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 10}, poolclass=sqlalchemy.pool.NullPool)
    key = int.from_bytes(hashlib.sha256(b"lstmcast-optuna-schema").digest()[:7], "big")
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({key})"))
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text(f"SELECT pg_advisory_unlock({key})"))
    finally:
        engine.dispose()


def _sampler(seed: int) -> optuna.samplers.BaseSampler:
    """TPE seeded per trial number: reproducible for one worker, while workers sharing a study
    draw different start-up points (one seed in every worker would repeat the same trials)."""
    import optuna

    def tpe(number: int | None) -> optuna.samplers.TPESampler:
        digest = hashlib.sha256(f"{seed}:{number}".encode()).digest()
        return optuna.samplers.TPESampler(seed=seed if number is None else int.from_bytes(digest[:4], "little"))

    class TrialSeededTPESampler(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.inner = tpe(None)

        def before_trial(self, study, trial):  # type: ignore[no-untyped-def]
            self.inner = tpe(trial.number)
            self.inner.before_trial(study, trial)

        def infer_relative_search_space(self, study, trial):  # type: ignore[no-untyped-def]
            return self.inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):  # type: ignore[no-untyped-def]
            return self.inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):  # type: ignore[no-untyped-def]
            return self.inner.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study, trial, state, values):  # type: ignore[no-untyped-def]
            self.inner.after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self.inner.reseed_rng()

    return TrialSeededTPESampler()


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    """``median``: stop a trial whose validation loss is worse than the median of earlier trials
    at the same epoch (after 5 trials and 3 epochs); ``hyperband``: successive halving over
    1..max_epochs epochs; ``none``."""
    optuna = require("optuna", "tune")
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 2), reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"Pruner must be one of {', '.join(PRUNERS)}; got {name!r}.")


def open_study(storage: str | None, name: str = "lstmcast", out_dir: str | Path | None = None, *,
               pruner: str = "median", seed: int = 0, max_epochs: int = 100) -> optuna.Study:
    """Create the study, or join it if it exists (``load_if_exists``): TPE seeded by ``seed``
    and the trial number, the given pruner, minimising the validation loss."""
    optuna = require("optuna", "tune")
    store, label = open_storage(storage, out_dir)
    try:
        study = _retry_race(lambda: optuna.create_study(
            storage=store, study_name=name, sampler=_sampler(seed), pruner=make_pruner(pruner, max_epochs),
            direction="minimize", load_if_exists=True))
    except ValueError as exc:  # e.g. an existing study of the same name that maximises
        raise ConfigError(f"Cannot use study {name!r} in {label}: {exc}. Choose another --study name.") from None
    if "storage" not in study.user_attrs:
        study.set_user_attr("storage", label)
    return study


def _storage_label_of(study: optuna.Study) -> str:
    return str(study.user_attrs.get("storage", "in-memory"))


# ---------------------------------------------------------------------------- trials
WORKER = f"{socket.gethostname()}:{os.getpid()}"


class PruningCallback(Callback):
    """Reports each epoch's validation loss to the trial and stops training cleanly (through
    ``state.stop_requested``, keeping the best weights) when the pruner says so."""

    def __init__(self, trial: optuna.Trial) -> None:
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


def tune(frame: Any, base: ForecastConfig, study: optuna.Study, *, space: Sequence[Param] = DEFAULT_SPACE,
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
    from optuna.trial import TrialState

    if (base.data.val_fraction <= 0) if base.data.uses_fractions else base.data.validation_steps <= 0:
        raise ConfigError("Tuning scores trials on the validation part: keep data.val_steps > 0 (default: the "
                          "horizon) or, with fractions, set data.val_fraction > 0 (e.g. 0.1).")
    if n_trials < 1:
        raise ConfigError(f"The number of trials must be at least 1; got {n_trials}.")
    space = tuple(space)
    _check_study_matches(study, base, space)
    notes: list[str] = []
    values = {p.key: config_value(base, p.key) for p in space}
    outside = [p for p in space if not p.contains(values[p.key])]
    if include_baseline and outside:
        notes.append(
            "the base configuration lies outside the search space ("
            + "; ".join(f"{p.key} = {_toml(values[p.key])}, space {p.describe().partition(': ')[2]}"
                        for p in outside)
            + "), so the study has no baseline trial to compare with; widen --space or change the base "
            "with --set to include it")
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    if include_baseline and not outside and not study.get_trials(deepcopy=False):
        study.enqueue_trial(values, user_attrs={"baseline": True}, skip_if_exists=True)
    started = time.monotonic()
    ran = 0

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", WORKER)
        params = {p.key: p.suggest(trial) for p in space}
        callback = PruningCallback(trial)
        try:
            # scored on validation, by one network unless the space searches the ensemble size
            trial_only = {"train.final_fit": "none", **({} if "model.ensemble" in params else {"model.ensemble": 1})}
            config = base.with_overrides({**params, **trial_only})
            forecaster = Forecaster(config).fit(frame, callbacks=[callback], source=source)
            result = forecaster.history_
            del forecaster  # the network, optimiser and windows go with it
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise
        trial.set_user_attr("epochs", len(result.history))
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("seconds", round(result.seconds, 3))
        if callback.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {callback.pruned_at}")
        return float(result.best_loss)

    def report(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(_row(study, frozen))

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
    trials = study.get_trials(deepcopy=False)
    states = {s.name: sum(t.state == s for t in trials) for s in TrialState if any(t.state == s for t in trials)}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value) if complete else None
    baseline = next((t for t in complete if t.user_attrs.get("baseline")), None)
    return TuneResult(
        study_name=study.study_name, storage=_storage_label_of(study), n_trials=len(trials), states=states,
        best_number=best.number if best else None, best_value=best.value if best else None,
        best_params=dict(best.params) if best else {},
        best_config=base.with_overrides(dict(best.params)) if best else None,
        baseline_number=baseline.number if baseline else None, baseline_value=baseline.value if baseline else None,
        trials_here=ran, seconds=time.monotonic() - started, space=space,
        running=sum(t.state == TrialState.RUNNING for t in trials), notes=tuple(notes),
    )


def _row(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> TrialRow:
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    best = min(complete, key=lambda t: t.value) if complete else None
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


def fail_dead_trials(study: optuna.Study) -> list[int]:
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


def _check_study_matches(study: optuna.Study, base: ForecastConfig, space: tuple[Param, ...]) -> None:
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


# ---------------------------------------------------------------------------- results
def write_results(study: optuna.Study, result: TuneResult, out_dir: str | Path,
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
        _write_text(out / "config.toml", header + result.best_config.to_toml())
        paths["config"] = str(out / "config.toml")
    frame = study.trials_dataframe(attrs=("number", "value", "state", "datetime_start", "datetime_complete",
                                          "duration", "params", "user_attrs"))
    with _replacing(out / "trials.csv") as tmp:
        frame.to_csv(tmp, index=False)
    paths["trials"] = str(out / "trials.csv")
    plots, notes = write_plots(study, out)
    paths.update(plots)
    summary = {**result.summary(), **(dict(extra) if extra else {}), "plot_notes": notes,
               "paths": {**paths, "summary": str(out / "summary.json")}}
    _write_text(out / "summary.json", json.dumps(jsonable(summary), indent=2))
    paths["summary"] = str(out / "summary.json")
    return paths


def write_plots(study: optuna.Study, out_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The search history, the learning curves (validation loss per epoch of every trial) and the
    parameter importances, labelled in the project's terms (:mod:`lstmcast.plotting`); a plot that
    cannot be drawn (too few trials) is skipped with a note."""
    require("optuna", "tune")
    import optuna

    from lstmcast import plotting

    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = min(done, key=lambda t: t.value).number if done else None
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


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[str]:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; these are ordinary outputs
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write_text(path: Path, text: str) -> None:
    with _replacing(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)

