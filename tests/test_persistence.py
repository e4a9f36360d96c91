"""The model directory: a save interrupted at any point leaves a loadable model."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from lstmcast import Forecaster
from lstmcast.errors import ModelFileError
from lstmcast.persistence import recover
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def fitted():
    frame = pd.DataFrame({"value": np.sin(np.arange(200) / 4)})
    return Forecaster(tiny_config()).fit(frame), frame


def test_killed_between_the_two_renames_the_previous_model_comes_back(fitted, tmp_path):
    f, frame = fitted
    path = f.save(tmp_path / "m")
    os.rename(path, tmp_path / ".m.old")  # the state a kill between the renames leaves
    (tmp_path / ".m.stage.x1").mkdir()  # and a finished staging directory
    (tmp_path / ".m.stage.x1" / "meta.json").write_text("{}")
    again = Forecaster.load(path)  # load puts the previous model back
    pd.testing.assert_frame_equal(again.predict(frame).to_frame(), f.predict(frame).to_frame())
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.stage.x1", "m"]  # a save may own it
    f.save(path)  # the next save removes the finished staging directory a killed save left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_second_save_replaces_and_leaves_nothing_behind(fitted, tmp_path):
    f, _ = fitted
    f.save(tmp_path / "m")
    f.save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert oct((tmp_path / "m").stat().st_mode & 0o777) == oct(0o755)  # readable by a service account
    recover(tmp_path / "m")  # nothing to do
    assert (tmp_path / "m" / "weights.safetensors").is_file()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda meta: [1, 2], "must hold a JSON object"),
    (lambda meta: {**meta, "sha256": "abc"}, "lacks the checksums"),
    (lambda meta: {**meta, "sha256": {**meta["sha256"], "/dev/zero": "0"}}, "lacks the checksums"),
    (lambda meta: {**meta, "format_version": 99}, "model format 99"),
    (lambda meta: {**meta, "layout": "targets"}, "channel layout must be a mapping"),
    (lambda meta: {**meta, "layout": {**meta["layout"], "past": [1]}}, "'past' must be a list of names"),
])
def test_meta_json_is_validated_and_names_only_known_files(fitted, tmp_path, edit, message):
    f, _ = fitted
    path = f.save(tmp_path / "m")
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps(edit(meta)))
    with pytest.raises(ModelFileError, match=message):
        Forecaster.load(path)


def test_non_finite_weights_are_refused_even_with_recomputed_checksums(fitted, tmp_path):
    import hashlib

    from safetensors.torch import load_file, save_file

    f, _ = fitted
    path = f.save(tmp_path / "m")
    state = load_file(str(path / "weights.safetensors"))
    name = next(iter(state))
    state[name][...] = float("nan")
    save_file(state, str(path / "weights.safetensors"))
    meta = json.loads((path / "meta.json").read_text())
    meta["sha256"]["weights.safetensors"] = hashlib.sha256((path / "weights.safetensors").read_bytes()).hexdigest()
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="non-finite values"):
        Forecaster.load(path)


def _save_forever(forecaster, path) -> None:  # runs in a forked child until it is killed
    while True:
        forecaster.save(path)


@pytest.mark.slow
def test_sigkill_at_20_random_moments_of_saves_always_leaves_a_loadable_model(fitted, tmp_path):
    import multiprocessing
    import random
    import signal
    import time

    f, frame = fitted
    path = f.save(tmp_path / "m")
    expected = f.predict(frame).to_frame()
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(0)
    for _ in range(20):
        child = ctx.Process(target=_save_forever, args=(f, path))
        child.start()
        time.sleep(rng.uniform(0.01, 0.25))  # a save takes a few ms: the kill lands anywhere in one
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        again = Forecaster.load(path)  # recovers a half-finished swap when there is one
        pd.testing.assert_frame_equal(again.predict(frame).to_frame(), expected)
    f.save(path)  # a later save removes what the killed ones left
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "m")
    assert all(name.startswith(".m.stage.") for name in leftovers), leftovers
    # staging directories of killed saves are removed once they are stale (complete or > 10 min old)
    for stale in leftovers:
        os.utime(tmp_path / stale, (0, 0))
    f.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize(("code", "cause", "fix"), [
    (28, "no space left on device", "free some space there, or choose another --out"),
    (122, "no space left on device", "free some space there"),  # EDQUOT: a quota is full
    (30, "is on a read-only file system", "choose another --out on a writable disk"),
    (13, "permission denied: the directory", "make it writable (chmod u+w"),
    (1, "permission denied: the directory", "choose another --out"),
    (5, "Input/output error", "check the path, or choose another --out"),
])
def test_a_failed_write_names_the_path_the_cause_and_the_fix(tmp_path, code, cause, fix):
    import errno as errnos

    from lstmcast.persistence import write_failure

    code = {28: errnos.ENOSPC, 122: errnos.EDQUOT, 30: errnos.EROFS, 13: errnos.EACCES, 1: errnos.EPERM,
            5: errnos.EIO}[code]
    error = write_failure(tmp_path / "m", OSError(code, os.strerror(code)), "the model directory",
                          "any previous model there is unchanged")
    text = str(error)
    assert text.startswith(f"Cannot write the model directory {tmp_path / 'm'}: ")
    assert cause in text and fix in text and text.endswith("any previous model there is unchanged.")


def test_torch_write_errors_without_an_errno_are_diagnosed_by_probing(tmp_path, monkeypatch):
    from lstmcast.errors import OutputError
    from lstmcast.persistence import writing

    real = os.statvfs

    class ReadOnly:
        def __init__(self, path):
            stat = real(path)
            self.f_bavail, self.f_frsize, self.f_flag = stat.f_bavail, stat.f_frsize, os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", ReadOnly)
    with pytest.raises(OutputError, match="is on a read-only file system"), writing(tmp_path / "x", "the checkpoint"):
        raise RuntimeError("[enforce fail at inline_container.cc:747] . open file failed with strerror: Read-only")
    with pytest.raises(RuntimeError, match="not a write"), writing(tmp_path / "x", "the checkpoint"):
        raise RuntimeError("not a write failure")  # other errors pass through unchanged


def test_atomic_writes_from_two_threads_never_share_a_temporary_file(tmp_path):
    import threading

    from lstmcast._json import write_text_atomic

    target, errors = tmp_path / "out.json", []

    def write(text: str) -> None:
        try:
            for _ in range(200):
                write_text_atomic(target, text)
        except Exception as exc:  # a shared temporary name: one rename takes the other's file
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(text * 1000,)) for text in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert target.read_text() in ("a" * 1000, "b" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left
