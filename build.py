#!/usr/bin/env python3
"""Build everything `aws cloudformation deploy` needs, into dist/, with no AWS call.

dist/template.json   the one template, for every stage
dist/artifacts/      one zip per function plus the layer, named <name>-<sha256>.zip
dist/params/<s>.json the stage's values plus the artifacts' S3 keys, as ["Key=Value", ...]
dist/stack-policy.json  the prod stack's policy: no replacing or deleting stateful resources
dist/manifest.json   the template's, the stack policy's and every artifact's sha256 and size
                     (and the artifacts' S3 keys)

Same sources, same bytes: zips have sorted entries, fixed timestamps and permissions, and no
__pycache__; JSON is written with a fixed layout."""

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from templates import build_template, stage_params
from templates.catalog import ARTIFACTS, LAYER
from templates.parameters import code_key_parameter
from templates.stack_policy import stack_policy

ROOT = Path(__file__).resolve().parent
FUNCTIONS_DIR = ROOT / "functions"
SHARED_DIR = FUNCTIONS_DIR / "shared"
LAYER_REQUIREMENTS = SHARED_DIR / "requirements.txt"
CACHE_DIR = ROOT / ".cache"
S3_PREFIX = "artifacts"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
SKIPPED = {"__pycache__", ".pytest_cache", ".DS_Store"}
# pip may install only pure-Python wheels: the layer must run on both architectures.
PIP_TARGET = ["--only-binary=:all:", "--platform", "any", "--implementation", "py",
              "--abi", "none", "--python-version", "3.12", "--no-deps", "--no-compile"]  # fmt: skip


class BuildError(Exception):
    """Sources the build cannot turn into a deployable artifact."""


@dataclass(frozen=True)
class Artifact:
    name: str
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.sha256}.zip"

    @property
    def s3_key(self) -> str:
        return f"{S3_PREFIX}/{self.filename}"


def _files(base: Path) -> list[Path]:
    return sorted(
        p
        for p in base.rglob("*")
        if p.is_file()
        and not SKIPPED.intersection(p.relative_to(base).parts)
        and p.suffix not in {".pyc", ".pyo"}
    )


def deterministic_zip(entries: list[tuple[str, Path]]) -> bytes:
    """Zip (archive name, file) pairs so that equal inputs give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for arcname, path in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so the permissions below are honoured
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def layer_dependencies() -> Path:
    """The layer's pinned libraries, installed once per requirements content into .cache/."""
    digest = hashlib.sha256(LAYER_REQUIREMENTS.read_bytes() + " ".join(PIP_TARGET).encode())
    target = CACHE_DIR / f"layer-deps-{digest.hexdigest()[:16]}"
    if not target.exists():
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command = [*pip, "--target", str(staging), *PIP_TARGET, "-r", str(LAYER_REQUIREMENTS)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(
                f"build: installing the layer's libraries from {LAYER_REQUIREMENTS} failed. Every "
                f"line must be a pinned pure-Python wheel (py3-none-any):\n{result.stderr}"
            )
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: useless in a layer
        staging.rename(target)
    return target


def artifact_entries(name: str) -> list[tuple[str, Path]]:
    """What goes into one artifact's zip."""
    if name == LAYER:
        code = SHARED_DIR
        entries = [(f"python/{p.relative_to(code)}", p) for p in _files(code) if p.suffix == ".py"]
        deps = layer_dependencies()
        return entries + [(f"python/{p.relative_to(deps)}", p) for p in _files(deps)]
    base = FUNCTIONS_DIR / name
    if not (base / "app.py").is_file():
        raise BuildError(f"{base}/app.py: missing; every function's handler is app.lambda_handler")
    return [(str(p.relative_to(base)), p) for p in _files(base)]


def write_if_changed(path: Path, data: bytes) -> None:
    """Leave an identical file untouched, so make and rsync see no change."""
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def build_artifact(name: str, out: Path) -> Artifact:
    data = deterministic_zip(artifact_entries(name))
    artifact = Artifact(name, hashlib.sha256(data).hexdigest(), len(data))
    directory = out / "artifacts"
    for stale in directory.glob(f"{name}-*.zip"):
        if stale.name != artifact.filename:
            stale.unlink()
    write_if_changed(directory / artifact.filename, data)
    return artifact


def dump_json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=False) + "\n").encode()


def build(out: Path, stages: list[str]) -> dict:
    """Build dist/; returns the manifest."""
    started = time.perf_counter()
    template = build_template()
    template_json = (template.to_json(sort_keys=False) + "\n").encode()
    template_dict = json.loads(template_json)
    values = {
        s: stage_params.validate(ROOT / "params" / f"{s}.json", template_dict) for s in stages
    }

    artifacts = [build_artifact(name, out) for name in ARTIFACTS]
    keys = {code_key_parameter(a.name): a.s3_key for a in artifacts}
    policy_json = dump_json(stack_policy(template_dict))
    write_if_changed(out / "template.json", template_json)
    write_if_changed(out / "stack-policy.json", policy_json)
    for stage, stage_values in values.items():
        write_if_changed(
            out / "params" / f"{stage}.json",
            dump_json(stage_params.overrides({**stage_values, **keys})),
        )
    manifest = {
        "template": {
            "file": "template.json",
            "sha256": hashlib.sha256(template_json).hexdigest(),
            "size": len(template_json),
        },
        "stack_policy": {
            "file": "stack-policy.json",
            "sha256": hashlib.sha256(policy_json).hexdigest(),
            "size": len(policy_json),
        },
        "artifacts": {
            a.name: {
                "file": f"artifacts/{a.filename}",
                "sha256": a.sha256,
                "size": a.size,
                "s3_key": a.s3_key,
            }
            for a in artifacts
        },
    }
    write_if_changed(out / "manifest.json", dump_json(manifest))
    summary = {
        "resources": len(template_dict["Resources"]),
        "parameters": len(template_dict["Parameters"]),
        "outputs": len(template_dict["Outputs"]),
        "seconds": time.perf_counter() - started,
    }
    return {"manifest": manifest, "summary": summary, "stages": stages}


def print_summary(result: dict, out: Path) -> None:
    s = result["summary"]
    print(
        f"{out}/template.json: {s['resources']} resources, {s['parameters']} parameters, "
        f"{s['outputs']} outputs; stages {', '.join(result['stages'])}; {s['seconds']:.2f} s"
    )
    for name, a in result["manifest"]["artifacts"].items():
        print(f"  {name:<12} {a['size'] / 1024:8.1f} KiB  {a['s3_key']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (dist/)")
    parser.add_argument(
        "--stage",
        action="append",
        choices=stage_params.STAGES,
        help="write the params of this stage only (repeatable; default: every stage)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    try:
        result = build(args.out, args.stage or list(stage_params.STAGES))
    except (stage_params.ParamsError, BuildError) as e:
        print(f"build: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        print_summary(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
