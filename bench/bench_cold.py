"""Cold-start proxy: the time to import each function's handler module in a fresh interpreter,
from its unpacked zip and the unpacked layer, against importing boto3 alone; and each zip's size.

Why: on Lambda every cold start pays the import of the handler, the layer and boto3 before the
first request; the zip sizes bound the download. The clock runs inside the child around the
import only, so interpreter startup is excluded. As on Lambda (read-only /var/task and /opt, and
the build ships no .pyc), the layer's and function's sources are compiled on every run
(PYTHONDONTWRITEBYTECODE=1, no __pycache__); boto3 comes from the venv with its bytecode, as the
runtime provides it. One extra row shows get_item with its bytecode cached, for comparison."""

import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.common import (
    DIST,
    DUMMY_AWS,
    PYTHON,
    STACK,
    Row,
    child_environment,
    function_environment,
    main,
    progress,
    sample_row,
    template,
    unpack_dist,
)
from templates.catalog import FUNCTIONS, LAYER

KIB = 1024
ZIP_LIMIT_KIB = 64
RATIO_LIMIT = 1.25
IMPORT_CODE = (
    "import time\nstarted = time.perf_counter()\nimport {module}\n"
    "print(time.perf_counter() - started)\n"
)


def lambda_environment(tpl: dict, name: str, task_root: Path) -> dict[str, str]:
    """What Lambda sets, plus the function's own Environment from the template (resource Refs
    as plausible physical names): Powertools behaves as deployed (tracing on, patching boto3)."""
    function_name = f"{STACK}-{name.replace('_', '-')}"
    return {
        **DUMMY_AWS,
        **function_environment(tpl, name, lambda logical: f"{STACK}-{logical.lower()}"),
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": "app.lambda_handler",
    }


def import_seconds(module: str, cwd: Path, env: dict[str, str]) -> float:
    """Seconds to import `module` in a fresh interpreter, timed inside it."""
    result = subprocess.run(
        [PYTHON, "-c", IMPORT_CODE.format(module=module)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} in {cwd} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def zip_sizes() -> dict[str, int]:
    manifest = json.loads((DIST / "manifest.json").read_text())
    return {name: a["size"] for name, a in manifest["artifacts"].items()}


def run(quick: bool) -> list[Row]:
    reps = 2 if quick else 7
    tpl = template()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        functions_dir, layer_dir = unpack_dist(Path(tmp) / "fresh")
        base = child_environment(PYTHONDONTWRITEBYTECODE="1")
        progress("cold: boto3 alone")
        boto3_env = {**base, **DUMMY_AWS}
        boto3_times = [import_seconds("boto3", Path(tmp), boto3_env) for _ in range(reps)]
        boto3_median = statistics.median(boto3_times)
        limit = RATIO_LIMIT * boto3_median
        rows.append(sample_row("cold: import boto3 alone", boto3_times, "s"))

        def handler_row(name: str, functions: Path, layer: Path, label: str, **env: str) -> Row:
            """Import one handler `reps` times (after one warm-up run when bytecode is kept)."""
            folder = functions / name
            environment = {
                **child_environment(**env),
                **lambda_environment(tpl, name, folder),
                "PYTHONPATH": os.pathsep.join([str(folder), str(layer)]),
            }
            if env.get("PYTHONDONTWRITEBYTECODE") == "":
                import_seconds("app", folder, environment)  # writes the __pycache__ folders
            times = [import_seconds("app", folder, environment) for _ in range(reps)]
            ratio = statistics.median(times) / boto3_median
            return sample_row(f"cold: import {name} handler{label} ({ratio:.2f}x boto3)",
                              times, "s", f"<= {RATIO_LIMIT}x boto3", limit)  # fmt: skip

        for spec in FUNCTIONS:
            progress(f"cold: {spec.name}")
            rows.append(handler_row(spec.name, functions_dir, layer_dir, "",
                                    PYTHONDONTWRITEBYTECODE="1"))  # fmt: skip
        # The same with bytecode written once and reused: what shipping .pyc would save.
        cached_dir, cached_layer = unpack_dist(Path(tmp) / "cached")
        rows.append(handler_row("get_item", cached_dir, cached_layer, ", .pyc cached",
                                PYTHONDONTWRITEBYTECODE=""))  # empty: written  # fmt: skip
    sizes = zip_sizes()
    for spec in FUNCTIONS:
        size = sizes[spec.name] / KIB
        rows.append(
            Row(
                f"zip size: {spec.name}",
                size,
                "KiB",
                f"<= {ZIP_LIMIT_KIB} KiB",
                size <= ZIP_LIMIT_KIB,
            )
        )
    rows.append(Row("zip size: layer", sizes[LAYER] / KIB, "KiB"))
    return rows


if __name__ == "__main__":
    main(run)
