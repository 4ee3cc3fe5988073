#!/usr/bin/env python3
"""The security scanners, offline, on both built templates: checkov once on dist/template.json
and dist/deploy-role.json as written, cfripper on each template as CloudFormation resolves it
(cfripper cannot follow Fn::If): the app's once per stage with that stage's parameters, the CI/CD
roles' once per OIDC provider choice with example values (ROLE_VALUES). Both run from their own
virtualenv (checkov pins packaging<24); this script only drives them. Exit status: non-zero when
either finds anything not suppressed with a reason (see templates/suppressions.py and each
template's cfripper folder, tools/scan/cfripper/ and tools/scan/cfripper-deploy-roles/)."""

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
DEPLOY_ROLES = ROOT / "dist" / "deploy-role.json"
PARAMS = ROOT / "dist" / "params"
CFRIPPER_FILTERS = ROOT / "tools" / "scan" / "cfripper"
DEPLOY_ROLES_FILTERS = ROOT / "tools" / "scan" / "cfripper-deploy-roles"
# Stands in for the value make deploy supplies; cfripper needs every Ref resolved.
ARTIFACT_BUCKET = "items-api-artifacts-example"
# What `make deploy-role` could be given: this stack creates the OIDC provider, or reuses one.
REPOSITORY = {"GitHubRepository": "example-org/items-api"}
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
ROLE_VALUES = {
    "new provider": REPOSITORY | {"GitHubOidcProviderArn": ""},
    "existing provider": REPOSITORY | {"GitHubOidcProviderArn": PROVIDER},
}


def stage_values(stage: str) -> dict[str, str]:
    """The stage's parameter values as cfripper's --resolve-parameters wants them."""
    pairs = json.loads((PARAMS / f"{stage}.json").read_text())
    return {"ArtifactBucket": ARTIFACT_BUCKET} | dict(p.split("=", 1) for p in pairs)


def checkov(bin_dir: Path) -> int:
    command = [bin_dir / "checkov", "-f", TEMPLATE, DEPLOY_ROLES, "--framework", "cloudformation",
               "--compact", "--quiet", "--skip-download"]  # fmt: skip
    # checkov logs warnings about policy documents under Fn::If it cannot enrich; findings and the
    # summary are printed either way.
    env = {**os.environ, "LOG_LEVEL": "ERROR"}
    return subprocess.run([str(c) for c in command], check=False, env=env).returncode


def cfripper(bin_dir: Path, template: Path, values: dict[str, str], filters: Path,
             label: str) -> int:  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json") as resolved:
        json.dump(values, resolved)
        resolved.flush()
        command = [bin_dir / "cfripper", template, "--resolve", "--resolve-parameters",
                   resolved.name, "--rules-filters-folder", filters, "--format", "txt",
                   "--logging", "ERROR"]  # fmt: skip
        print(f"cfripper, {label}:", flush=True)
        return subprocess.run([str(c) for c in command], check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.scan", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bin", type=Path, required=True, help="the scanners' venv bin/")
    args = parser.parse_args(argv)
    results = [("checkov", checkov(args.bin))]
    for s in STAGES:
        code = cfripper(args.bin, TEMPLATE, stage_values(s), CFRIPPER_FILTERS, f"stage {s}")
        results.append((f"cfripper {s}", code))
    for label, values in ROLE_VALUES.items():
        code = cfripper(
            args.bin, DEPLOY_ROLES, values, DEPLOY_ROLES_FILTERS, f"deploy-role, {label}"
        )
        results.append((f"cfripper deploy-role ({label})", code))
    failures = [name for name, code in results if code]
    if failures:
        print(f"security scan FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("security scan: checkov (both templates) and cfripper (dev, test, prod; deploy-role "
          "with a new and an existing OIDC provider) passed")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
