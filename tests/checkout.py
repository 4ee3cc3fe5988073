"""The checkout's dist/, built before a test runs a make target: every make target a test runs
(deploy, plan, local...) makes `template` first, which rebuilds dist/ (and .cache/build/) when
a source changed since. Under pytest-xdist two workers' make runs would then build it at once,
each writing the files the other reads; here the first of them builds it while the others wait
(a lock on a file), and later runs find it built. copy(): the sources, for a test that edits
them."""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cfn import ROOT

_built = False


@contextmanager
def locked() -> Iterator[None]:
    """Held by one process of this checkout at a time (every test worker, every run)."""
    tag = hashlib.sha256(str(ROOT).encode()).hexdigest()[:16]
    with (Path(tempfile.gettempdir()) / f"items-api-checkout-{tag}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_built() -> None:
    """`make template`, once per process, one process at a time (a no-op when dist/ is
    current, as `make test` leaves it)."""
    global _built
    if _built:
        return
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    with locked():
        result = subprocess.run(
            ["make", "--no-print-directory", "template"],
            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise RuntimeError(f"make template failed ({result.returncode}): see the output above")
    _built = True


# What a copy holds: enough to run the build and the tools (not dist/, .venv/ or .cache/).
COPIED = ("build.py", "pyproject.toml", "templates", "functions", "params", "tools")


def copy(into: Path) -> Path:
    """The checkout's sources copied into `into` (without bytecode), for a test that changes
    them: never the checkout's own files, which other tests read meanwhile."""
    for name in COPIED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            into.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, into / name)
    return into
