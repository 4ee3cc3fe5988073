"""`make local` as a child process, for the tests that use it end to end over HTTP."""

import os
import signal
import socket
import subprocess
import threading
import time

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
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
        self.command = ["make", "--no-print-directory", "local", f"STAGE={stage}"]
        self.settings = [f"{name}={value}" for name, value in variables.items()]
        self.attempts = 0
        checkout.ensure_built()
        self._start()

    def _start(self) -> None:
        port = free_port()
        self.attempts += 1
        self.process = subprocess.Popen(
            [*self.command, f"PORT={port}", *self.settings],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
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
