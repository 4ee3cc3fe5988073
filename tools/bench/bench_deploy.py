"""Deploy: `make deploy STAGE=test` against moto_server on loopback (as
tests/tools/deploy/test_deploy_rehearsal.py rehearses it): the first deploy creates the stack, then
each no-op deploy must upload nothing and deploy nothing.

Why: content-addressed artifacts and the no-change check make a repeated deploy cheap; a
regression would re-upload the 1.3 MB layer or make a change set on every run. Bytes uploaded
are read twice: from the deploy's own lines ("uploaded <name>: ... (N bytes)", "artifacts: N
uploaded (B bytes)") and from moto_server's request log (PUTs of artifacts/ keys)."""

import re
import subprocess
import tempfile
from pathlib import Path

from tools.bench import common
from tools.local import moto_compat
from tools.local.stack import give_account_cloudwatch_role

STAGE = "test"
UPLOADED = re.compile(r"^uploaded \S+: .* \((\d+) bytes\)$", re.MULTILINE)
SUMMARY = re.compile(r"^artifacts: (\d+) uploaded \((\d+) bytes\)", re.MULTILINE)
OBJECT_PUT = re.compile(r'"PUT /([^ ]+) HTTP/1.1"')
NO_CHANGES = "no changes (same template, same parameters, same artifacts)"


def make_deploy(endpoint: str) -> tuple[float, str]:
    """`make deploy STAGE=test` against moto: (wall seconds, its output)."""
    env = common.child_environment(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=common.REGION,
        AWS_REGION=common.REGION,
    )
    command = [
        "make",
        "--no-print-directory",
        "deploy",
        f"STAGE={STAGE}",
        f"REGION={common.REGION}",
    ]
    started = common.clock()
    result = subprocess.run(
        command, cwd=common.ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    elapsed = common.clock() - started
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"make deploy failed ({result.returncode}):\n{output}")
    return elapsed, output


def uploaded_bytes(output: str) -> int:
    """Artifact bytes a deploy says it uploaded."""
    per_file = sum(int(n) for n in UPLOADED.findall(output))
    summary = sum(int(size) for _, size in SUMMARY.findall(output))
    return max(per_file, summary)


def requests_in(log: str) -> tuple[int, int, int]:
    """(all requests, PUTs of artifact keys, PUTs of other objects) in moto_server's log.
    An object PUT names a key after the bucket (`PUT /bucket/key`), not just `?subresource`."""
    lines = [line for line in log.splitlines() if " HTTP/1.1" in line]
    objects = [
        path
        for line in lines
        if (found := OBJECT_PUT.search(line)) and "/" in (path := found[1].split("?")[0])
    ]
    artifacts = sum(1 for path in objects if "/artifacts/" in f"/{path}")
    return len(lines), artifacts, len(objects) - artifacts


def run(quick: bool) -> list[common.Row]:
    reps = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        log = Path(tmp) / "moto.log"
        server, endpoint = moto_compat.start_server(log)
        try:
            # A fresh account (moto's too) has no API Gateway CloudWatch role: preflight refuses.
            give_account_cloudwatch_role(endpoint, common.REGION)
            common.progress("deploy: first deploy (create)")
            first, output = make_deploy(endpoint)
            first_bytes = uploaded_bytes(output)
            before = requests_in(log.read_text())
            walls, sent, unchanged = [], 0, 0
            for i in range(reps):
                common.progress(f"deploy: no-op deploy {i + 1}/{reps}")
                wall, output = make_deploy(endpoint)
                walls.append(wall)
                sent += uploaded_bytes(output)
                unchanged += NO_CHANGES in output
            after = requests_in(log.read_text())
        finally:
            server.terminate()
            server.wait(timeout=30)
    calls, puts, other = (a - b for a, b in zip(after, before, strict=True))
    return [
        common.Row(
            f"deploy: first (create stack, {first_bytes:,} bytes uploaded): wall",
            first,
            "s",
        ),
        common.sample_row(f"deploy: no-op, {reps} runs: wall", walls, "s"),
        common.Row(
            "deploy: no-op: artifact bytes uploaded (deploy output)", sent, "bytes", "0", sent == 0
        ),
        common.Row(
            "deploy: no-op: artifact PUTs seen by moto_server", puts, "requests", "0", puts == 0
        ),
        common.Row(
            "deploy: no-op: other object PUTs (template, drift record)",
            other / reps,
            "per run",
            "0",
            other == 0,
        ),
        common.Row("deploy: no-op: AWS requests", calls / reps, "per run"),
        common.Row(
            "deploy: no-op: 'no changes', no change set",
            f"{unchanged}/{reps}",
            "runs",
            "all",
            unchanged == reps,
        ),
    ]


if __name__ == "__main__":
    common.main(run)
