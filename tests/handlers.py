"""The handlers as Lambda loads and calls them, for the tests: load_handler (a cold start),
FakeContext, and api_event (an API Gateway proxy event, built by tools.local.events, the one
builder the emulator and the benchmarks use too)."""

import base64
import importlib.util
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tests.cfn import ROOT
from tools.local.events import proxy_event

FUNCTIONS_DIR = ROOT / "functions"
SHARED = str(FUNCTIONS_DIR / "shared")  # items_common, as the layer provides it
sys.path.insert(0, SHARED)

# What the tests' events carry, fixed so that runs are alike.
STAGE = "test"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
API_ID = "abcdef1234"
REQUEST_EPOCH = 1_700_000_000
USER_AGENT = "pytest"


# Where load_handler keeps bytecode when PYTHONDONTWRITEBYTECODE is set (conftest: the run's
# temporary directory); None: Python's own choice.
BYTECODE_DIR: Path | None = None


def load_handler(name: str, functions_dir: Path | None = None) -> ModuleType:
    """functions/<name>/app.py (or under `functions_dir`), freshly imported with a fresh
    items_common (as a cold start) from functions/shared: first on sys.path again, as a
    LocalApi of the built zips puts their layer's copy first (coverage counts functions/)."""
    for module in [m for m in sys.modules if m == "items_common" or m.startswith("items_common.")]:
        del sys.modules[module]
    if sys.path[0] != SHARED:
        if SHARED in sys.path:
            sys.path.remove(SHARED)
        sys.path.insert(0, SHARED)
    path = (functions_dir or FUNCTIONS_DIR) / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{name}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    with _bytecode_kept():
        spec.loader.exec_module(module)
    return module


@contextmanager
def _bytecode_kept() -> Iterator[None]:
    """Bytecode written and read in BYTECODE_DIR, even under PYTHONDONTWRITEBYTECODE: the
    handler and items_common are imported afresh for every request, and compiling them each
    time was a good part of a handler test's time. Their modules still run anew (the cold
    start); only the compilation is kept, as a .pyc beside the sources would keep it."""
    if BYTECODE_DIR is None or not sys.dont_write_bytecode:
        yield
        return
    saved = sys.dont_write_bytecode, sys.pycache_prefix
    sys.dont_write_bytecode, sys.pycache_prefix = False, str(BYTECODE_DIR)
    try:
        yield
    finally:
        sys.dont_write_bytecode, sys.pycache_prefix = saved


@dataclass
class FakeContext:
    function_name: str = "items-api-test-fn"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-west-2:123456789012:function:items-api-test-fn"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    # The function's Timeout, counted from the context's creation: Lambda's maximum by default,
    # as fixtures share one context across many requests; a test of the deadline sets its own.
    timeout_s: float = 900.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


def api_event(
    method: str,
    path: str,
    *,
    path_parameters: dict | None = None,
    query: dict | None = None,
    body: str | bytes | None = None,
    headers: dict | None = None,
    is_base64: bool = False,
) -> dict:
    """An API Gateway REST (v1) Lambda proxy event, as the deployed API sends it: a JSON
    Content-Type unless `headers` name another, the resource found by putting each path
    parameter's name back in place of its value, a body given as bytes (or with `is_base64`)
    base64-encoded, and a fixed request ID and time."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if isinstance(body, bytes) or is_base64:
        raw = body if isinstance(body, bytes) else (body or "").encode()
        body, is_base64 = base64.b64encode(raw).decode(), True
    resource = path
    for key, value in (path_parameters or {}).items():
        resource = resource.replace(str(value), "{" + key + "}")
    return proxy_event(
        method,
        resource,
        path,
        stage=STAGE,
        headers=headers,
        query=query,
        path_parameters=path_parameters,
        body=body,
        is_base64=is_base64,
        user_agent=USER_AGENT,
        now=REQUEST_EPOCH,
        request_id=REQUEST_ID,
        api_id=API_ID,
    )
