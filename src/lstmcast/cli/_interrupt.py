"""Ctrl-C before main() runs, while the command line imports: one line and exit 130, as in main().

Imported first by ``lstmcast.cli``. When the package is run as the program (``python -m
lstmcast.cli``, or the ``lstmcast`` console script), a SIGINT handler covers the imports and
runpy's start of ``__main__``; :func:`restore` hands Ctrl-C back to ``KeyboardInterrupt`` when
main() starts. Imported by another program, it changes nothing.
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


if sys.argv[:1] == ["-m"] or sys.argv[0].endswith("lstmcast"):  # run as the program, not imported by one
    signal.signal(signal.SIGINT, _interrupted_while_starting)
