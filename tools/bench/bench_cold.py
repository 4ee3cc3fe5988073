"""Cold-start proxy on python3.13 (the Runtime parameter's default): the time to import each
function's handler module in a fresh interpreter, as Lambda imports it (the function's unpacked
zip, then the layer's python/ on sys.path, the function's environment from the template),
against `import boto3` alone; and each zip's size.

Why: on Lambda every cold start pays the import of the handler, the layer and boto3 before the
first request; the zip sizes bound the download. The clock runs inside the child around the
import only, so interpreter startup is excluded. Two passes, each with PYTHONDONTWRITEBYTECODE=1
(Lambda's /var/task and /opt are read-only): "no bytecode", every __pycache__ removed from the
unpacked zips, so the layer's and the function's modules are compiled from source at each start;
and "bytecode", with the cpython-313 .pyc files the build ships in the zips ("as shipped"), or,
when they ship none, compiled here with compileall --invalidation-mode unchecked-hash ("compiled
here"). The target is judged on the bytecode pass, which is what Lambda runs: the build fails
rather than ship a zip without bytecode; the other pass shows what the bytecode saves. boto3 is
the runtime's in both passes: the venv's boto3 with what it requires (botocore,
s3transfer, ...), copied to a folder of its own, after the layer on sys.path, and compiled for
3.13, as the runtime ships it. Each handler's import is paired with an `import boto3` right
before it, and a row is the median of its pairs' ratios (over the rounds): a busy moment slows
both imports of a pair, where two medians taken apart let it fall on one side only.
python3.13 is $BENCH_PYTHON313, else python3.13 on PATH (pyenv's shim is resolved)."""

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from templates.catalog import FUNCTIONS, LAYER
from tools.bench import common

KIB = 1024
ZIP_LIMIT_KIB = 64
RATIO_LIMIT = 1.25
RUNTIME = "python3.13"
PYC = ".cpython-313.pyc"
# Rounds per pass. The judged pass (bytecode) gets more: on a 2-core VM one pair in five can be
# 0.3x off, and the median of 11 pairs moves less than that of 7 (the no-bytecode pass is shown
# for comparison only).
ROUNDS = {"no bytecode": 5, "bytecode": 11}
IMPORT_CODE = (
    "import time\nstarted = time.perf_counter()\nimport {module}\n"
    "print(time.perf_counter() - started)\n"
)


def python313() -> str:
    """The python3.13 interpreter's path: $BENCH_PYTHON313, else python3.13 on PATH (a pyenv
    shim resolved to the interpreter it runs), else the newest 3.13 pyenv has installed."""
    candidates = [os.environ.get("BENCH_PYTHON313"), shutil.which(RUNTIME)]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        if root:
            candidates += sorted(map(str, Path(root).glob(f"versions/3.13*/bin/{RUNTIME}")))[::-1]
    probe = "import sys; print(sys.version_info[:2] == (3, 13)); print(sys.executable)"
    for candidate in filter(None, candidates):
        result = subprocess.run([candidate, "-c", probe], capture_output=True, text=True)
        lines = result.stdout.split("\n")
        if result.returncode == 0 and lines[0] == "True":
            return lines[1]
    raise RuntimeError(f"no working {RUNTIME}: install one (pyenv install 3.13) or set "
                       "BENCH_PYTHON313")  # fmt: skip


def runtime_boto3(into: Path, python: str) -> Path:
    """boto3 and every distribution it requires (not its extras), copied from this venv into
    `into` and compiled for `python`: the boto3 the Lambda runtime provides."""
    todo, seen = ["boto3"], set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(name)
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if parts[0] == ".." or "__pycache__" in parts:  # console scripts, the venv's .pyc
                continue
            target = into / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file.locate(), target)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(re.match(r"[A-Za-z0-9._-]+", requirement).group())
    subprocess.run([python, "-m", "compileall", "-q", str(into)], check=True, timeout=600)
    return into


def lambda_environment(tpl: dict, name: str, task_root: Path) -> dict[str, str]:
    """What Lambda sets, plus the function's own Environment from the template (resource Refs
    as plausible physical names): Powertools behaves as deployed."""
    function_name = f"{common.STACK}-{name.replace('_', '-')}"
    return {
        **common.DUMMY_AWS,
        **common.function_environment(
            tpl, name, lambda logical: f"{common.STACK}-{logical.lower()}"
        ),
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": "app.lambda_handler",
    }


def import_seconds(python: str, module: str, cwd: Path, env: dict[str, str]) -> float:
    """Seconds to import `module` in a fresh interpreter, timed inside it."""
    result = subprocess.run(
        [python, "-c", IMPORT_CODE.format(module=module)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} in {cwd} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def with_bytecode(root: Path, python: str) -> str:
    """Make the unpacked zips under `root` carry 3.13 bytecode; say whether the build shipped it."""
    if any(root.rglob(f"*{PYC}")):
        return "as shipped"
    command = [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*command, str(root)], check=True, timeout=600)
    return "compiled here"


def without_bytecode(root: Path) -> None:
    for cache in sorted(root.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)


def measure(
    python: str, label: str, root: Path, boto3_dir: Path, tpl: dict, reps: int
) -> list[common.Row]:
    """One pass over the unpacked zips under `root`: for each handler, `import boto3` then the
    times interleaved; a row for boto3 and one per function with its ratio to boto3."""
    functions_dir, layer_dir = common.unpack_dist(root)
    base = common.child_environment(PYTHONDONTWRITEBYTECODE="1")
    boto3_env = {**base, **common.DUMMY_AWS, "PYTHONPATH": str(boto3_dir)}
    environments = {}
    for spec in FUNCTIONS:
        folder = functions_dir / spec.name
        path = os.pathsep.join([str(folder), str(layer_dir), str(boto3_dir)])
        environments[spec.name] = {
            **base,
            **lambda_environment(tpl, spec.name, folder),
            "PYTHONPATH": path,
        }
    if label == "no bytecode":
        without_bytecode(root)
    else:
        label = f"bytecode {with_bytecode(root, python)}"
    times: dict[str, list[float]] = {"boto3": [], **{spec.name: [] for spec in FUNCTIONS}}
    ratios: dict[str, list[float]] = {spec.name: [] for spec in FUNCTIONS}
    for rep in range(reps):
        common.progress(f"cold ({label}): round {rep + 1} of {reps}")
        for spec in FUNCTIONS:
            # A pair: boto3, then the handler, back to back, so a busy moment slows both.
            boto3_time = import_seconds(python, "boto3", root, boto3_env)
            folder = functions_dir / spec.name
            handler_time = import_seconds(python, "app", folder, environments[spec.name])
            times["boto3"].append(boto3_time)
            times[spec.name].append(handler_time)
            ratios[spec.name].append(handler_time / boto3_time)
    rows = [
        common.sample_row(f"cold, {label}: import boto3 alone ({RUNTIME})", times["boto3"], "s")
    ]
    for spec in FUNCTIONS:
        seconds = statistics.median(times[spec.name])
        name = f"cold, {label}: import {spec.name} handler ({seconds:.3f} s) / import boto3"
        if label == "no bytecode":  # for comparison only: the build never ships a zip without it
            rows.append(common.sample_row(name, ratios[spec.name], "x"))
            continue
        target = f"<= {RATIO_LIMIT}x"
        rows.append(common.sample_row(name, ratios[spec.name], "x", target, RATIO_LIMIT))
    return rows


def zip_sizes() -> dict[str, int]:
    manifest = json.loads((common.DIST / "manifest.json").read_text())
    return {name: a["size"] for name, a in manifest["artifacts"].items()}


def run(quick: bool) -> list[common.Row]:
    python = python313()
    tpl = common.template()
    rows: list[common.Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        common.progress(f"cold: boto3 for {python}")
        boto3_dir = runtime_boto3(Path(tmp) / "runtime", python)
        for label in ("no bytecode", "bytecode"):
            root = Path(tmp) / label.replace(" ", "-")
            rows += measure(python, label, root, boto3_dir, tpl, 2 if quick else ROUNDS[label])
    sizes = zip_sizes()
    for spec in FUNCTIONS:
        size = sizes[spec.name] / KIB
        rows.append(
            common.Row(
                f"zip size: {spec.name}",
                size,
                "KiB",
                f"<= {ZIP_LIMIT_KIB} KiB",
                size <= ZIP_LIMIT_KIB,
            )
        )
    rows.append(common.Row("zip size: layer", sizes[LAYER] / KIB, "KiB"))
    return rows


if __name__ == "__main__":
    common.main(run)
