#!/usr/bin/env python3
"""The security scanners, offline, on the built template: checkov once on dist/template.json as
written, cfripper once per stage on the template as CloudFormation resolves it with that stage's
parameters (cfripper cannot follow Fn::If). Both run from their own virtualenv (checkov pins
packaging<24); this script only drives them. Exit status: non-zero when either finds anything
not suppressed with a reason (see templates/suppressions.py and tools/scan/cfripper/)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import ROOT
from tools.deploy.stage_params import STAGES

TEMPLATE = ROOT / "dist" / "template.json"
PARAMS = ROOT / "dist" / "params"
CFRIPPER_FILTERS = ROOT / "tools" / "scan" / "cfripper"
# Stands in for the value make deploy supplies; cfripper needs every Ref resolved.
ARTIFACT_BUCKET = "items-api-artifacts-example"


def stage_values(stage: str) -> dict[str, str]:
    """The stage's parameter values as cfripper's --resolve-parameters wants them."""
    pairs = json.loads((PARAMS / f"{stage}.json").read_text())
    return {"ArtifactBucket": ARTIFACT_BUCKET} | dict(p.split("=", 1) for p in pairs)


def checkov(bin_dir: Path) -> int:
    command = [bin_dir / "checkov", "-f", TEMPLATE, "--framework", "cloudformation",
               "--compact", "--quiet", "--skip-download"]  # fmt: skip
    # checkov logs warnings about policy documents under Fn::If it cannot enrich; findings and the
    # summary are printed either way.
    env = {**os.environ, "LOG_LEVEL": "ERROR"}
    return subprocess.run([str(c) for c in command], check=False, env=env).returncode


def cfripper(bin_dir: Path, stage: str) -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as values:
        json.dump(stage_values(stage), values)
        values.flush()
        command = [bin_dir / "cfripper", TEMPLATE, "--resolve", "--resolve-parameters",
                   values.name, "--rules-filters-folder", CFRIPPER_FILTERS, "--format", "txt",
                   "--logging", "ERROR"]  # fmt: skip
        print(f"cfripper, stage {stage}:", flush=True)
        return subprocess.run([str(c) for c in command], check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.scan", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bin", type=Path, required=True, help="the scanners' venv bin/")
    args = parser.parse_args(argv)
    failures = [name for name, code in [("checkov", checkov(args.bin))]
                + [(f"cfripper {s}", cfripper(args.bin, s)) for s in STAGES] if code]  # fmt: skip
    if failures:
        print(f"security scan FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("security scan: checkov and cfripper (dev, test, prod) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
