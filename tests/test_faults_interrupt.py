"""Ctrl-C in a real process: while the command imports torch, and at fixed early moments."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import dated_frame

SRC = str(Path(__file__).resolve().parents[1] / "src")


def start(tmp_path: Path, *python_flags: str) -> subprocess.Popen[str]:
    data = tmp_path / "d.csv"
    dated_frame(200).to_csv(data, index=False)
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, *python_flags, "-m", "lstmcast.cli", "train", "--data", str(data),
                             "--target", "y", "--out", str(tmp_path / "m"), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen[str], before: str = "") -> str:
    _, err = proc.communicate(timeout=120)
    err = before + err
    lines = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert proc.returncode == 130, (proc.returncode, "\n".join(lines[-20:]))
    assert len(lines) == 1 and re.fullmatch(r"lstmcast( train)?: interrupted after \d+s", lines[0]), lines
    return lines[0]


def interrupt_at(proc: subprocess.Popen[str], module: str, delay: float = 0.0) -> str:
    """Read -X importtime's lines (one as each import completes) until ``module`` has imported,
    wait ``delay`` seconds, send SIGINT; returns what was read."""
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        name = line.rsplit("|", 1)[-1].strip()
        if name == module or (module.endswith(".") and name.startswith(module)):
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            return "".join(seen)
    pytest.fail(f"the command ended before it imported {module}:\n" + "".join(seen[-20:]))


def test_ctrl_c_while_torch_imports(tmp_path):
    """The first torch submodule has imported, torch itself has not: SIGINT lands inside
    `import torch` (the slowest part of a command's start)."""
    proc = start(tmp_path, "-X", "importtime")
    seen = interrupt_at(proc, "torch.")
    assert not any(line.rsplit("|", 1)[-1].strip() == "torch" for line in seen.splitlines())
    finish(proc, seen)
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.2, 0.3])
def test_ctrl_c_in_the_first_moments(tmp_path, delay):
    """Counted from the moment lstmcast's first module (``lstmcast._interrupt``) has imported.
    Before it the interpreter itself starts (site, encodings; about 15 ms on an idle machine) and
    Ctrl-C there is Python's own."""
    proc = start(tmp_path, "-X", "importtime")
    finish(proc, interrupt_at(proc, "lstmcast._interrupt", delay))
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


def test_ctrl_c_inside_an_import_waits_for_the_import_to_finish(tmp_path):
    """A library that swallows exceptions while it imports must not swallow Ctrl-C: the interrupt
    lands after the import, where main() turns it into its line."""
    (tmp_path / "swallows.py").write_text(
        "import signal, time\n"
        "try:\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "    time.sleep(0.1)\n"
        "except BaseException:\n"
        "    pass  # what a careless import guard does\n"
        "finished = True\n")
    code = ("import signal, sys\n"
            "from lstmcast import _interrupt\n"
            "signal.signal(signal.SIGINT, _interrupt._interrupted_while_starting)\n"
            "_interrupt.restore()\n"
            "try:\n"
            "    import swallows\n"
            "    import time; time.sleep(1)\n"
            "    print('not interrupted')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted after the import:', swallows.finished)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(tmp_path)])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == "interrupted after the import: True", (done.stdout, done.stderr)
