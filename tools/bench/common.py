"""What every benchmark shares: the result row, statistics, the repetition counts, the built
artifacts unpacked as Lambda sees them, the functions' environment and API Gateway events.

Each bench_*.py module has `run(quick) -> list[Row]` and, run as a script, prints its rows as
one JSON line (`emit`), so tools/bench/run.py can run every module in its own interpreter: no module
sees another's environment variables, moto patches, imported layer or redirected stdout."""

import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tools import ROOT

DIST = ROOT / "dist"
PYTHON = sys.executable
REGION = "us-west-2"
STAGE = "test"
STACK = f"items-api-{STAGE}"
ROWS_MARK = "BENCH_ROWS "  # the prefix of the line a module prints its rows on
# Dummy credentials: nothing here may reach a real account.
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


def quick() -> bool:
    """BENCH_QUICK=1: small repetition counts, to debug the harness (numbers not comparable)."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


@dataclass(frozen=True)
class Row:
    """One line of the table. Single values (counts, sizes) have only `median`; `met` is None
    when the measurement has no target. Every target is judged on the median."""

    name: str
    median: float | int | str | None
    unit: str
    target: str = "-"
    met: bool | None = None
    min: float | int | None = None
    max: float | int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sample_row(
    name: str,
    samples: list[float],
    unit: str,
    target: str = "-",
    limit: float | None = None,
) -> Row:
    """min/median/max of `samples`; met when the median is at most `limit` (if given)."""
    median = statistics.median(samples)
    met = None if limit is None else median <= limit
    return Row(name, median, unit, target, met, min(samples), max(samples))


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0.99: p99) of `samples`."""
    ordered = sorted(samples)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[rank - 1]


def emit(rows: Iterable[Row]) -> None:
    """Print the rows for run.py, on the real stdout even if sys.stdout is redirected."""
    line = ROWS_MARK + json.dumps([r.to_json() for r in rows])
    sys.__stdout__.write(line + "\n")
    sys.__stdout__.flush()


def main(run: Callable[[bool], list[Row]]) -> None:
    """A module's __main__: run it and emit its rows; run alone (not by tools/bench/run.py), also
    show them as a table on stderr."""
    rows = run(quick())
    if not os.environ.get("BENCH_RUNNER"):
        from tools.bench.run import table

        print(table(rows), file=sys.stderr)
    emit(rows)


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment without make's and AWS's variables (no real account, no
    outer make's flags in a nested make), plus `extra`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE", "MFLAGS"))}
    return {**base, **extra}


def clock() -> float:
    return time.perf_counter()


# The built artifacts, as Lambda runs them ------------------------------------------------------


def unpack_dist(into: Path) -> tuple[Path, Path]:
    """Every artifact of dist/manifest.json unpacked under `into`: (functions dir, the layer's
    python/ dir), as tools.local does."""
    from tools.local.artifacts import unpack

    functions_dir, (layer_dir,) = unpack(DIST, into)
    return functions_dir, layer_dir


def load_handler(functions_dir: Path, layer_dir: Path, name: str) -> tuple[ModuleType, dict]:
    """functions/<name>/app.py from the unpacked zips with a fresh copy of the layer's
    items_common (each function has its own, as each Lambda function does). Returns the module
    and that function's items_common modules by name, to stub or instrument."""
    if str(layer_dir) in sys.path:
        sys.path.remove(str(layer_dir))
    sys.path.insert(0, str(layer_dir))
    for module in [m for m in sys.modules if m == "items_common" or m.startswith("items_common.")]:
        del sys.modules[module]
    path = functions_dir / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"bench_handler_{name}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    common = {
        m: sys.modules[m]
        for m in list(sys.modules)
        if m == "items_common" or m.startswith("items_common.")
    }
    return module, common


def template() -> dict[str, Any]:
    return json.loads((DIST / "template.json").read_text())


def function_environment(
    tpl: dict[str, Any], name: str, physical: Callable[[str], str]
) -> dict[str, str]:
    """The function's Environment as CloudFormation resolves it for the test stage, with
    `physical(logical_id)` for each Ref to a resource (table, bucket)."""
    from templates.naming import logical_id
    from tools.deploy.stage_params import stage_values
    from tools.intrinsics import Resolver

    values = {**stage_values(tpl, STAGE), "AWS::StackName": STACK, "AWS::Region": REGION}
    fn = tpl["Resources"][logical_id(name, "function")]
    resolver = Resolver(tpl, values, lambda logical, _: physical(logical))
    variables = resolver.resolve(fn["Properties"]["Environment"]["Variables"])
    return {key: str(value) for key, value in variables.items()}


@dataclass
class Context:
    """What the handlers (Powertools' inject_lambda_context) read of Lambda's context."""

    function_name: str = f"{STACK}-bench"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:{STACK}-bench"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


# Fixed, so the events are the same in every run (as the tests' are).
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
API_ID = "abcdef1234"
REQUEST_EPOCH = 1_700_000_000


def api_event(
    method: str,
    resource: str,
    path: str,
    *,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event from tools.local.events.proxy_event (the
    emulator's and the tests' builder), JSON by default, with a fixed request ID and time."""
    from tools.local.events import proxy_event

    return proxy_event(
        method,
        resource,
        path,
        stage=STAGE,
        headers={"Content-Type": "application/json", **(headers or {})},
        query=query,
        path_parameters=path_parameters,
        body=body,
        user_agent="bench",
        now=REQUEST_EPOCH,
        request_id=REQUEST_ID,
        api_id=API_ID,
    )
