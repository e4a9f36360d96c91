"""Start-up pays only for what a command uses: checked on sys.modules of a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("torch", "numpy", "pandas", "matplotlib", "rich", "lstmcast.lstm", "lstmcast.forecaster")


def loaded_after(code: str) -> set[str]:
    """Module names present after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_lstmcast_is_light():
    modules = loaded_after("import lstmcast\nlstmcast.TrainConfig(); lstmcast.__version__")
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_help_does_not_import_torch():
    modules = loaded_after("import contextlib, io\nfrom lstmcast.cli import main\n"
                           "with contextlib.redirect_stdout(io.StringIO()):\n"
                           "    try:\n        main(['--help'])\n    except SystemExit:\n        pass")
    assert "lstmcast.cli" in modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def imported_by(args: list[str]) -> tuple[set[str], subprocess.CompletedProcess]:
    """Modules a fresh ``python -X importtime ARGS`` imports (read from its import-time log)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-X", "importtime", *args], env=env, capture_output=True, text=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and line.count("|") == 2}
    return names - {"package"}, done


def test_importtime_of_import_lstmcast_shows_no_matplotlib_nor_the_teaching_package():
    modules, done = imported_by(["-c", "import lstmcast"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "lstmcast" in modules and "lstmcast.config" in modules  # the log was read
    assert not modules & {"matplotlib", "lstmcast.lstm", "torch"}, sorted(modules & {"matplotlib", "lstmcast.lstm", "torch"})


@pytest.mark.parametrize("command", [[], ["train"], ["predict"], ["serve"], ["inspect"], ["gradient-flow"],
                                     ["bench", "ett"]])
def test_the_command_line_help_does_not_import_torch(command):
    """``python -m lstmcast.cli [COMMAND] --help`` (what the ``lstmcast`` script runs) stays light."""
    modules, done = imported_by(["-m", "lstmcast.cli", *command, "--help"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: lstmcast" in done.stdout
    assert "lstmcast.cli.lstm" in modules  # the log was read, and every command group was loaded
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_the_forecaster_loads_on_first_use_without_the_teaching_package():
    modules = loaded_after("import lstmcast\nlstmcast.Forecaster")
    assert {"torch", "lstmcast.forecaster"} <= modules
    assert not modules & {"matplotlib", "lstmcast.lstm", "torch._dynamo"}


def test_training_and_predicting_never_import_dynamo():
    """torch.optim optimisers and torch.use_deterministic_algorithms import torch._dynamo
    (about 1 CPU-s); a run that does not compile must not pay for it."""
    modules = loaded_after(
        "from lstmcast import DataConfig, ForecastConfig, Forecaster, ModelConfig, TrainConfig\n"
        "from lstmcast.data.synthetic import noisy_sine\n"
        "frame = noisy_sine(120, seed=0)\n"
        "config = ForecastConfig(DataConfig(targets=('value',), input_length=8), ModelConfig(hidden_size=4),\n"
        "                        TrainConfig(max_epochs=2, grad_clip=0.5))\n"
        "f = Forecaster(config).fit(frame)\n"
        "f.predict(frame)"
    )
    assert "torch._dynamo" not in modules and "torch._inductor" not in modules
    assert "matplotlib" not in modules


def test_unknown_attribute_is_an_attribute_error():
    import lstmcast

    with pytest.raises(AttributeError, match="no attribute 'Forecastr'"):
        lstmcast.Forecastr  # noqa: B018
