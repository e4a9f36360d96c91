"""The model directory: plain files written atomically, verified on load.

    config.json          the resolved ForecastConfig
    scaler.json          one affine scaler per training series
    weights.safetensors  the network's state dict (never a pickle)
    meta.json            format version, channel layout, frequency, training ranges, the SHA-256
                         of the three files above, the run manifest
    history.csv, metrics.json, plots: optional extras

A save writes a hidden staging directory beside the target and swaps it into place with renames;
a crash at any moment leaves the previous model loadable (a half-finished swap is rolled
back by the next save or load).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lstmcast._json import jsonable, sha256_file
from lstmcast.config import ForecastConfig
from lstmcast.data.scaling import Scaler
from lstmcast.errors import ConfigError, DataError, ModelFileError, OutputError

# jsonable and sha256_file are re-exported: the public names of the file helpers for code outside the
# package (benchmarks, scripts), which may not import the private module lstmcast._json
__all__ = ["CHECKED_FILES", "FORMAT_VERSION", "MODEL_FILES", "READABLE_FORMATS", "ModelFiles", "jsonable",
           "load_model_dir", "recover", "save_model_dir", "sha256_file", "write_failure", "writing"]

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
CHECKED_FILES = ("config.json", "scaler.json", "weights.safetensors")
MODEL_FILES = (*CHECKED_FILES, "meta.json")


@dataclass
class ModelFiles:
    """What a model directory holds, read and verified."""

    config: ForecastConfig
    scalers: dict[str, Scaler]
    state: dict[str, torch.Tensor]
    meta: dict[str, Any]


def save_model_dir(path: str | Path, config: ForecastConfig, scalers: dict[str, Scaler], network: nn.Module,
                   meta: dict[str, Any], extras: dict[str, Callable[[Path], None]] | None = None) -> Path:
    """Write the model directory atomically; ``extras`` maps file names to writer functions.

    A write that fails (no space left, a read-only file system, no permission) raises
    :class:`~lstmcast.errors.OutputError` naming the path and the fix; the staging directory is
    removed and any previous model at ``path`` is left as it was."""
    path = Path(path)
    with writing(path, "the model directory"):
        _save_staged(path, config, scalers, network, meta, extras)
    return path


def _save_staged(path: Path, config: ForecastConfig, scalers: dict[str, Scaler], network: nn.Module,
                 meta: dict[str, Any], extras: dict[str, Callable[[Path], None]] | None) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.stage.{_writer_tag()}.", dir=path.parent))
    try:
        os.chmod(stage, 0o755)  # readable by a service account, like any directory the user makes
        (stage / "config.json").write_text(config.to_json(), encoding="utf-8")
        (stage / "scaler.json").write_text(json.dumps({k: s.to_dict() for k, s in scalers.items()}, indent=1),
                                           encoding="utf-8")
        state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
        save_file(state, str(stage / "weights.safetensors"))
        for name, writer in (extras or {}).items():
            writer(stage / name)
        meta = {**meta, "format_version": FORMAT_VERSION,
                "sha256": {name: sha256_file(stage / name) for name in CHECKED_FILES}}
        (stage / "meta.json").write_text(json.dumps(jsonable(meta), indent=2), encoding="utf-8")
        _swap_into_place(stage, path)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def load_model_dir(path: str | Path) -> ModelFiles:
    """Read and verify a model directory; refuses missing, modified or malformed files."""
    path = Path(path)
    recover(path, clean_stages=False)
    if not path.is_dir():
        raise ModelFileError(f"Model directory {path} does not exist; train one with `lstmcast train --out {path}`.")
    dirs = [name for name in MODEL_FILES if (path / name).is_dir()]
    if dirs:
        raise ModelFileError(f"{path / dirs[0]} is a directory, not a file; the model directory was tampered "
                             "with. Restore the original file or retrain.")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise ModelFileError(
            f"Model directory {path} is missing {', '.join(missing)}; it is incomplete or not a "
            "model directory. Retrain or restore it."
        )
    meta = _read_json(path / "meta.json")
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path / 'meta.json'} must hold a JSON object; got {type(meta).__name__}.")
    if meta.get("format_version") not in READABLE_FORMATS:
        raise ModelFileError(
            f"{path} has model format {meta.get('format_version')!r}; this lstmcast reads formats "
            f"{', '.join(map(str, READABLE_FORMATS))}. Retrain with this version."
        )
    digests = meta.get("sha256")
    if not isinstance(digests, dict) or set(digests) != set(CHECKED_FILES) or \
            not all(isinstance(v, str) for v in digests.values()):
        raise ModelFileError(f"{path / 'meta.json'} lacks the checksums of the model files; it was tampered with.")
    for name in CHECKED_FILES:  # only the known names: meta.json cannot make us open other paths
        if sha256_file(path / name) != digests[name]:
            raise ModelFileError(
                f"{path / name} was modified after the model was saved (checksum mismatch); "
                "it cannot be trusted. Restore the original file or retrain."
            )
    _check_meta(meta, path / "meta.json")
    return ModelFiles(_read_config(path / "config.json"), _read_scalers(path / "scaler.json"),
                      _read_weights(path / "weights.safetensors"), meta)


def _check_meta(meta: dict[str, Any], file: Path) -> None:
    """The fields of meta.json that forecasting reads (meta.json is outside the checksums)."""
    import pandas as pd

    freq = meta.get("frequency")
    valid = freq is None or isinstance(freq, str)
    if isinstance(freq, str) and freq and not freq.lstrip("-").isdigit():  # "" or "1": integer steps
        try:
            pd.tseries.frequencies.to_offset(freq)
        except (ValueError, TypeError):
            valid = False
    if not valid:
        raise ModelFileError(f"{file}: 'frequency' must be a pandas frequency such as \"h\" or \"D\", an integer "
                             f"step such as \"1\", or null; got {freq!r}. Restore the original file or retrain.")
    calendar = meta.get("calendar", [])
    if not isinstance(calendar, list) or not all(isinstance(c, str) for c in calendar):
        raise ModelFileError(f"{file}: 'calendar' must be a list of calendar feature names; got {calendar!r}. "
                             "Restore the original file or retrain.")


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{file} is not valid JSON ({str(exc)[:200]}). Restore the original file "
                             "or retrain.") from exc


def _read_config(file: Path) -> ForecastConfig:
    raw = _read_json(file)
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw["model"].setdefault("ensemble", 1)  # format 1 predates ensembles: one network
    try:
        return ForecastConfig.from_dict(raw)
    except (ConfigError, DataError, AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise ModelFileError(f"{file} holds an invalid config: {exc} Restore the original file or "
                             "retrain.") from exc


def _read_scalers(file: Path) -> dict[str, Scaler]:
    raw = _read_json(file)
    if not isinstance(raw, dict):
        raise ModelFileError(f"{file} must map each series name to its scaler (a JSON object); got "
                             f"{type(raw).__name__}. Restore the original file or retrain.")
    scalers = {}
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise ModelFileError(f"{file}: the scaler of series {key!r} must be an object with keys kind, "
                                 f"offset, scale; got {type(value).__name__}. Restore the original file or retrain.")
        try:
            scalers[key] = Scaler.from_dict(value)
        except (ConfigError, DataError, AttributeError, TypeError, ValueError, OverflowError) as exc:
            raise ModelFileError(f"{file}: the scaler of series {key!r} is invalid: {exc}") from exc
    return scalers


def _read_weights(file: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{file} cannot be read: {str(exc)[:200]}. Restore the original file or retrain.") from exc
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelFileError(f"{file} holds non-finite values in {bad[0]!r}; the model cannot forecast. Retrain it.")
    return state


def _swap_into_place(stage: Path, path: Path) -> None:
    """Replace ``path`` by the fully written ``stage`` directory with renames only.

    The old model is first renamed to ``.NAME.old`` (a fixed name): if the process dies between
    the two renames, :func:`recover` puts it back (or finishes the swap when the new one is
    complete), so there is always a loadable model at ``path`` or beside it under that name.
    """
    for f in stage.iterdir():
        if f.is_file():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"{path} exists and is not a directory; choose another --out.")
    old = _old_path(path)
    if path.exists():
        if old.exists():
            shutil.rmtree(old)
        os.rename(path, old)
        try:
            os.rename(stage, path)
        except BaseException:
            os.rename(old, path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, path)
    _fsync_dir(path.parent)


def recover(path: Path, clean_stages: bool = True) -> None:
    """Finish or undo a swap interrupted by a crash and (``clean_stages``, when saving) remove the
    staging directories killed saves left. Loading only restores the model: a staging directory
    may belong to a save running in another process."""
    path = Path(path)
    old = _old_path(path)
    if old.is_dir() and not path.exists():
        os.rename(old, path)  # killed between the renames: the previous model comes back
    elif old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    if clean_stages and path.parent.is_dir():
        prefix = f".{path.name}.stage."
        for stale in path.parent.glob(f"{prefix}*"):
            if stale.is_dir() and _owner_gone(stale, prefix):
                shutil.rmtree(stale, ignore_errors=True)


def _old_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _writer_tag() -> str:
    """``p<pid>-<host>``: who writes a staging directory, so that a later save can tell a killed
    writer's leftovers from a live save's work."""
    return f"p{os.getpid()}-{_host()}"


def _host() -> str:
    import socket

    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def _owner_gone(stage: Path, prefix: str) -> bool:
    """Whether the save that wrote ``stage`` is gone. A name carrying this host and a pid (see
    :func:`_writer_tag`) is stale when that process no longer exists; a name it cannot attribute
    (another host, or written by an older lstmcast) is stale once complete (it has meta.json) or
    older than 10 minutes. Any staging directory older than that is stale (a reused pid)."""
    import time

    try:
        old = time.time() - stage.stat().st_mtime > 600
        complete = (stage / "meta.json").is_file()
    except OSError:
        return False
    pid = _writer_pid(stage.name[len(prefix):])
    if old or pid is None:
        return old or complete
    if pid == os.getpid():
        return False  # a save running in another thread of this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, owned by another user
    return False


def _writer_pid(tag: str) -> int | None:
    """The pid in ``p<pid>-<host>.<random>`` when ``host`` is this host, else None."""
    match = re.fullmatch(r"p(\d+)-(.+)\.[^.]+", tag)
    if match is None or match.group(2) != _host():
        return None
    return int(match.group(1))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def writing(target: str | Path, what: str,
            kept: str | Callable[[], str] = "any previous model there is unchanged") -> Iterator[None]:
    """Turn a failed write under ``target`` into an :class:`OutputError` that says why and the fix;
    ``kept`` (or ``kept()``, asked when the write fails) says what was left as it was.

    torch reports a full or read-only disk as a RuntimeError without an errno ("unexpected pos",
    "open file failed"): the file system is then probed for the cause."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise write_failure(Path(target), exc, what, kept) from exc
    except RuntimeError as exc:
        if "inline_container" not in str(exc) and "PytorchStreamWriter" not in str(exc):
            raise
        raise write_failure(Path(target), exc, what, kept) from exc


def write_failure(target: Path, exc: BaseException, what: str, kept: str | Callable[[], str]) -> OutputError:
    """The error for a write to ``target`` that failed with ``exc``: the cause (from the errno, or
    the file system probed when there is none), the path and the fix."""
    where = target if target.is_dir() else next((p for p in target.parents if p.is_dir()), Path("/"))
    code = getattr(exc, "errno", None)
    try:
        fs = os.statvfs(where)
        free, read_only = fs.f_bavail * fs.f_frsize, bool(fs.f_flag & os.ST_RDONLY)
    except OSError:
        free, read_only = -1, False
    if code in (errno.ENOSPC, errno.EDQUOT) or (code is None and 0 <= free < 1 << 20):
        reason = f"no space left on device (the file system of {where} has {max(free, 0)} bytes free)"
        fix = "free some space there, or choose another --out on a disk with room"
    elif code == errno.EROFS or (code is None and read_only):
        reason = f"{where} is on a read-only file system"
        fix = "choose another --out on a writable disk (or remount that one read-write)"
    elif code in (errno.EACCES, errno.EPERM) or (code is None and not os.access(where, os.W_OK)):
        reason = f"permission denied: the directory {where} is not writable by this user"
        fix = f"make it writable (chmod u+w {where}) or choose another --out"
    else:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason, fix = first[:200], "check the path, or choose another --out"
    return OutputError(f"Cannot write {what} {target}: {reason}. Fix: {fix}; {kept() if callable(kept) else kept}.")
