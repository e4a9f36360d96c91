"""Ctrl-C in the command line: one line and exit 130, wherever it lands.

Imported first by ``lstmcast``. When the command line is the program (``python -m lstmcast.cli``,
or the ``lstmcast`` console script), a SIGINT handler covers the package's imports and runpy's
start of ``__main__``: nothing has been written yet, so it prints the line and exits at once.

:func:`restore` (called when main() starts) installs the handler for the rest of the command: it
raises ``KeyboardInterrupt``, which main() turns into its line, except while Python is importing a
module. An exception raised inside a third-party import can be swallowed there (a library's
``try: import x / except ...``, a compiled module's initialisation) and the command would then
run to its end as if never interrupted; so inside an import the interrupt waits, polled every
20 ms, until the import has finished. In any other program that imports lstmcast nothing changes.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_POLL_S = 0.02


def _interrupted_while_starting(signum: int, frame: object) -> None:
    import os

    sys.stderr.write("lstmcast: interrupted after 0s\n")
    os._exit(130)  # nothing has been written yet that would need a clean shutdown


def _in_import(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGINT (and the SIGALRM polls of a deferred one): KeyboardInterrupt, outside imports."""
    if _in_import(frame) and hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, _ctrl_c)
        signal.setitimer(signal.ITIMER_REAL, _POLL_S)
        return
    if signum != signal.SIGINT:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    raise KeyboardInterrupt


def restore() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt (main() turns it into its one line)."""
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, _ctrl_c)


@contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C waits until the block has finished (SIGINT and the SIGALRM poll blocked in this thread),
    for steps whose state must be recorded together with their effect (a directory made and marked
    as this run's, a lock taken and kept). A Ctrl-C that arrived before the block lands at its
    first line, before anything was done."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ())  # the mask as it is: nothing blocked yet
    try:  # a Ctrl-C landing as the call below returns still restores the mask
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGALRM})
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _is_the_command_line() -> bool:
    argv = list(getattr(sys, "orig_argv", []))  # the interpreter's own command line (Python 3.10+)
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "lstmcast.cli":
        return True
    return bool(sys.argv) and sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] in ("lstmcast", "lstmcast.exe")


if _is_the_command_line():
    signal.signal(signal.SIGINT, _interrupted_while_starting)
