"""A training run: start, resume and finish, with the config and data checksums.

A run that writes the model directory ``OUT`` keeps its state in ``OUT.partial/`` until the model
is saved::

    run.json        the config (and its SHA-256), the data file and its SHA-256, the SHA-256 of
                    the training frame, the command line
    checkpoint.pt   the fit loop's state, written every epoch (lstmcast.training.checkpoint)
    lock            held while a process trains this run: two runs on one OUT are refused

A new run never continues another run's checkpoint; a resumed run continues only when its config
and data are those it started with (else :class:`~lstmcast.errors.RunError` names what changed);
a finished run saves the model and removes ``OUT.partial/``; a run that fails before its first
checkpoint leaves nothing behind. The command line and Python share this protocol::

    from lstmcast.runs import Run

    with Run("runs/m") as run:                    # or Run("runs/m", resume=True) after a crash
        forecaster = Forecaster(config).fit(frame, run=run)
        run.finish(forecaster)                    # saves runs/m, removes runs/m.partial/

Under torchrun only rank 0 writes (the record, the lock, the checkpoint, the model).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from lstmcast._interrupt import deferred
from lstmcast.config import ForecastConfig
from lstmcast.errors import ConfigError, OutputError, RunError

if TYPE_CHECKING:
    import pandas as pd

    from lstmcast.forecaster import Forecaster

RUN_SUFFIX = ".partial"


def run_dir_of(out: str | Path) -> Path:
    """Where the run writing the model directory ``out`` keeps its record and checkpoint."""
    out = Path(out)
    return out.with_name(out.name + RUN_SUFFIX)


def config_sha256(config: ForecastConfig | dict[str, Any]) -> str:
    raw = config.to_dict() if isinstance(config, ForecastConfig) else config
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """A checksum of a frame's columns, dtypes, index and values (the data a Python run trains on)."""
    import pandas as pd

    digest = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``section.key: old -> new`` for every key whose value differs between two config dicts."""
    changes = []
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section) or {}, new.get(section) or {}
        for key in sorted(set(a) | set(b)):
            if _plain(a.get(key)) != _plain(b.get(key)):
                changes.append(f"{section}.{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return changes


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


class Run:
    """One training run writing the model directory ``out`` (state in ``out.partial/``).

    ``Run(out)`` starts a new run, ``Run(out, resume=True)`` continues a killed one, when
    :meth:`Forecaster.fit` receives it (``fit(frame, run=run)``); :meth:`start` and :meth:`resume`
    do it before fit, with the data file's checksum (the command line's way). ``data`` names the
    data file, recorded and checked on resume."""

    def __init__(self, out: str | Path, *, resume: bool = False, data: str | Path | None = None,
                 argv: list[str] | None = None) -> None:
        self.out = Path(out)
        self.dir = run_dir_of(self.out)
        self.resume_requested = resume
        self.data = Path(data) if data is not None else None
        self.argv = list(argv or [])
        self.record: dict[str, Any] | None = None
        self._lock: IO[str] | None = None
        self._checked: Callable[[], object] = lambda: None  # a weak reference to the frame last checked
        self._file_verified = False  # the data file's checksum matched: the frame read from it is the same
        self._created = False  # this run made its directory (a failure before the lock still removes it)

    # ------------------------------------------------------------------ paths and record
    @property
    def checkpoint(self) -> Path:
        return self.dir / "checkpoint.pt"

    @property
    def resumed(self) -> bool:
        return self.resume_requested

    @property
    def config(self) -> ForecastConfig:
        """The config the run started with (from run.json)."""
        return ForecastConfig.from_dict(self._record()["config"])

    def _record(self) -> dict[str, Any]:
        if self.record is None:
            self.record = read_record(self.out)
        return self.record

    @property
    def manifest(self) -> dict[str, Any]:
        """What the saved model's meta.json records of the run."""
        record = self.record or {}
        return {"data_file": record.get("data"), "data_sha256": record.get("data_sha256"),
                "argv": record.get("argv", []), "resumed": self.resumed}

    # ------------------------------------------------------------------ start / resume
    @classmethod
    def start(cls, out: str | Path, config: ForecastConfig, *, data: str | Path | None = None,
              frame: pd.DataFrame | None = None, argv: list[str] | None = None) -> Run:
        """A new run: takes the lock, removes any checkpoint a killed run left, writes run.json."""
        return cls(out, data=data, argv=argv).begin(config, frame)

    @classmethod
    def resume(cls, out: str | Path, config: ForecastConfig | None = None, *, data: str | Path | None = None,
               frame: pd.DataFrame | None = None) -> Run:
        """Continue a killed run: refuses a changed config (naming the keys) or changed data."""
        return cls(out, resume=True, data=data).begin(config, frame)

    def bind(self, config: ForecastConfig, frame: pd.DataFrame) -> tuple[Path | None, Path | None]:
        """Called by :meth:`Forecaster.fit`: start or resume with this config and frame (or check
        them against the run's record); returns the checkpoint to write and the one to resume."""
        if self.record is None:
            self.begin(config, frame)
        else:
            self._check_config(config)
            self._check_frame(frame)
        return (self.checkpoint if _is_main() else None), (self.checkpoint if self.resumed else None)

    def begin(self, config: ForecastConfig | None = None, frame: pd.DataFrame | None = None) -> Run:
        """Start this run (``Run(out)``: lock, run.json) or resume it (``Run(out, resume=True)``:
        checks the record, the config and the data); a failure, Ctrl-C included, fails the run.
        :meth:`start` and :meth:`resume` construct and begin in one call; a caller that must fail
        the run on a Ctrl-C landing between the two constructs it first (the command line does)."""
        try:
            self._begin(config, frame)
        except BaseException:
            self.fail()
            raise
        return self

    def _begin(self, config: ForecastConfig | None, frame: pd.DataFrame | None) -> None:
        from lstmcast.data.dataset import (
            data_sha256 as sha256_file,  # a file or a dataset directory
        )
        from lstmcast.persistence import writing

        if self.resumed:
            record = read_record(self.out)
            self.record = record
            if config is not None:
                self._check_config(config)
            if self.data is None and record.get("data"):
                self.data = Path(record["data"])
            if self.data is not None and not self.data.exists():
                raise RunError(f"{self.data}, the data file the run started on, no longer exists; give it (the same "
                               "contents) with --data, or start a new run without --resume.")
            if self.data is not None and record.get("data_sha256"):
                if sha256_file(self.data) != record["data_sha256"]:
                    raise RunError(f"{self.data} differs from the file the run started on (checksum mismatch); "
                                   "resuming would not reproduce the run. Give the original file with --data.")
                self._file_verified = True
            if frame is not None:
                self._check_frame(frame)
            with writing(self.dir, "the run directory", "the checkpoint there is unchanged"):
                self._acquire()
                for tmp in self.dir.glob("*checkpoint.pt.tmp*") if self._lock is not None else ():
                    tmp.unlink(missing_ok=True)  # half-written by a killed process: we hold the lock now
            return
        if config is None:
            raise RunError("A new run needs its config: Run.start(out, config, ...).")
        with writing(self.dir, "the run directory", "any model at the output is unchanged"):
            with deferred():  # made and marked as this run's together: a failure from here on removes it
                self._created = not self.dir.exists()
                self.dir.mkdir(parents=True, exist_ok=True)
            self._acquire()
            record = {"data": str(self.data) if self.data is not None else None,
                      "data_sha256": sha256_file(self.data) if self.data is not None else None,
                      "frame_sha256": frame_sha256(frame) if frame is not None else None,
                      "config": config.to_dict(), "config_sha256": config_sha256(config), "argv": self.argv}
            if _is_main():  # a new run: nothing of a killed earlier run may be resumed into it
                for stale in self.dir.glob("checkpoint.pt*"):
                    stale.unlink(missing_ok=True)
                from lstmcast._json import write_text_atomic

                write_text_atomic(self.dir / "run.json", json.dumps(record, indent=2))
        self.record = record
        if frame is not None:
            self._checked = weakref.ref(frame)

    def _check_config(self, config: ForecastConfig) -> None:
        changes = config_changes(self._record()["config"], config.to_dict())
        if changes:
            raise RunError(
                "--resume continues a run with its saved config; drop --set/--config and the options that change "
                "it (or, in Python, pass the config the run started with), or start a new run without --resume "
                f"(the same --out replaces the killed run). {len(changes)} key(s) differ from the config the run "
                f"{self.out} started with (old -> new): {'; '.join(changes)}."
            )

    def _check_frame(self, frame: pd.DataFrame) -> None:
        expected = self._record().get("frame_sha256")
        if expected is None or self._file_verified or self._checked() is frame:
            return
        if frame_sha256(frame) != expected:
            raise RunError(f"The data differs from the data the run {self.out} started on (checksum mismatch); "
                           "resuming would not reproduce the run. Give the original data.")
        self._checked = weakref.ref(frame)

    def _acquire(self) -> None:
        """Take the run's lock: two runs writing one ``out`` at once are refused."""
        import fcntl

        if self._lock is not None or not _is_main():  # torchrun: rank 0 owns the run directory
            return
        (self.dir / "lock").touch()
        with deferred():  # a lock taken is a lock kept in self._lock, which fail() and close() release
            handle = open(self.dir / "lock")  # held until finish/close; read-only: flock needs no write access
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise RunError(f"Another `lstmcast train` is writing {self.out} right now (it holds "
                               f"{self.dir / 'lock'}); wait for it, or choose another --out.") from None
            self._lock = handle

    # ------------------------------------------------------------------ finish / fail
    def finish(self, forecaster: Forecaster | None = None, **save: Any) -> Path:
        """Save ``forecaster`` to ``out`` (keyword arguments go to :meth:`Forecaster.save`; the run's
        manifest is recorded in meta.json), then remove the run directory: the checkpoint has served."""
        if forecaster is not None and _is_main():
            run_info = {**self.manifest, **(save.pop("run", None) or {})}
            try:
                forecaster.save(self.out, run=run_info, **save)
            except OutputError:  # the run is complete: its checkpoint only repeats it, and holds space
                shutil.rmtree(self.dir, ignore_errors=True)
                self.close()
                raise
        if _is_main():
            shutil.rmtree(self.dir, ignore_errors=True)
        self.close()
        return self.out

    def fail(self) -> None:
        """After a failed run: keep the run directory only when there is a checkpoint to resume
        (never half-written checkpoint files), and release the lock. A run that does not hold the
        lock (another process does) leaves the directory alone; one this run made and failed
        (e.g. Ctrl-C) before locking is locked now and removed."""
        if self._lock is None and self._created and self.dir.is_dir():
            try:
                self._acquire()
            except (RunError, OSError):
                pass  # another run holds it now: leave it
        if self._lock is not None:
            for tmp in self.dir.glob("*checkpoint.pt.tmp*"):
                tmp.unlink(missing_ok=True)
            if not self.checkpoint.is_file():
                shutil.rmtree(self.dir, ignore_errors=True)
        self.close()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            self.fail()
        else:
            self.close()


def read_record(out: str | Path) -> dict[str, Any]:
    """The run.json of the run writing ``out``, validated; refuses when there is nothing to resume."""
    run_dir = run_dir_of(out)
    path = run_dir / "run.json"
    if not (run_dir / "checkpoint.pt").is_file() or not path.is_file():
        raise RunError(f"Nothing to resume for {out}: {run_dir} holds no checkpoint. Start the run with "
                       f"`lstmcast train ... --out {out}`; it checkpoints every epoch.")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is not valid JSON ({exc}); the run cannot be resumed. Start a new run.") from exc
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise RunError(f"{path} lacks the run's config; the run cannot be resumed. Start a new run.")
    expected = record.get("config_sha256")
    if expected is not None and config_sha256(record["config"]) != expected:
        raise RunError(f"{path} was modified after the run started (config checksum mismatch); resuming would not "
                       "reproduce the run. Restore it, or start a new run without --resume.")
    if record.get("data_sha256") is None and record.get("frame_sha256") is None:
        raise RunError(f"{path} lacks the checksum of the run's data (data_sha256); resuming could not check that the "
                       "data is the same. Start a new run without --resume.")
    try:
        ForecastConfig.from_dict(record["config"])
    except ConfigError as exc:
        raise RunError(f"{path} holds an invalid config ({exc}). Start a new run.") from exc
    return record
