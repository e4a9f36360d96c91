"""Start the forecast service under uvicorn: one process, or N worker processes sharing one
listening socket that this module binds itself.

Two things make ``--workers N`` dependable here:

* **Workers start light.** uvicorn spawns each worker with multiprocessing's *spawn* method,
  which first re-imports the parent's ``__main__`` (the ``lstmcast`` console script: the whole
  CLI) before the worker can answer the supervisor's health ping; uvicorn kills a worker silent
  for ``timeout_worker_healthcheck`` seconds, so on a loaded machine workers were restarted
  forever. While the supervisor starts its workers, ``__main__`` is replaced by an empty module
  (nothing to re-import), the app is loaded from :func:`app_from_env` after the ping thread runs,
  and the health-check timeout is raised to :data:`HEALTHCHECK_SECONDS`.
* **TCP_NODELAY on every connection.** uvicorn binds with protocol 0, so asyncio never sets
  TCP_NODELAY on accepted connections and a keep-alive answer written in two parts waits for
  the client's delayed ACK (~40 ms; uvicorn issue 3149). The socket bound here names
  ``IPPROTO_TCP``, which accepted connections inherit, so asyncio sets TCP_NODELAY on each.

This module imports only the standard library at import time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import types
from collections.abc import Iterator
from typing import Any

ENV_MODEL, ENV_BACKEND, ENV_ONNX = "LSTMCAST_SERVE_MODEL", "LSTMCAST_SERVE_BACKEND", "LSTMCAST_SERVE_ONNX"
HEALTHCHECK_SECONDS = 60
APP_FACTORY = "lstmcast.serving.worker:app_from_env"


def app_from_env() -> Any:
    """Factory for worker processes (``uvicorn --factory``): the model and backend come from
    ``LSTMCAST_SERVE_MODEL``, ``LSTMCAST_SERVE_BACKEND`` and ``LSTMCAST_SERVE_ONNX``."""
    from lstmcast.errors import LstmcastError
    from lstmcast.serving.app import create_app

    model_dir = os.environ.get(ENV_MODEL)
    if not model_dir:
        raise LstmcastError(f"Set {ENV_MODEL} to a model directory (lstmcast serve does this for you).")
    return create_app(model_dir, backend=os.environ.get(ENV_BACKEND, "auto"),
                      onnx_file=os.environ.get(ENV_ONNX) or None)


def listen_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket created with ``IPPROTO_TCP`` (so asyncio sets TCP_NODELAY on the
    connections it accepts), inheritable by worker processes."""
    from lstmcast.errors import LstmcastError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise LstmcastError(f"Cannot listen on {host}:{port}: {exc.strerror}; check --host.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        hint = ("another process listens there; stop it or choose another --port" if exc.errno == errno.EADDRINUSE
                else "choose a port above 1023 or run with the needed rights" if exc.errno == errno.EACCES
                else "check --host and --port")
        raise LstmcastError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}.") from None
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def light_main() -> Iterator[None]:
    """Let spawned processes start without re-importing this process's ``__main__``."""
    real = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to import
    try:
        yield
    finally:
        if real is not None:
            sys.modules["__main__"] = real


def serve(app: Any, host: str, port: int, workers: int = 1, *, quiet: bool = False,
          env: dict[str, str] | None = None) -> None:
    """Run uvicorn until interrupted. ``app``: an ASGI app (one process) or ignored for
    ``workers > 1``, where each worker builds it with :func:`app_from_env` from ``env``."""
    from lstmcast.errors import require

    require("uvicorn", "serve")
    from uvicorn import Config, Server
    from uvicorn.supervisors import Multiprocess

    log_level, access_log = ("warning" if quiet else "info"), not quiet
    sock = listen_socket(host, port)
    try:
        if workers <= 1:
            Server(Config(app, host=host, port=port, log_level=log_level,
                          access_log=access_log)).run(sockets=[sock])
            return
        os.environ.update(env or {})
        config = Config(APP_FACTORY, factory=True, host=host, port=port, workers=workers,
                        timeout_worker_healthcheck=HEALTHCHECK_SECONDS, log_level=log_level,
                        access_log=access_log)
        with light_main():
            Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
