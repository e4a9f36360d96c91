"""The service under inputs that used to get a normal 200 (another step, gaps, irregular times,
histories far outside the training range, time zones) and under real concurrency: --workers 2
becomes ready under CPU load, sets TCP_NODELAY, and a bounded soak sees no error."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from lstmcast.forecaster import Forecaster
from lstmcast.serving import create_app
from lstmcast.serving.worker import listen_socket
from tests.conftest import tiny_config

REPO = Path(__file__).resolve().parents[2]
L = 12


@pytest.fixture(scope="module")
def half_hourly(tmp_path_factory):
    times = pd.date_range("2024-01-01", periods=300, freq="30min")
    frame = pd.DataFrame({"date": times, "value": np.sin(np.arange(300) / 8) * 5 + 20})
    forecaster = Forecaster(tiny_config(data={"horizon": 3}, train={"max_epochs": 1})).fit(frame)
    model_dir = tmp_path_factory.mktemp("serve") / "model"
    forecaster.save(model_dir)
    with TestClient(create_app(model_dir, backend="torch")) as client:
        yield client, model_dir, frame


def body(times, values):
    return {"series": [{"time": list(times), "history": {"value": list(values)}}]}


def iso(index):
    return [t.isoformat() for t in index]


def test_a_history_at_another_step_is_422_naming_time(half_hourly):
    client, _, _ = half_hourly
    daily = pd.date_range("2024-01-01", periods=L, freq="D")
    answer = client.post("/predict", json=body(iso(daily), [20.0] * L))
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("series[0].time: is spaced at a step of D, but the model was "
                                               "trained on data at a step of 30min")


def test_gaps_and_irregular_times_are_422(half_hourly):
    client, _, _ = half_hourly
    gaps = pd.date_range("2024-01-01", periods=L + 2, freq="30min").delete([4, 5])
    answer = client.post("/predict", json=body(iso(gaps), [20.0] * L))
    assert answer.status_code == 422 and "series[0].time: has 2 missing timestamp(s)" in answer.json()["message"]
    rng = np.random.default_rng(0)
    odd = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(rng.uniform(5, 90, L)), unit="min")
    answer = client.post("/predict", json=body(iso(odd), [20.0] * L))
    assert answer.status_code == 422 and "series[0].time: is not regularly spaced" in answer.json()["message"]


def test_forecast_times_keep_the_request_time_zone(half_hourly):
    client, _, _ = half_hourly
    local = pd.date_range("2024-06-01 08:00", periods=L, freq="30min", tz="+10:00")
    answer = client.post("/predict", json=body(iso(local), [20.0] * L))
    assert answer.status_code == 200
    times = answer.json()["forecasts"][0]["time"]
    assert times == iso(pd.date_range(local[-1], periods=4, freq="30min")[1:])
    assert times[0].endswith("+10:00")
    naive = client.post("/predict", json=body(iso(local.tz_localize(None)), [20.0] * L)).json()
    assert naive["forecasts"][0]["time"][0] == "2024-06-01T14:00:00"
    assert naive["forecasts"][0]["mean"] == answer.json()["forecasts"][0]["mean"]


def test_histories_far_outside_the_training_range_are_flagged(half_hourly):
    client, _, frame = half_hourly
    times = iso(frame["date"].iloc[-L:])
    normal = client.post("/predict", json=body(times, frame["value"].iloc[-L:].tolist())).json()
    assert normal["forecasts"][0]["warnings"] == []
    huge = client.post("/predict", json=body(times, (frame["value"].iloc[-L:] * 1e4).tolist()))
    assert huge.status_code == 200
    (warning,) = huge.json()["forecasts"][0]["warnings"]
    assert "history 'value' reaches" in warning and "range widths away from the training range" in warning


def test_get_model_does_not_disclose_the_model_path(half_hourly):
    client, model_dir, _ = half_hourly
    text = client.get("/model").text
    assert str(model_dir.resolve().parent) not in text and str(model_dir.parent) not in text
    assert client.get("/model").json()["model_dir"] == "model"


def test_the_bound_socket_gives_tcp_nodelay_connections():
    async def accepted_nodelay(sock):
        flags = []

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                flags.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        loop = asyncio.get_running_loop()
        server = await loop.create_server(Probe, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        for _ in range(200):
            if flags:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        return flags[0]

    assert asyncio.run(accepted_nodelay(listen_socket("127.0.0.1", 0))) != 0
    plain = socket.socket()  # how uvicorn binds: protocol 0, so asyncio leaves Nagle on
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    assert asyncio.run(accepted_nodelay(plain)) == 0


def test_port_in_use_is_a_message():
    from lstmcast.errors import LstmcastError

    taken = listen_socket("127.0.0.1", 0)
    try:
        with pytest.raises(LstmcastError, match=r"Cannot listen on 127.0.0.1:\d+: .*choose another --port"):
            listen_socket("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _soak(port, clients, seconds, payload):
    import httpx

    latencies, errors = [], []
    deadline = time.monotonic() + seconds

    async def client_loop():
        async with httpx.AsyncClient(timeout=30) as client:
            first = True  # every client sends at least once: under load, making 64 clients can outlast the soak
            while first or time.monotonic() < deadline:
                first, t0 = False, time.perf_counter()
                try:
                    answer = await client.post(f"http://127.0.0.1:{port}/predict", json=payload)
                    (latencies if answer.status_code == 200 else errors).append(
                        time.perf_counter() - t0 if answer.status_code == 200 else answer.status_code)
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return latencies, errors


@pytest.mark.slow
@pytest.mark.parametrize(("workers", "seconds"), [(1, 4.0), (2, 6.0)])
def test_workers_under_cpu_load_nodelay_and_a_bounded_soak(half_hourly, workers, seconds):
    import httpx

    _, model_dir, frame = half_hourly
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    server = subprocess.Popen([sys.executable, "-m", "lstmcast.cli", "serve", "--model", str(model_dir), "--port",
                               str(port), "--workers", str(workers), "--backend", "torch", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO)
    try:
        deadline, ready = time.monotonic() + 120, False
        while time.monotonic() < deadline and server.poll() is None and not ready:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready, "no worker became ready within 120 s under CPU load"
        for burner in burners:
            burner.kill()
        assert server.poll() is None, server.stderr.read().decode()[-2000:]
        payload = body(iso(frame["date"].iloc[-L:]), frame["value"].iloc[-L:].tolist())
        # one keep-alive connection, each request in one send: with Nagle on (uvicorn's own socket)
        # each answer, written as headers then body, waits ~40 ms for the client's delayed ACK
        times = []
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(30):
                t0, answer = time.perf_counter(), b""
                conn.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
                while not answer.endswith(b"}"):
                    answer += conn.recv(65536)
                times.append(time.perf_counter() - t0)
                assert answer.startswith(b"HTTP/1.1 200")
        assert statistics.median(times) < 0.02, f"median {statistics.median(times) * 1e3:.1f} ms"
        latencies, errors = asyncio.run(_soak(port, 64, seconds, payload))
        # every client answered, none refused or timed out (on a loaded 2-core machine, with the
        # other test worker busy, one answer can take the whole soak)
        assert errors == [] and len(latencies) >= 64
        assert server.poll() is None
        print(f"soak, --workers {workers}: {len(latencies)} answers, p99 {sorted(latencies)[int(0.99 * len(latencies))] * 1e3:.0f} ms")
    finally:
        for burner in burners:
            burner.kill()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
