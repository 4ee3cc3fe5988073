"""`make local` as a child process, for the tests that use it end to end over HTTP."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import checkout
from tests.cfn import ROOT

START_SECONDS = 120  # a bound for a hung start, not a speed check (that is `make bench`)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalApi:
    """`make local STAGE=... PORT=<free> NAME=VALUE...` in its own session (stopped with Ctrl-C,
    as a user stops it); its output collected line by line by a thread, so the function logs
    can never fill the pipe. The free port is picked here (the test checks PORT is obeyed), so
    another process may take it before `make local` binds it: then it starts again on another
    port (twice at most)."""

    ATTEMPTS = 3

    def __init__(self, stage: str, **variables: str) -> None:
        make = ["make", "--no-print-directory", "local", f"STAGE={stage}"]
        settings = [f"{name}={value}" for name, value in variables.items()]
        self._launch(lambda port: [*make, f"PORT={port}", *settings], ROOT)

    def _launch(self, command: Callable[[int], list[str]], cwd: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
        self.command, self.cwd = command, cwd
        self.attempts = 0
        checkout.ensure_built()
        self._start()

    def _start(self) -> None:
        port = free_port()
        self.attempts += 1
        self.process = subprocess.Popen(
            self.command(port), cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(self.process, self.lines))
        self._reader.daemon = True
        self._reader.start()

    @staticmethod
    def _read(process: subprocess.Popen, lines: list[str]) -> None:
        assert process.stdout
        for line in process.stdout:
            lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if any(line.startswith("items-api local") for line in self.lines):
                return
            if self.process.poll() is not None:
                self._reader.join(timeout=10)
                if "Address already in use" not in self.output() or self.attempts >= self.ATTEMPTS:
                    break
                self._start()
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"make local did not start:\n{self.output()}")

    def aws_endpoint(self) -> str:
        [line] = [x for x in self.lines if "local AWS (moto): " in x]
        return line.split("local AWS (moto): ")[1].split(",")[0]

    def stop(self) -> int:
        """Ctrl-C (to the whole process group, as a terminal sends it); the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        return code


def request(
    server: LocalApi, method: str, path: str, body: Any = None, headers: dict | None = None
) -> tuple[int, dict[str, str], Any]:
    """One request, as curl would send it: (status, headers, the JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        server.base + path, data=data, method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            status, head, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, dict(error.headers), error.read()
    return status, head, (json.loads(raw) if raw else None)


class Served(LocalApi):
    """`python -m tools.local.serve ARGUMENTS --port <free>` itself, run in `root` (this checkout,
    or a copy of it whose sources a test changes): no make in between, so a signal reaches the
    server alone and the exit code is the server's."""

    def __init__(self, *arguments: str, root: Path = ROOT) -> None:
        serve = [sys.executable, "-m", "tools.local.serve", *arguments]
        self._launch(lambda port: [*serve, "--port", str(port)], root)
