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
    (lambda meta: {**meta, "sha256": list(meta["sha256"].values())}, "lacks the checksums"),
    (lambda meta: {**meta, "sha256": {**meta["sha256"], "/dev/zero": "0"}}, "lacks the checksums"),
    (lambda meta: {**meta, "format_version": 99}, "model format 99"),
    (lambda meta: {**meta, "frequency": "../../etc/passwd"}, "'frequency' must be a pandas frequency"),
    (lambda meta: {**meta, "frequency": True}, "'frequency' must be a pandas frequency"),
    (lambda meta: {**meta, "calendar": "hour"}, "'calendar' must be a list of calendar feature names"),
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


def _recompute(path, name) -> None:
    import hashlib

    meta = json.loads((path / "meta.json").read_text())
    meta["sha256"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    (path / "meta.json").write_text(json.dumps(meta))


def test_a_checksummed_file_replaced_by_a_directory_is_refused(fitted, tmp_path, capsys):
    from lstmcast.cli import main

    f, frame = fitted
    path = f.save(tmp_path / "m")
    (path / "weights.safetensors").unlink()
    (path / "weights.safetensors").mkdir()  # sha256 names it; hashing a directory would raise
    with pytest.raises(ModelFileError, match="weights.safetensors is a directory, not a file"):
        Forecaster.load(path)
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    assert main(["predict", "--model", str(path), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "weights.safetensors is a directory, not a file" in err and "Traceback" not in err


@pytest.mark.parametrize(("name", "content", "message"), [
    ("config.json", b"\x80", "config.json is not valid JSON"),
    ("scaler.json", b"\xff\xfe", "scaler.json is not valid JSON"),
    ("scaler.json", b"[1, 2]", "scaler.json must map each series name to its scaler"),
    ("scaler.json", b'{"__single__": 3}', "the scaler of series '__single__' must be an object"),
    ("weights.safetensors", b"\x08" + b"\x00" * 7 + b"{}", "weights.safetensors cannot be read"),
])
def test_damaged_files_behind_recomputed_checksums_are_named(fitted, tmp_path, name, content, message):
    f, _ = fitted
    path = f.save(tmp_path / "m")
    (path / name).write_bytes(content)  # found by tests/test_fuzz_model_dir.py: non-UTF-8 bytes gave a traceback
    _recompute(path, name)
    with pytest.raises(ModelFileError, match=message) as info:
        Forecaster.load(path)
    assert "Restore the original file or retrain" in str(info.value) or "invalid" in str(info.value)


@pytest.mark.parametrize("section", ["model", "data", "train"])
def test_a_config_section_that_is_a_string_is_refused_naming_it(fitted, tmp_path, capsys, section):
    from lstmcast.cli import main

    f, frame = fitted
    path = f.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, section: "x"}))
    _recompute(path, "config.json")
    message = f"Config section [{section}] must be"
    with pytest.raises(ModelFileError, match=rf"config\.json.*\[{section}\] must be") as info:
        Forecaster.load(path)
    assert "got a str" in str(info.value)
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    assert main(["predict", "--model", str(path), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert message in err and "config.json" in err and "Traceback" not in err


def test_predict_inverse_scales_in_float64_below_float32_steps():
    import torch

    from lstmcast.models.heads import head_of

    t = np.arange(240)
    frame = pd.DataFrame({"value": 1e6 + 0.25 * np.sin(t / 4)})  # level 1e6, range 0.5
    f = Forecaster(tiny_config(data={"horizon": 6, "test_fraction": 0.0}, train={"max_epochs": 2})).fit(frame)
    got = f.predict(frame).to_frame()["mean"].to_numpy()
    step32 = float(np.spacing(np.float32(1e6)))  # 0.0625: float32 cannot tell these values apart
    assert np.ptp(got) > 0  # the forecast varies (it was one constant value in float32)
    assert np.min(np.diff(np.unique(got))) < step32
    # the float64 reference: the network's scaled output, inverse-scaled in float64 by hand
    scaler = next(iter(f.scalers_.values()))
    window = (frame["value"].to_numpy()[-12:, None] - scaler.offset_) / scaler.scale_
    with torch.no_grad():
        scaled = head_of(f.network_).mean(f.network_(torch.tensor(window[None], dtype=torch.float32), None))
    expected = scaled.double().numpy()[0, :, 0] * scaler.scale_[0] + scaler.offset_[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    float32_answer = (scaled.numpy()[0, :, 0] * np.float32(scaler.scale_[0]) + np.float32(scaler.offset_[0]))
    assert np.max(np.abs(float32_answer - expected)) > 1e-3  # float32 arithmetic would have missed it


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
    killed = sorted(p.name for p in tmp_path.iterdir() if p.name != "m")
    assert all(name.startswith(".m.stage.p") for name in killed), killed  # each names its writer's pid
    f.save(path)  # a later save removes every staging directory the killed saves left, young or not
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_save_keeps_the_staging_directories_of_live_writers(fitted, tmp_path):
    import re
    import socket
    import subprocess
    import sys
    import time

    f, _ = fitted
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())  # the name format of docs/saved-models.md
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead, live = int(gone.stdout), os.getppid()  # pytest's parent is alive while the test runs
    names = {"dead": f".m.stage.p{dead}-{host}.abc", "live": f".m.stage.p{live}-{host}.def",
             "mine": f".m.stage.p{os.getpid()}-{host}.ghi", "elsewhere": f".m.stage.p{dead}-otherhost.jkl",
             "old_format": ".m.stage.mno"}
    for name in names.values():
        (tmp_path / name).mkdir()
    f.save(tmp_path / "m")
    kept = {key for key, name in names.items() if (tmp_path / name).exists()}
    assert kept == {"live", "mine", "elsewhere", "old_format"}  # only the dead writer's is gone
    for name in names.values():
        if (tmp_path / name).exists():
            os.utime(tmp_path / name, (time.time() - 601, time.time() - 601))
    f.save(tmp_path / "m")  # older than 10 minutes: stale whoever wrote it (a reused pid)
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
