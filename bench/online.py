"""What evmon.online costs a model service: the demo's credit service with and without it, side by side.

    .venv/bin/python bench/online.py [--rate 500] [--seconds 120] [--phase 5] [--scorer linear|sklearn]

Two uvicorn processes serve the same scorecard on loopback: one with evmon.online (starlette-exporter's
middleware, observe() on every request, the sliding window's drift every 5 s, every row logged to hourly
Parquet files every 10 s), one without (`--no-monitor`). --scorer sklearn serves the demo's pipeline as
`evmon demo` does (`evmon.demo.service`: ~7 ms of scikit-learn per one-row call, ~130 requests/s a core);
--scorer linear (the default) the same scorecard from its coefficients (bench/_online_linear.py: the same
probabilities, microseconds a call), so that 500 requests/s is a rate the service can answer and what is
measured is the instrumentation, not a queue. One bounded asyncio loop (plain keep-alive HTTP/1.1
connections, at most 64 requests in flight: httpx would cost the client ~1 ms of CPU a request) sends the
demo's rows at --rate requests a second to one service at a time, alternating every --phase seconds
(A B A B ...: both see the same machine, the same load), and times each request from the client.
Printed: per service the requests, p50 and p99, CPU (the process's user + system seconds over its phases'
wall time) and memory (RSS) at the end of each pair of phases; then the added p50/p99 (monitored minus
bare) and the CPU ratio. The machine's load (os.getloadavg) is printed beside: on a shared machine read
the figures as the pair's difference, not as absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

os.environ["DO_NOT_TRACK"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import yaml  # noqa: E402

from evmon.demo.data import ensure_demo_data  # noqa: E402
from evmon.demo.traffic import replay_days, requests  # noqa: E402
from evmon.processes import free_port, wait_ready  # noqa: E402

DATA_END = date(2026, 3, 31)


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_mb: list[float] = field(default_factory=list)

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)


def start(name: str, config: Path, monitored: bool, log: Path, scorer: str) -> Service:
    port = free_port()
    app = ["-m", "evmon.demo.service"] if scorer == "sklearn" else [str(REPO / "bench" / "_online_linear.py")]
    command = [sys.executable, *app, "--config", str(config), "--port", str(port)]
    if not monitored:
        command.append("--no-monitor")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/health" if monitored else url + "/docs", process, timeout=120)
    return Service(name, process, url)


class Connection:
    """One keep-alive HTTP/1.1 connection: a request's bytes out, its status back (httpx costs ~1 ms a request
    of the client's CPU: at 500/s on 2 cores the client, not the service, would be measured)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


def encoded(host: str, body: dict[str, object]) -> bytes:
    payload = json.dumps(body, allow_nan=False).encode()
    head = (
        f"POST /score HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def phase(service: Service, bodies: object, rate: float, seconds: float) -> None:
    host, port = service.url.removeprefix("http://").split(":")
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):  # at most 64 requests in flight
        free.put_nowait(Connection(*await asyncio.open_connection(host, int(port))))
    pending: set[asyncio.Task[None]] = set()

    async def one(connection: Connection, request: bytes) -> None:
        begin = time.perf_counter()
        try:
            status = await connection.post(request)
            if status == 200:
                service.latencies.append(time.perf_counter() - begin)
            else:
                service.errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            service.errors += 1
            connection = Connection(*await asyncio.open_connection(host, int(port)))
        free.put_nowait(connection)

    cpu = service.ps.cpu_times()
    begin, sent = time.perf_counter(), 0
    while (elapsed := time.perf_counter() - begin) < seconds:
        delay = sent / rate - elapsed
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await free.get()
        task = asyncio.create_task(one(connection, encoded(host, _json_safe(next(bodies)))))  # type: ignore[call-overload]
        pending.add(task)
        task.add_done_callback(pending.discard)
        sent += 1
    await asyncio.gather(*pending)
    after = service.ps.cpu_times()
    service.cpu_s += (after.user - cpu.user) + (after.system - cpu.system)
    service.wall_s += time.perf_counter() - begin
    while not free.empty():
        free.get_nowait().writer.close()


def _json_safe(body: dict[str, object]) -> dict[str, object]:
    """NaN as JSON's null (a missing value), as httpx's json= would refuse it too."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in body.items()}


async def run(services: list[Service], config: Path, rate: float, seconds: float, phase_s: float) -> None:
    data = config.parent / "demo_data"
    bodies = requests(data, replay_days(data))
    for service in services:  # warm up: imports, the model's first calls, the reference loaded
        await phase(service, bodies, 100, 3)
        service.latencies.clear()
        service.errors, service.cpu_s, service.wall_s = 0, 0.0, 0.0
    rounds = max(1, int(seconds / (phase_s * len(services))))
    for i in range(rounds):
        for service in services if i % 2 == 0 else reversed(services):
            await phase(service, bodies, rate, phase_s)
        for service in services:
            service.rss_mb.append(service.ps.memory_info().rss / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=120.0, help="load time, both services together")
    parser.add_argument("--phase", type=float, default=5.0)
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "out" / "online")
    parser.add_argument(
        "--scorer",
        choices=("sklearn", "linear"),
        default="linear",
        help="linear: the scorecard from its coefficients (bench/_online_linear.py), so 500/s is reachable; "
        "sklearn: the demo's pipeline as `evmon demo` serves it (~130 requests/s a core)",
    )
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    ensure_demo_data(args.data / "demo_data", end=DATA_END)
    raw = yaml.safe_load((REPO / "projects.yaml").read_text())
    rows = Path(tempfile.mkdtemp(prefix="evmon-bench-online-"))
    for project in raw["projects"]:
        if project.get("online"):
            project["online"]["row_log"]["path"] = str(rows)
    config = args.data / "projects.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))

    services = [
        start("bare", config, False, args.data / "bare.log", args.scorer),
        start("monitored", config, True, args.data / "monitored.log", args.scorer),
    ]
    load_before = os.getloadavg()
    try:
        asyncio.run(run(services, config, args.rate, args.seconds, args.phase))
    finally:
        for service in services:
            service.process.send_signal(signal.SIGTERM)
            service.process.wait(timeout=30)
    load_after = os.getloadavg()
    logged = sum(1 for _ in rows.rglob("*.parquet"))

    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} CPUs)")
    print(
        f"{args.rate:g} requests/s, {args.phase:g} s phases alternating, {args.seconds:g} s of load in all; "
        f"scorer {args.scorer}"
    )
    figures = {}
    for s in services:
        ms = np.array(s.latencies) * 1000
        p50, p99 = (float(np.percentile(ms, q)) for q in (50, 99))
        achieved = len(ms) / s.wall_s
        cpu = 100 * s.cpu_s / s.wall_s
        figures[s.name] = (p50, p99, cpu)
        rss = " ".join(f"{m:.0f}" for m in s.rss_mb)
        print(
            f"{s.name:>9}: {len(ms)} ok ({s.errors} failed), {achieved:.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"CPU {cpu:.1f}% of a core; RSS MB over time: {rss}"
        )
    (b50, b99, bcpu), (m50, m99, mcpu) = figures["bare"], figures["monitored"]
    print(
        f"added by evmon.online: p50 {m50 - b50:+.2f} ms, p99 {m99 - b99:+.2f} ms, "
        f"CPU x{mcpu / bcpu:.2f} ({mcpu - bcpu:+.1f} points); {logged} Parquet files of logged rows"
    )


if __name__ == "__main__":
    main()
