"""`make local`: the start time of `python -m tools.local.serve --port 0` (spawn until its "ready in
X s" banner, the banner's own X, and spawn until the first successful HTTP answer, which
includes the health function's cold import), then GET /items/{id} over loopback from 1 and
from 4 client threads (a bounded number of requests, each on a new connection: the worst case
for the server, which keeps HTTP/1.1 connections alive).

Why: `make local` is the quickest way to try the API; its start time is what a developer waits
for on every restart, and its request rate bounds the local tests and fuzzing over HTTP."""

import http.client
import json
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tools.bench import common

BANNER = re.compile(r"http://127\.0\.0\.1:(\d+)\s+\(ready in ([0-9.]+) s\)")
ITEM_ID = "bench-local"


class Server:
    """One `python -m tools.local.serve --port 0` child, its console in a file (never a pipe that
    could fill up while we are not reading it)."""

    def __init__(self, console: Path) -> None:
        self.console = console
        self.started = common.clock()
        with console.open("w") as out:
            self.process = subprocess.Popen(
                [common.PYTHON, "-m", "tools.local.serve", "--stage", "dev", "--port", "0"],
                cwd=common.ROOT,
                env=common.child_environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.port, self.reported, self.to_banner = self._banner()
        self.to_first_answer = self._first_answer()

    def _banner(self) -> tuple[int, float, float]:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = BANNER.search(self.console.read_text())
            if found:
                return int(found[1]), float(found[2]), common.clock() - self.started
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"make local did not start:\n{self.console.read_text()}")

    def _first_answer(self) -> float:
        while True:
            try:
                if request(self.port, "GET", "/")[0] == 200:
                    return common.clock() - self.started
            except OSError:
                pass
            time.sleep(0.005)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def load(port: int, total: int, threads: int) -> tuple[float, list[float]]:
    """`total` GETs of one item, split over `threads` clients: (requests per second, latencies
    in ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def client(count: int) -> None:
        mine = []
        for _ in range(count):
            started = common.clock()
            status, body = request(port, "GET", f"/items/{ITEM_ID}")
            mine.append((common.clock() - started) * 1000)
            if status != 200:
                failures.append(f"{status} {body[:200]!r}")
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client, args=(total // threads,)) for _ in range(threads)]
    started = common.clock()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = common.clock() - started
    if failures:
        raise RuntimeError(f"GET /items/{ITEM_ID} failed: {failures[0]}")
    return len(latencies) / elapsed, latencies


def run(quick: bool) -> list[common.Row]:
    starts, total = (1, 200) if quick else (3, 2_000)
    rows: list[common.Row] = []
    banners, reported, answers = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        for i in range(starts):
            common.progress(f"local: start {i + 1}/{starts}")
            server = Server(Path(tmp) / f"console{i}.log")
            try:
                banners.append(server.to_banner)
                reported.append(server.reported)
                answers.append(server.to_first_answer)
                if i == 0:
                    status, body = request(server.port, "POST", "/items", {"id": ITEM_ID, "n": 1})
                    if status != 201:
                        raise RuntimeError(f"POST /items: {status} {body[:200]!r}")
                    load(server.port, 20, 1)  # warm-up: get_item's cold start is not the rate
                    for threads in (1, 4):
                        common.progress(f"local: {total:,} GETs from {threads} client(s)")
                        rate, latencies = load(server.port, total, threads)
                        rows.append(
                            common.Row(
                                f"local GET /items/{{id}}, {threads} client(s): throughput",
                                rate,
                                "req/s",
                            )
                        )
                        rows.append(
                            common.sample_row(
                                f"local GET /items/{{id}}, {threads} client(s): latency "
                                f"(p99 {common.percentile(latencies, 0.99):.1f} ms)",
                                latencies,
                                "ms",
                            )
                        )
            finally:
                server.stop()
    return [
        common.sample_row(f"local: spawn to 'ready' banner ({starts} starts)", banners, "s"),
        common.sample_row("local: the banner's own 'ready in X s'", reported, "s"),
        common.sample_row("local: spawn to first HTTP 200 (GET /)", answers, "s"),
        *rows,
    ]


if __name__ == "__main__":
    common.main(run)
