"""Fault injection on real file systems: a full disk and a read-only one, under train and predict.

A small tmpfs is mounted for each test when this process may (root, and `mount -t tmpfs` works);
otherwise the test is skipped with the exact reason. The tmpfs is unmounted in a finalizer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lstmcast import Forecaster
from lstmcast.cli import main
from lstmcast.errors import OutputError
from tests.conftest import dated_frame

FAST = ["--set", "train.max_epochs=2", "--set", "model.hidden_size=8", "--quiet"]


def _mount_tmpfs(tmp_path: Path, request: pytest.FixtureRequest, size: str = "8m") -> Path:
    if os.geteuid() != 0:
        pytest.skip(f"mounting a tmpfs needs root; this test runs as uid {os.geteuid()}")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("the `mount`/`umount` commands are not installed here")
    point = tmp_path / "disk"
    point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"`mount -t tmpfs` failed here (exit {proc.returncode}): {proc.stderr.strip()}")
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(point)], capture_output=True))
    return point


@pytest.fixture
def disk(tmp_path, request) -> Path:
    return _mount_tmpfs(tmp_path, request)


def fill(disk: Path) -> Path:
    """Write a ballast file until the file system refuses (ENOSPC); returns it (delete it to free)."""
    ballast = disk / "ballast"
    with open(ballast, "wb", buffering=0) as handle:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while handle.write(b"\0" * chunk):
                    pass
            except OSError as exc:
                assert exc.errno == 28, exc
    assert shutil.disk_usage(disk).free < 1 << 12
    return ballast


def listing(disk: Path) -> list[str]:
    return sorted(p.name for p in disk.iterdir() if p.name != "ballast")


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "hourly.csv"
    dated_frame(200).to_csv(path, index=False)
    return path


def train_args(csv: Path, out: Path) -> list[str]:
    return ["train", "--data", str(csv), "--target", "y", "--input-length", "24", "--horizon", "6", "--out", str(out),
            *FAST]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "lstmcast.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def forecast_of(model: Path, csv: Path) -> pd.DataFrame:
    return Forecaster.load(model).predict(pd.read_csv(csv)).to_frame()


def test_full_disk_at_the_final_save_keeps_the_previous_model(disk, csv, capsys, monkeypatch):
    import lstmcast.persistence as persistence

    out = disk / "m"
    assert main(train_args(csv, out)) == 0
    before = forecast_of(out, csv)
    staged = persistence._save_staged
    ballast: list[Path] = []

    def fill_then_save(*args, **kwargs):  # the disk fills up while the run trains; the save meets it
        ballast.append(fill(disk))
        return staged(*args, **kwargs)

    monkeypatch.setattr(persistence, "_save_staged", fill_then_save)
    capsys.readouterr()
    assert main(train_args(csv, out)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ballast
    assert f"Cannot write the model directory {out}: no space left on device" in err
    assert "Fix: free some space there, or choose another --out" in err
    assert "any previous model there is unchanged" in err
    pd.testing.assert_frame_equal(forecast_of(out, csv), before)  # still loads, predicts identically
    assert listing(disk) == ["m"]  # no .m.stage.*, no m.partial/, no *.tmp* file

    ballast[0].unlink()  # space again: the same command succeeds
    monkeypatch.setattr(persistence, "_save_staged", staged)
    assert main(train_args(csv, out)) == 0
    assert listing(disk) == ["m"]
    Forecaster.load(out)


def test_full_disk_before_the_run_real_process(disk, csv):
    out = disk / "m"
    assert cli(*train_args(csv, out)).returncode == 0
    before = forecast_of(out, csv)
    ballast = fill(disk)
    proc = cli(*train_args(csv, out))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{out}.partial: no space left on device" in proc.stderr and "free some space there" in proc.stderr
    pd.testing.assert_frame_equal(forecast_of(out, csv), before)
    assert listing(disk) == ["m"]
    ballast.unlink()
    assert cli(*train_args(csv, out)).returncode == 0 and listing(disk) == ["m"]


def test_python_save_onto_a_full_disk(disk, csv):
    out = disk / "m"
    assert main(train_args(csv, out)) == 0
    model = Forecaster.load(out)
    before = forecast_of(out, csv)
    ballast = fill(disk)
    with pytest.raises(OutputError, match=f"Cannot write the model directory {out}: no space left on device"):
        model.save(out)
    pd.testing.assert_frame_equal(forecast_of(out, csv), before)
    assert listing(disk) == ["m"]
    ballast.unlink()
    model.save(out)
    assert listing(disk) == ["m"]


def test_predict_out_onto_a_full_disk_leaves_no_half_written_file(disk, csv, tmp_path):
    model = tmp_path / "m"
    assert main(train_args(csv, model)) == 0
    target = disk / "forecast.csv"
    assert cli("predict", "--model", str(model), "--data", str(csv), "--out", str(target)).returncode == 0
    written = target.read_bytes()
    target.write_bytes(written[: len(written) // 2])  # a previous file, different from the new forecast
    previous = target.read_bytes()
    ballast = fill(disk)
    proc = cli("predict", "--model", str(model), "--data", str(csv), "--out", str(target))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"Cannot write the forecast {target}: no space left on device" in proc.stderr
    assert "any previous file there is unchanged" in proc.stderr
    assert target.read_bytes() == previous and listing(disk) == ["forecast.csv"]  # no .forecast.csv.tmp*
    ballast.unlink()
    assert cli("predict", "--model", str(model), "--data", str(csv), "--out", str(target)).returncode == 0
    assert target.read_bytes() == written


def _make_read_only(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str, callable]:
    """A directory this process cannot write to: chmod 0555 for a normal user; as root (who
    ignores permissions) a tmpfs remounted read-only. Returns it, the expected cause, and `lock()`."""
    if os.geteuid() != 0:
        where = tmp_path / "ro"
        where.mkdir()
        request.addfinalizer(lambda: where.chmod(0o755))
        return where, "permission denied: the directory", lambda: where.chmod(0o555)
    where = _mount_tmpfs(tmp_path, request)

    def lock() -> None:
        proc = subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"`mount -o remount,ro` failed here (exit {proc.returncode}): {proc.stderr.strip()}")

    return where, "is on a read-only file system", lock


def test_read_only_output_directory(tmp_path, request, csv):
    where, cause, lock = _make_read_only(tmp_path, request)
    out, target = where / "m", where / "forecast.csv"
    assert cli(*train_args(csv, out)).returncode == 0
    assert cli("predict", "--model", str(out), "--data", str(csv), "--out", str(target)).returncode == 0
    before, previous = forecast_of(out, csv), target.read_bytes()
    lock()

    proc = cli(*train_args(csv, out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"Cannot write the run directory {out}.partial: " in proc.stderr and cause in proc.stderr
    assert "choose another --out" in proc.stderr
    proc = cli("predict", "--model", str(out), "--data", str(csv), "--out", str(target))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"Cannot write the forecast {target}: " in proc.stderr and cause in proc.stderr
    assert "choose another --out" in proc.stderr
    pd.testing.assert_frame_equal(forecast_of(out, csv), before)  # the model loads from a read-only disk
    assert target.read_bytes() == previous
    assert sorted(p.name for p in where.iterdir()) == ["forecast.csv", "m"]


def test_read_only_at_the_final_save(tmp_path, request, csv, capsys, monkeypatch):
    """The directory turns read-only while the run trains: the final save is refused, the previous
    model stays."""
    import lstmcast.persistence as persistence

    where, cause, lock = _make_read_only(tmp_path, request)
    out = where / "m"
    assert main(train_args(csv, out)) == 0
    before = forecast_of(out, csv)
    staged = persistence._save_staged

    def lock_then_save(*args, **kwargs):
        lock()
        return staged(*args, **kwargs)

    monkeypatch.setattr(persistence, "_save_staged", lock_then_save)
    capsys.readouterr()
    assert main(train_args(csv, out)) == 2
    err = capsys.readouterr().err
    assert f"Cannot write the model directory {out}: " in err and cause in err and "Traceback" not in err
    pd.testing.assert_frame_equal(forecast_of(out, csv), before)
    # the run directory could not be removed from a read-only disk; what is left is a complete
    # checkpoint and run record (resumable), never a staging directory or a temporary file
    names = sorted(p.name for p in where.iterdir())
    assert not [n for n in names if ".stage." in n or ".tmp" in n], names


def test_full_disk_at_a_checkpoint_keeps_the_last_one_for_resume(disk, csv, capsys, monkeypatch):
    """torch reports a full disk as a RuntimeError without an errno: the file system is probed;
    the half-written checkpoint file goes, the last complete checkpoint stays, --resume finishes."""
    import lstmcast.training.checkpoint as checkpoint

    out = disk / "m"
    assert main(train_args(csv, out)) == 0
    before = forecast_of(out, csv)
    save = checkpoint.save_checkpoint
    calls: list[Path] = []

    def fill_at_the_second(state, path):
        if len(calls) == 1:
            calls.append(fill(disk))
        else:
            calls.append(path)
        return save(state, path)

    monkeypatch.setattr(checkpoint, "save_checkpoint", fill_at_the_second)
    args = [a if a != "train.max_epochs=2" else "train.max_epochs=4" for a in train_args(csv, out)]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"Cannot write the run's checkpoint {out}.partial: no space left on device" in err, err
    assert f"the last complete checkpoint is kept: continue with `lstmcast train --resume {out}`" in err
    assert "Traceback" not in err
    pd.testing.assert_frame_equal(forecast_of(out, csv), before)
    assert listing(disk) == ["m", "m.partial"]
    assert sorted(p.name for p in (disk / "m.partial").iterdir()) == ["checkpoint.pt", "lock", "run.json"]

    calls[1].unlink()  # the ballast: space again
    monkeypatch.setattr(checkpoint, "save_checkpoint", save)
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert listing(disk) == ["m"]
    assert Forecaster.load(out).meta_["run"]["resumed"] is True
