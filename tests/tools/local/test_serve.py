"""tools.local.serve as a server (issue #19): 100 clients at once are all answered, a SIGTERM right
after stops it within 5 s with LOCAL_DATA saved, and a change under functions/ is served on the
next request without a restart. The server runs as `python -m tools.local.serve` (Served), not
under make, so the signal reaches it alone and the exit code is its own. Run with -s to see the
times (printed, never asserted but for the issue's 5 s)."""

import hashlib
import http.client
import json
import signal
import threading
import time
from pathlib import Path

import pytest

from tests import checkout
from tests.cfn import ROOT
from tests.local_process import LocalApi, Served, request

pytestmark = pytest.mark.slow  # servers, over HTTP

CLIENTS = 100
CLIENT_TIMEOUT = 60  # how long the clients waited: none may need it
STOP_SECONDS = 5  # the bound from SIGTERM to exit


def concurrently(port: int, path: str, clients: int) -> tuple[list[int | str], list[float], float]:
    """`clients` GETs of `path` at once, each on its own connection from its own thread: each
    one's status (or error's name) and seconds, and the wall time of them all."""
    statuses: list[int | str] = ["-"] * clients
    seconds = [0.0] * clients
    go = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
        go.wait()
        began = time.perf_counter()
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            statuses[i] = answer.status
        except OSError as error:  # a timeout, a reset, a refused connect
            statuses[i] = type(error).__name__
        finally:
            seconds[i] = time.perf_counter() - began
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    go.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return statuses, seconds, time.perf_counter() - began


def test_100_clients_at_once_then_sigterm_stops_it_within_5_s_with_the_data_saved(tmp_path):
    data = tmp_path / "data.json"
    server = Served("--data", str(data))
    server.wait_ready()
    try:
        assert request(server, "POST", "/items", {"id": "kept", "n": 1})[0] == 201
        statuses, seconds, wall = concurrently(server.port, "/items/kept", CLIENTS)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=STOP_SECONDS)
        stopping = time.monotonic() - signalled
    finally:
        server.stop()
    print(f"\n{CLIENTS} concurrent GETs: {wall:.2f} s, the slowest {max(seconds):.2f} s; "
          f"SIGTERM to exit {stopping:.2f} s")  # fmt: skip
    assert statuses == [200] * CLIENTS
    assert code == 0
    assert "stopped" in server.lines and "Traceback" not in server.output()
    saved = json.loads(data.read_text())
    rows = [row for table in saved["tables"].values() for row in table]
    assert [row["n"] for row in rows if row["id"] == {"S": "kept"}] == [{"N": "1"}]


def built(dist: Path) -> dict[str, str]:
    files = [dist / "manifest.json", *sorted((dist / "artifacts").iterdir())]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def status_of_health(server: LocalApi) -> str:
    code, _, body = request(server, "GET", "/")
    assert code == 200, server.output()[-3000:]
    return body["status"]


def wait_for_line(server: LocalApi, line: str, count: int) -> None:
    """The console line `count` times: printed before the answer, read by a thread after it."""
    deadline = time.monotonic() + 10
    while server.lines.count(line) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.lines.count(line) == count, server.output()[-3000:]


def test_a_change_under_functions_is_served_on_the_next_request(tmp_path):
    """On a copy of the sources, with the checkout's dist/: the function's own file, a new layer
    module it imports, then the layer module alone; dist/ is left as it was built."""
    sources = checkout.copy(tmp_path / "checkout")
    dist = ROOT / "dist"
    health = sources / "functions" / "health" / "app.py"
    greeting = sources / "functions" / "shared" / "items_common" / "greeting.py"
    server = Served("--dist", str(dist), root=sources)
    server.wait_ready()
    before = built(dist)
    try:
        assert status_of_health(server) == "ok"
        health.write_text(health.read_text().replace('"status": "ok"', '"status": "edited"'))
        assert status_of_health(server) == "edited"
        wait_for_line(server, "reloaded health", 1)

        greeting.write_text('WORD = "from the layer"\n')
        health.write_text(
            health.read_text()
            .replace("from items_common import http", "from items_common import greeting, http")
            .replace('"edited"', "greeting.WORD")
        )
        assert status_of_health(server) == "from the layer"
        greeting.write_text('WORD = "changed in the layer"\n')
        assert status_of_health(server) == "changed in the layer"
        wait_for_line(server, "reloaded health", 3)
        assert request(server, "GET", "/items/none")[0] == 404  # the others run as before
    finally:
        code = server.stop()
    assert code == 0 and "Traceback" not in server.output()
    assert built(dist) == before
