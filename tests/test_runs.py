"""Training runs (lstmcast.runs): start / resume / finish with the config and data checksums, from
Python and from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from lstmcast import Forecaster
from lstmcast.cli import main
from lstmcast.errors import RunError
from lstmcast.runs import Run, config_sha256
from lstmcast.training.loop import Callback
from tests.conftest import dated_frame, tiny_config


class Killed(Exception):
    pass


class KillAt(Callback):
    """Dies at the end of an epoch, after the checkpoint of the epoch before was written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, state, record) -> None:
        if record.epoch == self.epoch:
            raise Killed


def config():
    return tiny_config(data={"targets": ("y",), "input_length": 24, "horizon": 3}, train={"max_epochs": 4})


@pytest.fixture
def frame() -> pd.DataFrame:
    return dated_frame(200)


def killed_run(out: Path, frame: pd.DataFrame, cfg=None, data: Path | None = None) -> None:
    with pytest.raises(Killed), Run(out, data=data) as run:
        Forecaster(cfg or config()).fit(frame, run=run, callbacks=[KillAt(3)])
    assert (run.dir / "checkpoint.pt").is_file() and (run.dir / "run.json").is_file()
    assert not list(run.dir.glob("*checkpoint.pt.tmp*"))


def test_python_run_resumes_bit_exactly_and_finishes(tmp_path, frame):
    reference = Forecaster(config()).fit(frame)
    out = tmp_path / "m"
    killed_run(out, frame)
    with Run(out, resume=True) as run:
        forecaster = Forecaster(config()).fit(frame, run=run)
        assert run.finish(forecaster) == out
    for name, value in reference.network_.state_dict().items():
        assert torch.equal(value, forecaster.network_.state_dict()[name]), name
    assert not run.dir.exists() and (out / "weights.safetensors").is_file()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["run"]["resumed"] is True
    pd.testing.assert_frame_equal(Forecaster.load(out).predict(frame).to_frame(),
                                  forecaster.predict(frame).to_frame())


def test_python_resume_refuses_a_changed_config_or_frame(tmp_path, frame):
    out = tmp_path / "m"
    killed_run(out, frame)
    changed = tiny_config(data={"targets": ("y",), "input_length": 48, "horizon": 3},
                          model={"hidden_size": 16}, train={"max_epochs": 4})
    with pytest.raises(RunError) as info, Run(out, resume=True) as run:
        Forecaster(changed).fit(frame, run=run)
    message = str(info.value)
    assert "2 key(s) differ" in message and "(old -> new)" in message
    assert "data.input_length: 24 -> 48" in message and "model.hidden_size: 8 -> 16" in message
    assert "start a new run without --resume" in message and "pass the config the run started with" in message
    other = frame.assign(y=frame["y"] + 1e-9)
    with pytest.raises(RunError, match="The data differs from the data the run .* started on"), \
            Run(out, resume=True) as run:
        Forecaster(config()).fit(other, run=run)
    assert (out.with_name("m.partial") / "checkpoint.pt").is_file()  # a refused resume keeps the run


def test_a_new_run_never_resumes_and_two_runs_are_refused(tmp_path, frame):
    out = tmp_path / "m"
    killed_run(out, frame)
    stale = torch.load(out.with_name("m.partial") / "checkpoint.pt", weights_only=True)["epoch"]
    with Run.start(out, config(), frame=frame) as first:
        assert not first.checkpoint.exists()  # the killed run's checkpoint is gone
        with pytest.raises(RunError, match="Another `lstmcast train` is writing"):
            Run.start(out, config(), frame=frame)
        assert first.dir.is_dir()  # the refused run left the running one's directory alone
        Forecaster(config()).fit(frame, run=first)
        assert torch.load(first.checkpoint, weights_only=True)["epoch"] == 4 != stale
        first.finish(Forecaster(config()).fit(frame))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_run_failing_before_its_first_checkpoint_leaves_nothing(tmp_path, frame):
    with pytest.raises(Killed), Run(tmp_path / "m") as run:
        Forecaster(config()).fit(frame, run=run, callbacks=[KillAt(1)])
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_after_the_run_directory_is_made_but_before_its_lock_leaves_nothing(tmp_path, monkeypatch):
    """CI's flake: Ctrl-C landed between mkdir of OUT.partial/ and taking its lock, and the failed
    run, holding no lock, left the directory behind."""
    original, calls = Run._acquire, []

    def interrupted(self):
        calls.append(1)
        if len(calls) == 1:  # Ctrl-C lands as the new run goes to take its lock
            raise KeyboardInterrupt
        original(self)

    with monkeypatch.context() as patch:
        patch.setattr(Run, "_acquire", interrupted)
        with pytest.raises(KeyboardInterrupt):
            Run.start(tmp_path / "m", config())
    assert list(tmp_path.iterdir()) == [] and len(calls) == 2
    # a directory another run made (and holds) is left alone by a run that failed to lock it
    holder = Run.start(tmp_path / "m", config())
    with pytest.raises(RunError, match="Another `lstmcast train` is writing"):
        Run.start(tmp_path / "m", config())
    assert (tmp_path / "m.partial" / "run.json").is_file()
    holder.fail()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("step", ["mkdir", "open", "flock"])
def test_a_real_ctrl_c_right_after_each_step_of_starting_leaves_nothing(tmp_path, monkeypatch, step):
    """CI's second flake: a SIGINT landing just after the directory was made (before it was marked
    as this run's) or just after the lock was taken (before it was kept) left OUT.partial/ behind.
    Here a real SIGINT is raised right after each step: it waits for the step's record, then the
    failed run removes what it made."""
    import builtins
    import fcntl
    import signal

    owner = {"mkdir": Path, "open": builtins, "flock": fcntl}[step]
    original = getattr(owner, step)
    fired = []

    def then_ctrl_c(*args, **kwargs):
        result = original(*args, **kwargs)
        if step != "open" or str(args[0]).endswith("lock"):
            if not fired:
                fired.append(step)
                signal.raise_signal(signal.SIGINT)
        return result

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(owner, step, then_ctrl_c)
            with pytest.raises(KeyboardInterrupt):
                Run.start(tmp_path / "m", config())
    finally:
        signal.signal(signal.SIGINT, previous)
    assert fired == [step] and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- the command line
FAST = ["--quiet"]


@pytest.fixture
def killed_cli_run(tmp_path, frame) -> tuple[Path, Path]:
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "m"
    from lstmcast.data.io import read_table

    killed_run(out, read_table(data), data=data)  # the frame as the command line reads it
    return out, data


def error_of(args, capsys) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "size mismatch" not in err
    return err


@pytest.mark.parametrize(("options", "changes"), [
    (["--set", "model.hidden_size=16"], ["model.hidden_size: 8 -> 16"]),
    (["--input-length", "48"], ["data.input_length: 24 -> 48"]),
    (["--set", "model.num_layers=2", "--horizon", "6"], ["data.horizon: 3 -> 6", "model.num_layers: 1 -> 2"]),
])
def test_cli_resume_after_changing_the_architecture(killed_cli_run, capsys, options, changes):
    out, _ = killed_cli_run
    err = error_of(["train", "--resume", str(out), *options, *FAST], capsys)
    assert f"{len(changes)} key(s) differ from the config the run {out} started with (old -> new)" in err
    for change in changes:
        assert change in err
    assert "drop --set/--config and the options that change it" in err
    assert "start a new run without --resume" in err
    assert (out.with_name("m.partial") / "checkpoint.pt").is_file()


def test_cli_resume_with_the_same_config_continues(killed_cli_run, capsys):
    out, _ = killed_cli_run
    assert main(["train", "--resume", str(out), "--set", "model.hidden_size=8", *FAST]) == 0  # an unchanged key
    assert json.loads((out / "meta.json").read_text())["run"]["resumed"] is True
    assert not out.with_name("m.partial").exists()


def test_cli_resume_refuses_damaged_records(killed_cli_run, capsys):
    out, data = killed_cli_run
    record_path = out.with_name("m.partial") / "run.json"
    record = json.loads(record_path.read_text())
    tampered = {**record, "config": {**record["config"], "model": {**record["config"]["model"], "hidden_size": 16}}}
    record_path.write_text(json.dumps(tampered))
    assert "was modified after the run started (config checksum mismatch)" in error_of(
        ["train", "--resume", str(out)], capsys)
    # edited with its checksum recomputed: the checkpoint no longer fits the network
    record_path.write_text(json.dumps({**tampered, "config_sha256": config_sha256(tampered["config"])}))
    err = error_of(["train", "--resume", str(out)], capsys)
    assert "does not fit the network of the run's config (its lstm.weight_ih_l0 has shape [32, 1], the network's " \
        "[64, 1])" in err and "Start a new run without --resume" in err
    record_path.write_text("{not json")
    assert "is not valid JSON" in error_of(["train", "--resume", str(out)], capsys)
    record_path.write_text(json.dumps({k: v for k, v in record.items() if k not in ("data_sha256", "frame_sha256")}))
    assert "lacks the checksum of the run's data" in error_of(["train", "--resume", str(out)], capsys)
    record_path.write_text(json.dumps(record))
    data.unlink()
    err = error_of(["train", "--resume", str(out)], capsys)
    assert f"{data}, the data file the run started on, no longer exists" in err


@pytest.mark.parametrize("state", [{}, {"model": {}, "epoch": "7"}, {"model": {}, "epoch": 2.5}])
def test_cli_resume_refuses_a_bad_checkpoint(killed_cli_run, capsys, state):
    out, _ = killed_cli_run
    checkpoint = out.with_name("m.partial") / "checkpoint.pt"
    torch.save(state, checkpoint)
    err = error_of(["train", "--resume", str(out), *FAST], capsys)
    assert f"Checkpoint {checkpoint} lacks the model state or an integer epoch" in err
    assert "Start a fresh run" in err and "weights_only" not in err


def test_the_deferral_restores_the_signal_mask():
    """Inside deferred() SIGINT is blocked; after it, also after an exception, the mask is as before."""
    import signal

    from lstmcast._interrupt import deferred

    before = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    with deferred():
        assert signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ())
    assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == before
    with pytest.raises(RuntimeError), deferred():
        raise RuntimeError("inside")
    assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == before
