"""The build: `python build.py` (wall time and peak memory of the child), `make template` with
nothing changed (a check, no rebuild), determinism (two builds, same bytes) and incrementality
(one touched function changes one artifact and one parameter value per stage file).

Why: the build runs on every `make template`, `make test` and deploy; it must stay cheap, and
its outputs must be a pure function of the sources so deploys upload only what changed."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import PYTHON, ROOT, Row, child_environment, clock, main, progress, sample_row

MIB = 1024 * 1024
BUILD_SECONDS = 0.5
BUILD_MIB = 64
TOUCHED = "get_item"  # the function whose app.py the incrementality check changes (in a copy)
STAGES = ("dev", "test", "prod")


def timed_child(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Run `command`; (wall seconds, peak RSS in MiB of the child, its output). wait4 gives
    the child's own rusage, so earlier children do not count."""
    with tempfile.TemporaryFile() as out:
        started = clock()
        child = subprocess.Popen(
            command, cwd=cwd, env=child_environment(), stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = clock() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({child.returncode}):\n{output}")
    return elapsed, usage.ru_maxrss * 1024 / MIB, output  # ru_maxrss is in KiB on Linux


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def build_into(out: Path, root: Path = ROOT) -> tuple[float, float]:
    wall, rss, _ = timed_child([PYTHON, str(root / "build.py"), "--out", str(out), "--quiet"], root)
    return wall, rss


def full_build(reps: int) -> list[Row]:
    """build.py into a fresh folder each time: everything is written (the layer's libraries
    come from .cache/, as on every build after the first)."""
    walls, peaks = [], []
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        for i in range(reps):
            wall, rss = build_into(Path(tmp) / f"out{i}")
            walls.append(wall)
            peaks.append(rss)
        built = json.loads((Path(tmp) / "out0" / "template.json").read_text())
    what = f"{len(built['Resources'])} resources, {len(built['Parameters'])} parameters"
    return [
        sample_row(f"build.py, full template ({what}): wall", walls, "s", "< 0.5 s", BUILD_SECONDS),
        sample_row(
            f"build.py, full template: peak RSS ({reps} runs)", peaks, "MiB", "< 64 MiB", BUILD_MIB
        ),
    ]


def make_template(reps: int) -> list[Row]:
    """`make template` after it is current: make compares mtimes and must not run build.py.
    One untimed run first brings dist/ up to date (other engineers edit sources meanwhile)."""
    command = ["make", "--no-print-directory", "template"]
    manifest = ROOT / "dist" / "manifest.json"
    timed_child(command, ROOT)
    before = manifest.stat().st_mtime_ns
    walls, rebuilds = [], 0
    for _ in range(reps):
        wall, _, output = timed_child(command, ROOT)
        walls.append(wall)
        rebuilds += "build.py" in output
    touched = manifest.stat().st_mtime_ns != before
    runs = rebuilds + (touched and not rebuilds)
    return [
        sample_row("make template, nothing changed: wall", walls, "s", "a check only"),
        Row(
            "make template, nothing changed: build.py runs (manifest mtime kept)",
            runs,
            "runs",
            "0",
            runs == 0,
        ),
    ]


def determinism() -> list[Row]:
    """Two builds into two folders: every file the same bytes."""
    with tempfile.TemporaryDirectory(prefix="bench-determinism-") as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        build_into(a)
        build_into(b)
        first, second = digests(a), digests(b)
    same = sum(1 for k, v in first.items() if second.get(k) == v)
    total = len(first.keys() | second.keys())
    return [
        Row(
            "determinism: files identical in two builds",
            f"{same}/{total}",
            "files",
            "all",
            same == total,
        )
    ]


def copy_sources(into: Path) -> None:
    """What build.py reads, copied (the layer's library cache linked, not copied)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("templates", "functions", "params"):
        shutil.copytree(ROOT / folder, into / folder, ignore=ignore)
    for file in ("build.py", "pyproject.toml"):
        shutil.copy2(ROOT / file, into / file)
    (into / ".cache").symlink_to(ROOT / ".cache")


def param_values(out: Path, stage: str) -> dict[str, str]:
    entries = json.loads((out / "params" / f"{stage}.json").read_text())
    return dict(entry.split("=", 1) for entry in entries)


def artifact_names(out: Path) -> dict[str, str]:
    """{artifact name: file name} of a build's artifacts."""
    return {p.name.rsplit("-", 1)[0]: p.name for p in (out / "artifacts").glob("*.zip")}


def incrementality() -> list[Row]:
    """In a copy of the sources, build, append a comment to functions/<TOUCHED>/app.py, build
    again: exactly one artifact (that function's) and one value per params file may change."""
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        copy = Path(tmp) / "repo"
        copy.mkdir()
        copy_sources(copy)
        before, after = Path(tmp) / "before", Path(tmp) / "after"
        build_into(before, copy)
        app = copy / "functions" / TOUCHED / "app.py"
        app.write_text(app.read_text() + "# touched by bench\n")
        build_into(after, copy)
        old, new = artifact_names(before), artifact_names(after)
        changed_artifacts = sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))
        changed_values = []
        for stage in STAGES:
            a, b = param_values(before, stage), param_values(after, stage)
            changed_values.append(sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k)))
        template_same = (before / "template.json").read_bytes() == (
            after / "template.json"
        ).read_bytes()
    return [
        Row(
            f"incremental: artifacts changed after touching {TOUCHED}",
            f"{len(changed_artifacts)} ({', '.join(changed_artifacts)})",
            "artifacts",
            "1",
            changed_artifacts == [TOUCHED],
        ),
        Row(
            "incremental: param values changed per stage file (dev, test, prod)",
            ", ".join(map(str, changed_values)),
            "values",
            "1 each",
            changed_values == [1] * len(STAGES),
        ),
        Row(
            "incremental: template.json unchanged",
            "yes" if template_same else "no",
            "-",
            "yes",
            template_same,
        ),
    ]


def run(quick: bool) -> list[Row]:
    progress("build: build.py")
    rows = full_build(2 if quick else 7)
    progress("build: make template (no change)")
    rows += make_template(2 if quick else 5)
    progress("build: determinism and incrementality")
    return rows + determinism() + incrementality()


if __name__ == "__main__":
    main(run)
