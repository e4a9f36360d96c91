"""The HTTP service: ``create_app(model_dir)`` builds a FastAPI app around one loaded model.

Endpoints: ``GET /health``, ``GET /model`` (config, columns, horizon, metrics, backend),
``POST /predict`` (one or many series' history in, forecasts out), ``GET /docs`` (OpenAPI page)
and ``GET /openapi.json``. Every problem with a request is a 4xx answer whose ``message``
names the field (``series[0].history.value[3]: Input should be a finite number``): 422 for
invalid content, 413 for a body over ``max_body_bytes``. The app holds no globals: the model
lives on ``app.state.predictor``.

Run it with ``lstmcast serve --model DIR`` (uvicorn), or mount the app in your own server.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint annotations at
# runtime, and the request model is imported inside create_app.
import os
from pathlib import Path
from typing import Any

from lstmcast.errors import LstmcastError, require
from lstmcast.serving.predictor import Predictor, RequestError, format_loc

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_SERIES = 4096
INLINE_SERIES = 16  # requests up to this many series run on the event loop (ONNX Runtime only)
ENV_MODEL, ENV_BACKEND, ENV_ONNX = "LSTMCAST_SERVE_MODEL", "LSTMCAST_SERVE_BACKEND", "LSTMCAST_SERVE_ONNX"


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over ``limit`` bytes, before any parsing
    (a declared Content-Length is refused at once; a chunked body is counted as it arrives)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await _json_reply(send, 400, "Content-Length header is not a number.", "header.content-length")
                return
            if too_big:
                await _json_reply(send, 413, self._message(int(declared)), "body")
                return
        body, more, size = [], True, 0
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _json_reply(send, 413, self._message(size, at_least=True), "body")
                return
            body.append(chunk)
            more = message.get("more_body", False)
        payload = b"".join(body)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _message(self, size: int, at_least: bool = False) -> str:
        return (f"The request body is {'over ' if at_least else ''}{size} bytes; the limit is {self.limit}. "
                "Send fewer series or shorter histories per request (only the last input_length rows are read).")


async def _json_reply(send: Any, status: int, message: str, field: str) -> None:
    import json

    body = json.dumps({"message": f"{field}: {message}",
                       "detail": [{"loc": [field], "msg": message, "type": "request_error"}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(model_dir: str | Path, *, backend: str = "auto", onnx_file: str | Path | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, max_series: int = MAX_SERIES, threads: int = 1) -> Any:
    """A FastAPI app serving the model in ``model_dir`` (loaded once, here).

    ``backend``: auto (ONNX Runtime when it reproduces the model, else eager torch), onnx or
    torch. ``onnx_file``: an exported graph to use (see :mod:`lstmcast.serving.predictor`).
    """
    require("fastapi", "serve")
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    from lstmcast._version import __version__
    from lstmcast.serving.schemas import ErrorResponse, PredictRequest, PredictResponse

    predictor = Predictor(model_dir, backend=backend, onnx_file=onnx_file, threads=threads)
    d = predictor.forecaster.config_.data
    app = FastAPI(
        title="lstmcast forecast service",
        version=__version__,
        description=(f"LSTM forecasts of {', '.join(predictor.targets)}: send at least {d.input_length} recent "
                     f"rows of {', '.join(predictor.columns)} per series, get the next {d.horizon} steps."),
    )
    app.state.predictor = predictor
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    errors = {422: {"model": ErrorResponse, "description": "Invalid request; the message names the field."},
              413: {"model": ErrorResponse, "description": "Request body too large."}}

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        items = []
        for err in exc.errors():
            loc = [p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith(("list[", "function-")))]
            msg = err.get("msg", "invalid")
            if err.get("type") == "json_invalid":
                msg = f"the body is not valid JSON ({err.get('ctx', {}).get('error', msg)})"
                loc = ["body"]
            items.append({"loc": loc, "msg": msg, "type": err.get("type", "value_error")})
        first = items[0] if items else {"loc": ["body"], "msg": "invalid request"}
        return JSONResponse(status_code=422, content={"message": f"{format_loc(first['loc'])}: {first['msg']}",
                                                      "detail": items})

    @app.exception_handler(RequestError)
    async def unservable(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "message": str(exc), "detail": [{"loc": list(exc.loc), "msg": exc.msg, "type": "request_error"}]})

    @app.exception_handler(LstmcastError)
    async def data_problem(request: Request, exc: LstmcastError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "message": f"body: {exc}", "detail": [{"loc": ["body"], "msg": str(exc), "type": "data_error"}]})

    @app.get("/health", summary="Liveness: the model is loaded")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "backend": predictor.backend}

    @app.get("/model", summary="The model: config, columns, horizon, metrics, backend")
    async def model() -> dict[str, Any]:
        return predictor.describe()

    @app.post("/predict", response_model=PredictResponse, responses=errors,
              summary="Forecast the next horizon steps of one or many series")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        if len(request.series) > max_series:
            raise RequestError(("body", "series"), f"has {len(request.series)} series; at most {max_series} per "
                               "request. Split the request.")
        if predictor.session is not None and len(request.series) <= INLINE_SERIES:
            # ~0.1 ms of work on ONNX Runtime: cheaper on the event loop than a thread-pool hop,
            # and 64 concurrent requests do not convoy 40 threads on the GIL
            return predictor.predict(request.series)
        return await run_in_threadpool(predictor.predict, request.series)

    return app


def app_from_env() -> Any:
    """Factory for ``uvicorn --factory`` / worker processes: settings come from the environment
    (``LSTMCAST_SERVE_MODEL``, ``LSTMCAST_SERVE_BACKEND``, ``LSTMCAST_SERVE_ONNX``)."""
    model_dir = os.environ.get(ENV_MODEL)
    if not model_dir:
        raise LstmcastError(f"Set {ENV_MODEL} to a model directory (lstmcast serve does this for you).")
    return create_app(model_dir, backend=os.environ.get(ENV_BACKEND, "auto"),
                      onnx_file=os.environ.get(ENV_ONNX) or None)


def run_server(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
               backend: str = "auto", quiet: bool = False) -> None:
    """Serve with uvicorn until interrupted. Several workers share one ONNX export, made here."""
    import shutil
    import tempfile

    uvicorn = require("uvicorn", "serve")
    import torch

    torch.set_num_threads(1)  # one thread per request is fastest for these models under load
    log = {"log_level": "warning" if quiet else "info", "access_log": not quiet}
    if workers <= 1:
        uvicorn.run(create_app(model_dir, backend=backend), host=host, port=port, **log)
        return
    from lstmcast.forecaster import Forecaster

    forecaster = Forecaster.load(model_dir, device="cpu")  # fail here, once, on a bad directory
    stage = Path(tempfile.mkdtemp(prefix="lstmcast-serve-"))
    env = {ENV_MODEL: str(Path(model_dir).resolve()), ENV_BACKEND: backend, ENV_ONNX: ""}
    try:
        if backend != "torch" and not (Path(model_dir) / "model.onnx").is_file():
            try:
                from lstmcast.export import export_model

                env[ENV_ONNX] = str(export_model(forecaster, stage / "model.onnx", "onnx", scaling="inputs").path)
            except (LstmcastError, ImportError):
                if backend == "onnx":
                    raise
        os.environ.update(env)
        uvicorn.run("lstmcast.serving.app:app_from_env", factory=True, host=host, port=port, workers=workers, **log)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
