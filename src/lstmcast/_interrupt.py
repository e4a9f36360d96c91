"""Ctrl-C before the command line's main() runs: one line and exit 130, as in main().

Imported first by ``lstmcast``. When the command line is the program (``python -m lstmcast.cli``,
or the ``lstmcast`` console script), a SIGINT handler covers the package's imports and runpy's
start of ``__main__``; :func:`restore` hands Ctrl-C back to ``KeyboardInterrupt`` when main()
starts. In any other program that imports lstmcast it changes nothing.
"""

from __future__ import annotations

import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:
    import os

    sys.stderr.write("lstmcast: interrupted after 0s\n")
    os._exit(130)  # nothing has been written yet that would need a clean shutdown


def restore() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt (main() turns it into its one line)."""
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _is_the_command_line() -> bool:
    argv = list(getattr(sys, "orig_argv", []))  # the interpreter's own command line (Python 3.10+)
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "lstmcast.cli":
        return True
    return bool(sys.argv) and sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] in ("lstmcast", "lstmcast.exe")


if _is_the_command_line():
    signal.signal(signal.SIGINT, _interrupted_while_starting)
