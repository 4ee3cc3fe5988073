"""`make bench`: run every benchmark, print ONE table, and keep the latest full run in
docs/benchmarks.md with the machine it ran on and how to reproduce it.

    .venv/bin/python -m tools.bench.run            # what `make bench` runs (after `make template`)
    BENCH_QUICK=1 .venv/bin/python -m tools.bench.run   # small counts, to debug; the doc is kept
    BENCH_ONLY=warm,scale ...                # some modules only (the doc is kept)

Each module runs in its own interpreter (tools/bench/common.py says why). A module that fails is one
"FAILED" row and a non-zero exit; a target that is not met is only reported: the numbers depend
on the machine and its load, so they are never a test."""

import ast
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from tools.bench.common import PYTHON, ROOT, ROWS_MARK, Row, progress, quick

MODULES = ("build", "cold", "warm", "scale", "deploy", "local")
DOC = ROOT / "docs" / "benchmarks.md"
HEADER = ("measurement", "min", "median", "max", "unit", "target", "met")
NOTES = """\
- **met** is judged on the median; min and max show the spread. A single value (a count, a
  size, a rate over the whole run) is in the median column.
- Times are wall-clock (`time.perf_counter`). Repetitions: build.py 7, `make template` 5, each
  cold import 7 (fresh interpreter each), warm 10,000 requests per route (+ 2,000 instrumented
  for the breakdown), scale 100 requests per size and route, no-op deploy 3, local server 3
  starts and 2,000 requests per client count.
- Not measured: a real Lambda cold start (the runtime's own init, the zip download, the X-Ray
  daemon); requests to real AWS (network and service latency); API Gateway's own overhead.
  The cold numbers are a proxy (imports only), the warm ones exclude the network by design.
"""


def machine() -> dict[str, str]:
    """nproc, memory, CPU model and Python version, from /proc where Linux has them."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                model = value.strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cpu": model,
        "nproc": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def commit() -> str:
    """The checked-out commit, and whether the tree had local changes (read-only git calls)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("--no-optional-locks", "status", "--porcelain")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}{' with uncommitted changes' if dirty else ''}"


def run_module(name: str) -> tuple[list[Row], float]:
    """Run tools/bench/bench_<name>.py in its own interpreter: (its rows, seconds)."""
    started = time.perf_counter()
    result = subprocess.run(
        [PYTHON, "-m", f"tools.bench.bench_{name}"],
        cwd=ROOT,
        env={**os.environ, "BENCH_RUNNER": "1"},
        stdout=subprocess.PIPE,
        text=True,
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    lines = [line for line in result.stdout.splitlines() if line.startswith(ROWS_MARK)]
    if result.returncode != 0 or not lines:
        progress(f"{name}: FAILED (exit {result.returncode}); its traceback is above")
        return [
            Row(f"{name}: FAILED (exit {result.returncode}, see stderr)", None, "-", "runs", False)
        ], elapsed
    return [Row(**row) for row in json.loads(lines[-1][len(ROWS_MARK) :])], elapsed


def number(value: float | int | str | None) -> str:
    """A short, readable number: 3 significant digits, thousands separated."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1):
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def cells(row: Row) -> list[str]:
    met = "-" if row.met is None else ("yes" if row.met else "**no**")
    return [
        row.name,
        number(row.min),
        number(row.median),
        number(row.max),
        row.unit,
        row.target,
        met,
    ]


def table(rows: list[Row]) -> str:
    """A Markdown table (readable as text too)."""
    body = [list(HEADER), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADER))]
    numeric = {1, 2, 3}

    def line(values: list[str]) -> str:
        padded = [
            v.rjust(w) if i in numeric else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if i in numeric else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(body[0]), rule, *(line(values) for values in body[1:])])


def method(name: str) -> str:
    """The module's docstring: how and why it measures."""
    source = (Path(__file__).parent / f"bench_{name}.py").read_text()
    text = ast.get_docstring(ast.parse(source)) or ""
    return " ".join(text.split())


def document(
    rows: list[Row], info: dict, load_start: tuple, load_end: tuple, seconds: dict, total: float
) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    busy = load_start[0] > 1
    unmet = [r for r in rows if r.met is False]
    lines = [
        "# Benchmarks",
        "",
        "The latest full `make bench` run (written by `tools/bench/run.py`; do not edit by hand).",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, nproc {info['nproc']}",
        f"- Memory: {info['memory']}",
        f"- Python: {info['python']} ({info['platform']})",
        f"- Load average at start (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in load_start)}; "
        f"at the end: {', '.join(f'{x:.2f}' for x in load_end)}",
        f"- When: {when}; commit {commit()}",
        f"- Wall time of the run: {total:.0f} s ("
        + ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
        + ")",
        "",
    ]
    if busy:
        lines += [
            f"**Busy machine:** the 1-minute load average was {load_start[0]:.2f} (> 1) when the "
            "run started (other engineers' test runs share the 2 cores), so the times are "
            "noisier and likely higher than on an idle machine; counts, sizes and bytes are not "
            "affected.",
            "",
        ]
    lines += [
        "## How to reproduce",
        "",
        "```sh",
        "make bench                                    # all of it, about 7 minutes; writes this"
        " file",
        "BENCH_QUICK=1 .venv/bin/python -m tools.bench.run   # small counts, to check the harness",
        "BENCH_ONLY=warm .venv/bin/python -m tools.bench.run # some modules (build cold warm scale "
        "deploy local)",
        ".venv/bin/python -m tools.bench.bench_warm          # one module, its rows as JSON",
        "```",
        "",
        "Quick and partial runs print the table but leave this file as it is. Nothing here is "
        "part of `make test`, and no test asserts a time.",
        "",
        "## Results",
        "",
        table(rows),
        "",
        "## Targets not met",
        "",
    ]
    lines += [f"- {r.name}: {number(r.median)} {r.unit} (target {r.target})" for r in unmet] or [
        "- none"
    ]
    lines += ["", "## Method", "", NOTES]
    for name in MODULES:
        lines += [f"- `tools/bench/bench_{name}.py`: {method(name)}", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    only = [m for m in os.environ.get("BENCH_ONLY", "").split(",") if m]
    modules = [m for m in MODULES if not only or m in only]
    info = machine()
    load_start = os.getloadavg()
    progress(
        f"{info['cpu']}, nproc {info['nproc']}, {info['memory']}, Python {info['python']}; "
        f"load average {load_start[0]:.2f}{' (QUICK)' if quick() else ''}"
    )
    started = time.perf_counter()
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    for name in modules:
        progress(f"== {name}")
        found, seconds[name] = run_module(name)
        rows += found
    total = time.perf_counter() - started
    load_end = os.getloadavg()
    print(table(rows))
    print(
        f"\n{len(rows)} rows in {total:.0f} s; load average {load_start[0]:.2f} at start, "
        f"{load_end[0]:.2f} at the end"
    )
    full = not quick() and not only
    if full:
        DOC.write_text(document(rows, info, load_start, load_end, seconds, total))
        print(f"wrote {DOC.relative_to(ROOT)}")
    failed = any(r.median is None and r.met is False for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
