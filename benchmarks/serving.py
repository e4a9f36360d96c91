"""Load test of ``lstmcast serve`` on loopback: requests/s, p50/p99 latency and errors at 1, 8
and 64 concurrent clients (with the server's own CPU per request, read from /proc), then a soak of 64 clients for 30 s that must see zero errors, for
``--workers 1`` and ``--workers 2`` (one server each, one after the other).

    python benchmarks/serving.py                      # trains the demo model (hidden 64) first
    python benchmarks/serving.py --model runs/demo/model --seconds 10 --soak 30 --workers 1 2
    python benchmarks/serving.py --seconds 0 --soak 30  # the soak alone

The server runs as a subprocess (``lstmcast serve --host 127.0.0.1 --quiet``) on a free port;
the clients are asyncio tasks sharing one ``httpx.AsyncClient``, each posting one series' history
(a fresh random window per request) and waiting for the answer before sending the next. Every
stage stops by itself after ``--seconds`` (or ``--max-requests``); an error is any answer other
than 200, a timeout or a connection failure. Exit status 1 if the soak saw an error.

Client and server share this machine's cores, so the numbers are a floor for a dedicated server.
Prints tables; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HOST = "127.0.0.1"  # loopback only, by design


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def lstmcast_program() -> list[str]:
    script = Path(sys.executable).with_name("lstmcast")  # the installed console script
    return [str(script)] if script.is_file() else [sys.executable, "-m", "lstmcast.cli"]


def start_server(model_dir: Path, port: int, workers: int) -> subprocess.Popen:
    command = [*lstmcast_program(), "serve", "--model", str(model_dir), "--host", HOST, "--port", str(port),
               "--workers", str(workers), "--quiet"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def server_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of process ``pid`` and its living descendants, from /proc
    (Linux; None elsewhere): the server's own cost, apart from the clients on the same cores."""
    proc = Path("/proc")
    if not (proc / str(pid) / "stat").is_file():
        return None
    stats: dict[int, tuple[int, float]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    tree, total = {pid}, 0.0
    for _ in range(3):  # the server, uvicorn's workers, anything they start
        tree |= {p for p, (parent, _) in stats.items() if parent in tree}
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 120.0) -> dict:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}: {process.stderr.read().decode()}")
        try:
            answer = httpx.get(f"http://{HOST}:{port}/model", timeout=5)
            if answer.status_code == 200:
                return answer.json()
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer within {timeout:.0f}s")


async def stage(port: int, clients: int, seconds: float, max_requests: int, columns: list[str],
                rows: int) -> dict:
    """``clients`` closed-loop clients for ``seconds``: each sends, waits, sends again."""
    import httpx

    url = f"http://{HOST}:{port}/predict"
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    rng = np.random.default_rng(clients)
    payloads = [json.dumps({"series": [{"history": {c: rng.normal(0, 1, rows).round(4).tolist() for c in columns}}]})
                .encode() for _ in range(256)]
    headers = {"content-type": "application/json"}
    deadline = time.monotonic() + seconds

    async def worker(k: int) -> None:
        # one client (one keep-alive connection) per simulated user: a pool shared by 64 tasks
        # costs the client several times more CPU per request than the server spends on it
        nonlocal sent
        i = k
        # TCP_NODELAY on the client too: httpx writes headers and body apart, and with Nagle on the
        # body would wait for the server's delayed ACK (~40 ms per request, a client artefact)
        transport = httpx.AsyncHTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), transport=transport) as client:
            while time.monotonic() < deadline and sent < max_requests:
                sent += 1
                t0 = time.perf_counter()
                try:
                    answer = await client.post(url, content=payloads[i % len(payloads)], headers=headers)
                    if answer.status_code != 200:
                        errors[f"HTTP {answer.status_code}"] = errors.get(f"HTTP {answer.status_code}", 0) + 1
                    else:
                        latencies.append(time.perf_counter() - t0)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                i += clients

    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    ordered = sorted(latencies)
    return {
        "clients": clients, "seconds": elapsed, "client_cpu": cpu, "ok": len(latencies), "errors": sum(errors.values()),
        "error_kinds": errors, "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(ordered) * 1e3 if ordered else float("nan"),
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3 if ordered else float("nan"),
    }


def print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'workers':>7} {'clients':>7} {'seconds':>8} {'requests':>9} {'req/s':>8} {'p50':>9} {'p99':>9} "
          f"{'server CPU/req':>14} {'errors':>7}")
    for r in rows:
        cpu = r.get("server_cpu_ms", float("nan"))
        print(f"{r['workers']:>7} {r['clients']:>7} {r['seconds']:>8.1f} {r['ok']:>9} {r['rps']:>8.0f} "
              f"{r['p50_ms']:>7.2f}ms {r['p99_ms']:>7.2f}ms {cpu:>12.3f}ms {r['errors']:>7}"
              + (f"  {r['error_kinds']}" if r["errors"] else ""))


def run_workers(model_dir: Path, workers: int, args: argparse.Namespace) -> tuple[list[dict], dict | None, bool]:
    """Stages and soak against one server with ``workers`` processes; (stages, soak, failed)."""
    port = free_port()
    server = start_server(model_dir, port, workers)
    failed, soak, results = False, None, []
    try:
        info = wait_healthy(port, server)
        columns, rows = info["columns"]["history"], info["input_length"]
        print(f"server: pid {server.pid}, http://{HOST}:{port}, backend {info['backend']['name']} "
              f"({info['backend'].get('source')}; eager torch from batch {info['backend'].get('eager_from_batch')}), "
              f"{workers} worker(s); model hidden "
              f"{info['config']['model']['hidden_size']}, input_length {rows}, horizon {info['horizon']}; "
              f"{os.cpu_count()} CPUs shared by client and server", flush=True)
        if args.seconds > 0:
            for n in args.clients:
                before = server_cpu(server.pid)
                result = asyncio.run(stage(port, n, args.seconds, args.max_requests, columns, rows))
                after = server_cpu(server.pid)
                result["server_cpu_ms"] = (1e3 * (after - before) / result["ok"]
                                           if before is not None and after is not None and result["ok"] else float("nan"))
                results.append(result)
        if args.soak > 0:
            soak = asyncio.run(stage(port, 64, args.soak, 10**9, columns, rows))
            failed = soak["errors"] > 0
        if server.poll() is not None:
            print(f"the server died during the test (exit {server.returncode})")
            failed = True
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    for r in [*results, *([soak] if soak else [])]:
        r["workers"] = workers
    return results, soak, failed


def run_all(work: Path, args: argparse.Namespace) -> tuple[list[dict], list[dict], bool]:
    """Train the demo model into ``work`` (unless ``--model``), then one server per ``--workers``
    value; (stages, soaks, failed)."""
    model_dir = Path(args.model) if args.model else work / "model"
    if not args.model:  # the demo model (LSTM(64) on the noisy sine), trained by the CLI
        print(f"training the demo model ({args.epochs} epochs)...", flush=True)
        subprocess.run([*lstmcast_program(), "demo", "--out", str(work), "--set", f"train.max_epochs={args.epochs}",
                        "--quiet", "--json"], check=True, stdout=subprocess.DEVNULL)
    stages, soaks, failed = [], [], False
    for workers in args.workers:
        results, soak, bad = run_workers(model_dir, workers, args)
        stages += results
        soaks += [soak] if soak else []
        failed |= bad
    return stages, soaks, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model directory (default: train the demo model)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs when training the demo model")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each stage (default 10; 0 skips)")
    parser.add_argument("--soak", type=float, default=30.0, help="length of the 64-client soak (default 30; 0 skips)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per stage")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="server worker processes, one server per value (default 1 2)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lstmcast-serve-bench-"))
    try:
        stages, soaks, failed = run_all(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the demo model trained here, and nothing of a given --model
    if stages:
        print_rows(f"Stages of {args.seconds:.0f}s each (one series per request)", stages)
    if soaks:
        print_rows(f"Soak: 64 clients for {args.soak:.0f}s", soaks)
        print("soak: " + ("FAILED, errors above" if failed else "zero errors"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
