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
from datetime import tzinfo
from pathlib import Path
from typing import Any

from lstmcast.errors import LstmcastError, require
from lstmcast.serving.predictor import Predictor, RequestError, format_loc
from lstmcast.serving.worker import ENV_BACKEND, ENV_MODEL, ENV_ONNX, app_from_env  # noqa: F401 (re-exported)

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_SERIES = 4096
INLINE_SERIES = 16  # requests up to this many series run on the event loop (ONNX Runtime only)


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
    from fastapi import FastAPI

    from lstmcast._version import __version__

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
    _add_error_handlers(app)
    _add_routes(app, predictor, Path(model_dir), max_series)
    return app


def _add_error_handlers(app: Any) -> None:
    """Every refusal as a 422 with a ``message`` naming the field and a FastAPI-style ``detail``."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        items: list[dict[str, Any]] = []
        for err in exc.errors():
            loc = [p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith(("list[", "function-")))]
            msg = err.get("msg", "invalid")
            if err.get("type") == "json_invalid":
                msg = f"the body is not valid JSON ({err.get('ctx', {}).get('error', msg)})"
                loc = ["body"]
            items.append({"loc": loc, "msg": msg, "type": err.get("type", "value_error")})
        first: dict[str, Any] = items[0] if items else {"loc": ["body"], "msg": "invalid request"}
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


def _add_routes(app: Any, predictor: Predictor, model_dir: Path, max_series: int) -> None:
    """GET /health, GET /model and POST /predict."""
    from starlette.concurrency import run_in_threadpool

    from lstmcast.serving.schemas import ErrorResponse, PredictRequest, PredictResponse

    errors: dict[int | str, dict[str, Any]] = {
        422: {"model": ErrorResponse, "description": "Invalid request; the message names the field."},
        413: {"model": ErrorResponse, "description": "Request body too large."}}

    @app.get("/health", summary="Liveness: the model is loaded")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "backend": predictor.backend}

    @app.get("/model", summary="The model: config, columns, horizon, metrics, backend")
    async def model() -> dict[str, Any]:
        return _without_paths(predictor.describe(), model_dir)

    @app.post("/predict", response_model=PredictResponse, responses=errors,
              summary="Forecast the next horizon steps of one or many series")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        if len(request.series) > max_series:
            raise RequestError(("body", "series"), f"has {len(request.series)} series; at most {max_series} per "
                               "request. Split the request.")
        series, zones = check_times(predictor, request.series)
        if predictor.session is not None and len(series) <= INLINE_SERIES:
            # ~0.1 ms of work on ONNX Runtime: cheaper on the event loop than a thread-pool hop,
            # and 64 concurrent requests do not convoy 40 threads on the GIL
            answer = predictor.predict(series)
        else:
            answer = await run_in_threadpool(predictor.predict, series)
        return finish(predictor, series, zones, answer)


# ---------------------------------------------------------------------------- request checks
FAR_OUTSIDE = {"minmax": 3.0, "standard": 10.0}  # |scaled value| above this is flagged in the answer


def check_times(predictor: Predictor, series: list[Any]) -> tuple[list[Any], list[Any]]:
    """Check every series' times against the model's step: gaps, irregular spacing or another
    step than the model's are a RequestError naming ``series[i].time``. Times with a UTC offset
    are handed to the predictor in UTC; returns the series and, per series, the time zone to
    give the forecast times back in (None for naive times)."""
    import pandas as pd

    from lstmcast.data.io import same_step, spacing

    out: list[Any] = []
    zones: list[tzinfo | None] = []
    for i, s in enumerate(series):
        zone = None
        if s.time and len(s.time) >= 2:
            loc = ("body", "series", i, "time")
            if isinstance(s.time[0], str):
                parsed = pd.to_datetime(pd.Series(s.time), errors="coerce", utc=True, format="ISO8601")
                if parsed.isna().any() or not parsed.is_monotonic_increasing or parsed.duplicated().any():
                    out.append(s)  # the predictor names the bad value
                    zones.append(None)
                    continue
                last = pd.Timestamp(s.time[-1])
                if last.tzinfo is not None:
                    zone = last.tzinfo
                    s = s.model_copy(update={"time": [t.isoformat() for t in parsed.dt.tz_convert(None)]})
                index: pd.Index = pd.DatetimeIndex(parsed.dt.tz_convert(None))
            else:
                index = pd.Index(s.time)
                if not index.is_monotonic_increasing or index.has_duplicates:
                    out.append(s)
                    zones.append(None)
                    continue
            found = spacing(index)
            if found.kind == "irregular":
                raise RequestError(loc, f"is not regularly spaced: {found.off_grid} of {len(index) - 1} steps differ "
                                   f"from the most common step ({found.step}); send the history at one regular step"
                                   + (f" (the model's is {predictor.frequency})" if predictor.frequency else "") + ".")
            if found.kind == "gaps":
                raise RequestError(loc, f"has {found.missing} missing timestamp(s) at its step of {found.step}, the "
                                   f"first at {found.first}; fill them (one value per step) before sending.")
            from lstmcast.data.io import infer_frequency

            mine = infer_frequency(index)
            if predictor.frequency is not None and not same_step(mine, predictor.frequency):
                raise RequestError(loc, f"is spaced at a step of {mine}, but the model was trained on data at a step "
                                   f"of {predictor.frequency}; send the history at the model's step (resample it).")
        out.append(s)
        zones.append(zone)
    return out, zones


def finish(predictor: Predictor, series: list[Any], zones: list[Any], answer: dict[str, Any]) -> dict[str, Any]:
    """Forecast times back in each request's time zone; a warning on each series whose history
    lies far outside the range the model was trained on."""
    import pandas as pd

    for i, (s, zone, item) in enumerate(zip(series, zones, answer["forecasts"], strict=True)):
        if zone is not None and item.get("time"):
            times = pd.DatetimeIndex(item["time"]).tz_localize("UTC").tz_convert(zone)
            item["time"] = [t.isoformat() for t in times]
        item["warnings"] = _range_warnings(predictor, s, ("body", "series", i))
    return answer


def _range_warnings(predictor: Predictor, s: Any, loc: tuple) -> list[str]:
    import numpy as np

    key = predictor.series_key(s, loc)
    scaler = predictor.forecaster.scalers_.get(key)
    limit = FAR_OUTSIDE.get(getattr(scaler, "kind", ""))
    if scaler is None or limit is None:
        return []  # a series new to the model is scaled by its own history
    notes = []
    for k, column in enumerate(predictor.columns):
        values = np.asarray(s.history[column][-predictor.input_length:], dtype=np.float64)
        scaled = np.abs((values - scaler.offset_[k]) / scaler.scale_[k])
        if scaled.max() > limit:
            worst = float(values[int(np.argmax(scaled))])
            if scaler.kind == "minmax":
                low, high = scaler.offset_[k] - scaler.scale_[k], scaler.offset_[k] + scaler.scale_[k]
                where = f"the training range {low:.6g}..{high:.6g}"
            else:
                where = f"the training mean {scaler.offset_[k]:.6g} (standard deviation {scaler.scale_[k]:.6g})"
            notes.append(f"history {column!r} reaches {worst:.6g}, {scaled.max() / (1 if scaler.kind == 'standard' else 2):.3g} "
                         f"{'standard deviations' if scaler.kind == 'standard' else 'range widths'} away from {where}; "
                         "the forecast extrapolates far beyond what the model was trained on")
    return notes


def _without_paths(info: Any, model_dir: Path) -> Any:
    """The model description with the model directory's absolute path (and temporary paths)
    reduced to the directory's name: the service does not disclose where files live."""
    paths = sorted({str(model_dir), str(model_dir.resolve()), str(Path(model_dir).absolute())}, key=len, reverse=True)
    if isinstance(info, dict):
        return {k: _without_paths(v, model_dir) for k, v in info.items()}
    if isinstance(info, list):
        return [_without_paths(v, model_dir) for v in info]
    if isinstance(info, str):
        for path in paths:
            info = info.replace(path, model_dir.name)
        import re

        return re.sub(r"/[^\s'\"]*/lstmcast-serve-[^/\s'\"]+/", "", info)
    return info


def run_server(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
               backend: str = "auto", quiet: bool = False) -> None:
    """Serve with uvicorn until interrupted (see :mod:`lstmcast.serving.worker`). Several
    workers share one ONNX export, made here, and one listening socket."""
    import shutil
    import tempfile

    from lstmcast.serving import worker

    require("uvicorn", "serve")
    import torch

    torch.set_num_threads(1)  # one thread per request is fastest for these models under load
    if workers <= 1:
        worker.serve(create_app(model_dir, backend=backend), host, port, quiet=quiet)
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
        worker.serve(None, host, port, workers, quiet=quiet, env=env)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
