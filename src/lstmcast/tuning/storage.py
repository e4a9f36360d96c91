"""Where a study lives (a journal file, or an RDB for workers on many machines), how workers
join it at once, its seeded sampler and its pruner."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmcast.errors import ConfigError, require

if TYPE_CHECKING:
    import optuna

__all__ = ["GRACE_SECONDS", "HEARTBEAT_SECONDS", "JOURNAL_NAME", "PRUNERS", "make_pruner", "open_storage",
           "open_study", "retry_race", "storage_label", "storage_label_of", "trial_seeded_sampler"]

PRUNERS = ("median", "hyperband", "none")
JOURNAL_NAME = "study.journal"
HEARTBEAT_SECONDS = 30  # RDB storages: a RUNNING trial without a heartbeat for GRACE_SECONDS fails
GRACE_SECONDS = 120


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
        return _journal_storage(optuna, url, out_dir)
    return _rdb_storage(optuna, url), storage_label(url)


def _journal_storage(optuna: Any, url: str | None, out_dir: str | Path | None) -> tuple[Any, str]:
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


def _rdb_storage(optuna: Any, url: str) -> Any:
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
            return retry_race(lambda: optuna.storages.RDBStorage(
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


# Errors of workers that create the schema or the study of a fresh database at the same moment
# (optuna issue 1092): another worker got there first, so trying again finds it done.
_RACE_MARKERS = ("already exists", "unique constraint", "duplicate key", "database is locked",
                 "pg_type_typname_nsp_index", "deadlock", "could not serialize", "duplicatedstudy")


def _is_race(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {getattr(exc, 'orig', '')} {exc}".lower()
    return any(marker in text for marker in _RACE_MARKERS)


def retry_race(make: Callable[[], Any], attempts: int = 10) -> Any:
    """``make()``, tried again (with a jittered back-off) while it fails on the race of workers
    creating one schema or study at once."""
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
        with _sqlite_lock(url):
            yield
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


@contextlib.contextmanager
def _sqlite_lock(url: str) -> Iterator[None]:
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


def trial_seeded_sampler(seed: int) -> optuna.samplers.BaseSampler:
    """TPE seeded per trial number: reproducible for one worker, while workers sharing a study
    draw different start-up points (one seed in every worker would repeat the same trials)."""
    import optuna

    def tpe(number: int | None) -> optuna.samplers.TPESampler:
        digest = hashlib.sha256(f"{seed}:{number}".encode()).digest()
        return optuna.samplers.TPESampler(seed=seed if number is None else int.from_bytes(digest[:4], "little"))

    class TrialSeededTPESampler(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.inner = tpe(None)

        def before_trial(self, study: Any, trial: Any) -> None:
            self.inner = tpe(trial.number)
            self.inner.before_trial(study, trial)

        def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
            return self.inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
            return self.inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
            return self.inner.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
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
               pruner: str = "median", seed: int = 0, max_epochs: int = 100) -> optuna.study.Study:
    """Create the study, or join it if it exists (``load_if_exists``): TPE seeded by ``seed``
    and the trial number, the given pruner, minimising the validation loss."""
    optuna = require("optuna", "tune")
    store, label = open_storage(storage, out_dir)
    try:
        study = retry_race(lambda: optuna.create_study(
            storage=store, study_name=name, sampler=trial_seeded_sampler(seed),
            pruner=make_pruner(pruner, max_epochs), direction="minimize", load_if_exists=True))
    except ValueError as exc:  # e.g. an existing study of the same name that maximises
        raise ConfigError(f"Cannot use study {name!r} in {label}: {exc}. Choose another --study name.") from None
    if "storage" not in study.user_attrs:
        study.set_user_attr("storage", label)
    return study


def storage_label_of(study: optuna.study.Study) -> str:
    """The storage label a study was opened with ("in-memory" for a study made elsewhere)."""
    return str(study.user_attrs.get("storage", "in-memory"))
