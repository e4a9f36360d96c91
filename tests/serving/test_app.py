"""The HTTP service: endpoints, forecasts equal to Forecaster.predict, and a 4xx answer naming
the field for every kind of bad request (the server never falls over)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmcast.errors import ModelFileError
from lstmcast.export import export_model
from tests.export.variants import fit_variant, future_frame

pytest.importorskip("fastapi")
pytest.importorskip("onnxruntime")
from fastapi.testclient import TestClient

from lstmcast.serving import create_app

MAX_SERIES = 8


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """A single-series model with an exported model.onnx next to it (the server should use it)."""
    f, frame, _ = fit_variant("point_stacked_last")
    model_dir = tmp_path_factory.mktemp("single") / "model"
    f.save(model_dir, metrics={"metrics": {"rmse": 0.5}})
    export_model(f, model_dir / "model.onnx", "onnx")
    app = create_app(model_dir, max_series=MAX_SERIES)
    with TestClient(app) as client:
        yield f, frame, client, model_dir


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """Two series, past and known-future covariates, calendar features, Gaussian head; the
    server exports the ONNX graph at startup."""
    f, frame, _ = fit_variant("many_series_covariates_calendar")
    model_dir = tmp_path_factory.mktemp("many") / "model"
    f.save(model_dir)
    with TestClient(create_app(model_dir)) as client:
        yield f, frame, client


def _series_payload(part: pd.DataFrame, columns, series_id=None, time_col=None, future=None):
    item = {"history": {c: part[c].tolist() for c in columns}}
    if series_id is not None:
        item["id"] = series_id
    if time_col is not None:
        item["time"] = [t.isoformat() for t in part[time_col]]
    if future is not None:
        item["future"] = future
    return item


def _message(response) -> str:
    return response.json()["message"]


# ---------------------------------------------------------------------------- endpoints
def test_health_and_model(single):
    f, _, client, _model_dir = single
    assert client.get("/health").json() == {"status": "ok", "backend": "onnxruntime"}
    info = client.get("/model").json()
    assert info["backend"]["source"] == "model.onnx next to the model"
    assert info["columns"]["history"] == list(f.config.data.input_columns)
    assert info["horizon"] == 3 and info["input_length"] == 16
    assert info["metrics"] == {"metrics": {"rmse": 0.5}}
    assert info["config"]["model"]["num_layers"] == 2


def test_openapi_page(single):
    client = single[2]
    schema = client.get("/openapi.json").json()
    assert "/predict" in schema["paths"] and "SeriesIn" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_predict_single_series_equals_forecaster_predict(single):
    f, frame, client, _ = single
    recent = frame.tail(40).reset_index(drop=True)
    response = client.post("/predict", json={"series": [_series_payload(recent, ["value"])]})
    assert response.status_code == 200, response.text
    body = response.json()
    want = f.predict(recent).to_frame()
    got = body["forecasts"][0]
    np.testing.assert_allclose(got["mean"]["value"], want["mean"], rtol=1e-5)
    assert got["time"] == want["time"].tolist() == [40, 41, 42]
    assert got["step"] == [1, 2, 3] and body["backend"] == "onnxruntime"


def test_predict_many_series_known_and_new_equals_forecaster_predict(many):
    f, frame, client = many
    parts = {key: frame[frame.store == key].tail(30) for key in ("a", "b")}
    parts["new"] = parts["a"].assign(store="new", value=parts["a"].value * 2)  # unseen: own-history scaler
    recent = pd.concat(parts.values(), ignore_index=True)
    future = future_frame(recent, f)
    payload = {"series": [
        _series_payload(part, ["value", "temp", "promo"], key, "date",
                        {"promo": future[future.store == key].promo.tolist()})
        for key, part in parts.items()]}
    response = client.post("/predict", json=payload)
    assert response.status_code == 200, response.text
    want = f.predict(recent, future=future).to_frame()
    for item in response.json()["forecasts"]:
        rows = want[want.series == item["id"]]
        np.testing.assert_allclose(item["mean"]["value"], rows["mean"], rtol=1e-5)
        for level in f.quantile_levels:
            np.testing.assert_allclose(item["quantiles"][f"q{level:g}"]["value"], rows[f"q{level:g}"], rtol=1e-5)
        assert item["time"] == [t.isoformat() for t in rows["time"]]


def test_torch_backend_gives_the_same_forecast(single):
    _f, frame, client, model_dir = single
    payload = {"series": [_series_payload(frame.tail(20), ["value"])]}
    with TestClient(create_app(model_dir, backend="torch")) as eager:
        assert eager.get("/health").json()["backend"] == "torch"
        want = eager.post("/predict", json=payload).json()["forecasts"][0]["mean"]["value"]
    got = client.post("/predict", json=payload).json()["forecasts"][0]["mean"]["value"]
    np.testing.assert_allclose(got, want, rtol=1e-5)


# ---------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(("payload", "message"), [
    ({}, r"^series: Field required"),
    ({"series": []}, r"^series: List should have at least 1 item"),
    ({"series": [{"history": {"value": [1.0] * 19 + ["x"]}}]}, r"^series\[0\]\.history\.value\[19\]: Input should be a valid number"),
    ({"series": [{"history": {"value": [1.0] * 19 + [None]}}]}, r"^series\[0\]\.history\.value\[19\]: Input should be a valid number"),
    ({"series": [{"history": {"value": [1.0] * 20}, "horizon": 5}]}, r"^series\[0\]\.horizon: Extra inputs are not permitted"),
    ({"series": [{"history": "value"}]}, r"^series\[0\]\.history: Input should be a valid dictionary"),
    ({"series": [{"history": {"valu": [1.0] * 20}}]}, r"^series\[0\]\.history: missing column\(s\) 'value'; this model reads 'value' \(got 'valu'\)"),
    ({"series": [{"history": {"value": [1.0] * 20, "temp": [1.0] * 20}}]}, r"^series\[0\]\.history\.temp: unknown column\(s\) 'temp'"),
    ({"series": [{"history": {"value": [1.0] * 5}}]}, r"^series\[0\]\.history\.value: has 5 rows; the model needs at least input_length=16"),
    ({"series": [{"history": {"value": [1.0] * 20}, "future": {"promo": [1.0] * 3}}]}, r"^series\[0\]\.future: this model uses no known-future covariates"),
    ({"series": [{"history": {"value": [1.0] * 20}, "time": [1, 2, 3]}]}, r"^series\[0\]\.time: has 3 timestamps for 20 history rows"),
    ({"series": [{"history": {"value": [1.0] * 19 + [1e38]}}]}, r"^series\[0\]\.history\.value\[19\]: 1e\+38 is out of range"),
    ({"series": [{"history": {"value": [1.0] * 20}}] * (MAX_SERIES + 1)}, rf"^series: has {MAX_SERIES + 1} series; at most {MAX_SERIES}"),
])
def test_invalid_requests_get_422_naming_the_field(single, payload, message):
    client = single[2]
    response = client.post("/predict", json=payload)
    assert response.status_code == 422, response.text
    assert _message_matches(response, message)


def _message_matches(response, pattern: str) -> bool:
    import re

    if re.search(pattern, _message(response)):
        return True
    raise AssertionError(f"{_message(response)!r} does not match {pattern!r}")


def test_nan_and_infinity_are_refused(single):
    client = single[2]
    for token in ("NaN", "Infinity"):
        body = '{"series": [{"history": {"value": [' + ", ".join(["1.0"] * 19 + [token]) + "]}}]}"
        response = client.post("/predict", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422
        assert _message(response) == "series[0].history.value[19]: Input should be a finite number"


def test_malformed_json_and_oversized_bodies(single):
    client = single[2]
    response = client.post("/predict", content=b'{"series": [', headers={"content-type": "application/json"})
    assert response.status_code == 422 and _message(response).startswith("body: the body is not valid JSON")
    big = b" " * (5 * 1024 * 1024)
    response = client.post("/predict", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "the limit is 4194304" in _message(response)
    chunks = (b" " * (1024 * 1024) for _ in range(5))  # no Content-Length: counted as it arrives
    response = client.post("/predict", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over" in _message(response)
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.pop("id"), r"^series\[0\]\.id: is required: this model was trained on 2 series"),
    (lambda s: s.pop("time"), r"^series\[0\]\.time: is required: the model uses calendar features"),
    (lambda s: s.pop("future"), r"^series\[0\]\.future: missing known-future covariate\(s\) 'promo'"),
    (lambda s: s["future"].update(promo=[0.0, 1.0]), r"^series\[0\]\.future\.promo: has 2 values; the model needs exactly horizon=3"),
    (lambda s: s["time"].__setitem__(5, s["time"][3]), r"^series\[0\]\.time\[5\]: .* does not come after"),
    (lambda s: s["time"].__setitem__(2, "yesterday"), r"^series\[0\]\.time\[2\]: 'yesterday' is not an ISO 8601 date/time"),
    (lambda s: s["history"].pop("temp"), r"^series\[0\]\.history: missing column\(s\) 'temp'"),
])
def test_many_series_requests_are_checked(many, change, message):
    _f, frame, client = many
    part = frame[frame.store == "a"].tail(20)
    item = _series_payload(part, ["value", "temp", "promo"], "a", "date", {"promo": [0.0, 1.0, 0.0]})
    change(item)
    response = client.post("/predict", json={"series": [item]})
    assert response.status_code == 422, response.text
    assert _message_matches(response, message)
    detail = response.json()["detail"][0]
    assert detail["loc"][:3] == ["body", "series", 0]


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist; train one"):
        create_app(tmp_path / "nope")


# ---------------------------------------------------------------------------- the real server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_lstmcast_serve_answers_health_on_loopback(single):
    import httpx

    model_dir = single[3]
    port = _free_port()
    script = Path(sys.executable).with_name("lstmcast")  # the installed console script
    program = [str(script)] if script.is_file() else [sys.executable, "-m", "lstmcast.cli"]
    command = [*program, "serve", "--model", str(model_dir), "--port", str(port), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert answer is not None, process.stderr.read().decode() if process.poll() is not None else "no answer"
        assert answer.status_code == 200 and answer.json() == {"status": "ok", "backend": "onnxruntime"}
        payload = {"series": [{"history": {"value": [0.5] * 16}}]}
        assert httpx.post(f"http://127.0.0.1:{port}/predict", json=payload, timeout=10).status_code == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode is not None


def test_cli_serve_with_a_bad_model_exits_2(tmp_path, capsys):
    from lstmcast.cli import main

    assert main(["serve", "--model", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_response_is_plain_json(single):
    client = single[2]
    response = client.post("/predict", json={"series": [{"history": {"value": [0.1] * 16}}, {"history": {"value": [0.2] * 16}}]})
    body = json.loads(response.text)
    assert [len(item["mean"]["value"]) for item in body["forecasts"]] == [3, 3]


def test_a_planted_model_onnx_with_a_forged_sidecar_is_not_served(tmp_path):
    """model.onnx sits outside the checksummed files: even with a sidecar forged to match the
    verified weights, a graph that does not reproduce them is set aside (and said why)."""
    import hashlib

    from lstmcast.serving.predictor import Predictor

    f, _, _ = fit_variant("point_stacked_last")
    model_dir = f.save(tmp_path / "model")
    export_model(f, model_dir / "model.onnx", "onnx")
    sidecar = model_dir / "model.onnx.json" if (model_dir / "model.onnx.json").is_file() else next(
        p for p in model_dir.iterdir() if p.name.startswith("model.onnx") and p.suffix == ".json")
    meta = json.loads(sidecar.read_text())
    planted = tmp_path / "planted.onnx"
    import torch

    with torch.no_grad():  # another graph: the same model with its weights shifted
        for p in f.network_.parameters():
            p.add_(0.5)
        export_model(f, planted, "onnx")
        for p in f.network_.parameters():
            p.sub_(0.5)
    (model_dir / "model.onnx").write_bytes(planted.read_bytes())
    meta["sha256"] = hashlib.sha256(planted.read_bytes()).hexdigest()  # forged to match the planted file
    sidecar.write_text(json.dumps(meta))
    predictor = Predictor(model_dir)
    assert predictor.backend_info["source"] == "exported at startup"
    assert "does not reproduce the verified weights" in predictor.backend_info["skipped"]
