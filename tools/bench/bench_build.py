"""The build against the CDK synth of seed 000, in one run: `python build.py` cold (--no-cache:
bytecode for every runtime, every zip, the template), with nothing changed (every zip and the
generated files reused by the hash of their inputs), after a template edit (template
regenerated, zips reused) and after a function edit (that zip rebuilt); `cdk synth` of seed 000
(the CDK app in ../shared/seeds/000_*.txt, its pinned aws-cdk-lib from PyPI in a venv and the
CDK CLI of the same version from npm, both under .cache/cdk/) and that app run alone (what
`cdk synth` runs); the ratios; `make template` with nothing changed (a check, no rebuild);
determinism (two --no-cache builds, same bytes) and incrementality (one touched function changes
one artifact and one parameter value per stage file).

Seed 000's main.py fails as written (`logs.RetentionDays(7)`: 7 is no RetentionDays member in
aws-cdk-lib); the bench maps 7, 14 and 30 days to ONE_WEEK, TWO_WEEKS and ONE_MONTH, the seed's
intent, and changes nothing else. The synth runs with no AWS credentials, EC2 metadata lookups
off and --no-notices; one untimed synth first. BENCH_CDK=0 skips the CDK side.

Why: the build runs on every `make template`, `make test` and deploy; it must stay cheap, and
its outputs must be a pure function of the sources so deploys upload only what changed."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.bench import common
from tools.deploy.stage_params import STAGES

MIB = 1024 * 1024
COLD_SECONDS = 3.0
BUILD_MIB = 64
RATIO = 20  # the no-op build at least this many times faster than the CDK synth
TOUCHED = "get_item"  # the function whose app.py the incrementality check changes (in a copy)
EDITED_TEMPLATE = "templates/tags.py"  # the template source the regeneration check changes
SEEDS = common.ROOT.parent / "shared" / "seeds"
CDK_DIR = common.ROOT / ".cache" / "cdk"
CDK_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookup for an account
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "CDK_DISABLE_VERSION_CHECK": "1",
}
RETENTION = (  # seed 000's one fix: an int is no RetentionDays member
    'logs.RetentionDays(self.env_config["log_retention_days"])',
    "{7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, "
    '30: logs.RetentionDays.ONE_MONTH}[self.env_config["log_retention_days"]]',
)


def timed_child(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run `command`; (wall seconds, peak RSS in MiB of the child, its output). wait4 gives
    the child's own rusage, so earlier children do not count."""
    with tempfile.TemporaryFile() as out:
        started = common.clock()
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=env or common.child_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = common.clock() - started
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


def build_into(out: Path, root: Path = common.ROOT, *flags: str) -> tuple[float, float]:
    command = [common.PYTHON, str(root / "build.py"), "--out", str(out), "--quiet", *flags]
    wall, rss, _ = timed_child(command, root)
    return wall, rss


def copy_sources(into: Path) -> None:
    """What build.py reads, copied (the layer's libraries and the build cache linked)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("templates", "functions", "params"):
        shutil.copytree(common.ROOT / folder, into / folder, ignore=ignore)
    for file in ("build.py", "pyproject.toml"):
        shutil.copy2(common.ROOT / file, into / file)
    (into / ".cache").symlink_to(common.ROOT / ".cache")


def our_build(reps: int) -> tuple[list[common.Row], dict[str, float]]:
    """build.py cold, with nothing changed, after a template edit, after a function edit: the
    rows and their medians by name."""
    cold, peaks, noop, template, function = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        copy = Path(tmp) / "repo"
        copy.mkdir()
        copy_sources(copy)
        out = Path(tmp) / "out"
        for _ in range(reps):
            wall, rss = build_into(out, copy, "--no-cache")
            cold.append(wall)
            peaks.append(rss)
        for _ in range(reps):
            noop.append(build_into(out, copy)[0])
        for i in range(reps):
            with (copy / EDITED_TEMPLATE).open("a") as f:
                f.write(f"# bench edit {i}\n")  # a new input each time: never in the cache
            template.append(build_into(out, copy)[0])
        for i in range(reps):
            with (copy / "functions" / TOUCHED / "app.py").open("a") as f:
                f.write(f"# bench edit {i}\n")
            function.append(build_into(out, copy)[0])
        built = json.loads((out / "template.json").read_text())
    what = f"{len(built['Resources'])} resources, {len(built['Parameters'])} parameters"
    rows = [
        common.sample_row(
            f"build.py --no-cache, cold ({what}; bytecode for every runtime, 12 zips): wall",
            cold,
            "s",
            f"< {COLD_SECONDS:g} s",
            COLD_SECONDS,
        ),
        common.sample_row(
            f"build.py --no-cache: peak RSS ({reps} runs)", peaks, "MiB", "< 64 MiB", BUILD_MIB
        ),
        common.sample_row("build.py, nothing changed (every output reused): wall", noop, "s"),
        common.sample_row(
            f"build.py after editing {EDITED_TEMPLATE} (template regenerated, zips reused): wall",
            template,
            "s",
        ),
        common.sample_row(
            f"build.py after editing {TOUCHED}/app.py (its zip rebuilt): wall", function, "s"
        ),
    ]
    medians = {"cold": rows[0].median, "noop": rows[2].median, "template": rows[3].median}
    return rows, medians


def seed_files(text: str) -> dict[str, str]:
    """The files of a seed's answer: each fenced block under the last `path` named before it."""
    files, start = {}, 0
    for block in re.finditer(r"```(\w*)\n(.*?)```", text, re.S):
        names = re.findall(r"`([\w./-]+\.(?:py|txt|json))`", text[start : block.start()])
        start = block.end()
        if names:
            files[names[-1]] = block.group(2)
    return files


def cdk_setup() -> tuple[Path, Path, Path, str] | str:
    """(venv python, cdk CLI, app folder, aws-cdk-lib version) for seed 000, installed once
    under .cache/cdk/; or why the CDK side cannot be measured."""
    seeds = sorted(SEEDS.glob("000_*.txt"))
    if not seeds:
        return f"no seed 000 in {SEEDS}"
    files = seed_files(seeds[0].read_text())
    requirements = files.get("requirements.txt", "")
    pinned = re.search(r"aws-cdk-lib==([\d.]+)", requirements)
    if "main.py" not in files or not pinned:
        return "seed 000 has no main.py or no pinned aws-cdk-lib"
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            return f"{tool} is missing (Node.js runs the CDK CLI and jsii)"
    version = pinned.group(1)
    venv = CDK_DIR / f"venv-{hashlib.sha256(requirements.encode()).hexdigest()[:12]}"
    if not (venv / ".installed").exists():
        common.progress(f"build: installing aws-cdk-lib {version} into {venv} (once)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        (venv / "requirements.txt").write_text(requirements)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "-r", str(venv / "requirements.txt")], check=True)
        (venv / ".installed").touch()
    cli = CDK_DIR / f"cli-{version}"
    if not (cli / ".installed").exists():
        common.progress(f"build: installing the CDK CLI (npm aws-cdk@{version}) into {cli} (once)")
        cli.mkdir(parents=True, exist_ok=True)
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"]
        subprocess.run([*npm, str(cli), f"aws-cdk@{version}"], check=True)
        (cli / ".installed").touch()
    app = CDK_DIR / "app"
    shutil.rmtree(app, ignore_errors=True)
    for name, body in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(body.replace(*RETENTION) if name == "main.py" else body)
    return venv / "bin" / "python", cli / "node_modules" / ".bin" / "cdk", app, version


def cdk_synth(reps: int, ours: dict[str, float]) -> list[common.Row]:
    """`cdk synth` of seed 000 and its app alone, and how many times faster our build is."""
    if os.environ.get("BENCH_CDK", "1") == "0":
        return [common.Row("cdk synth of seed 000: not measured (BENCH_CDK=0)", None, "-")]
    try:
        setup = cdk_setup()
    except (OSError, subprocess.CalledProcessError) as e:
        setup = f"installing it failed: {e}"
    if isinstance(setup, str):
        return [common.Row(f"cdk synth of seed 000: not measured ({setup})", None, "-")]
    python, cli, app, version = setup
    env = common.child_environment(**CDK_ENV)
    synth, alone = [], []
    with tempfile.TemporaryDirectory(prefix="bench-cdk-") as tmp:
        command = [str(cli), "synth", "--quiet", "--no-notices", "--no-version-reporting",
                   "--app", f"{python} main.py", "--output", f"{tmp}/cdk.out"]  # fmt: skip
        timed_child(command, app, env)  # untimed: jsii's and the OS's caches warm
        for _ in range(reps):
            synth.append(timed_child(command, app, env)[0])
        assert list(Path(tmp, "cdk.out").glob("*.template.json")), "cdk synth wrote no template"
        for _ in range(reps):
            alone_env = {**env, "CDK_OUTDIR": f"{tmp}/alone"}
            alone.append(timed_child([str(python), "main.py"], app, alone_env)[0])
    rows = [
        common.sample_row(
            f"cdk synth, seed 000 (aws-cdk-lib {version}, CLI {version}): wall", synth, "s"
        ),
        common.sample_row("seed 000's main.py alone (what cdk synth runs): wall", alone, "s"),
    ]
    cdk = rows[0].median
    for key, what in (("noop", "nothing changed"), ("template", "template edited"),
                      ("cold", "--no-cache")):  # fmt: skip
        ratio = cdk / ours[key]
        target = f">= {RATIO}x" if key == "noop" else "-"
        met = ratio >= RATIO if key == "noop" else None
        rows.append(common.Row(f"cdk synth / build.py ({what}), medians", ratio, "x", target, met))
    return rows


def make_template(reps: int) -> list[common.Row]:
    """`make template` after it is current: make compares mtimes and must not run build.py.
    One untimed run first brings dist/ up to date (other engineers edit sources meanwhile)."""
    command = ["make", "--no-print-directory", "template"]
    manifest = common.ROOT / "dist" / "manifest.json"
    timed_child(command, common.ROOT)
    before = manifest.stat().st_mtime_ns
    walls, rebuilds = [], 0
    for _ in range(reps):
        wall, _, output = timed_child(command, common.ROOT)
        walls.append(wall)
        rebuilds += "build.py" in output
    touched = manifest.stat().st_mtime_ns != before
    runs = rebuilds + (touched and not rebuilds)
    return [
        common.sample_row("make template, nothing changed: wall", walls, "s", "a check only"),
        common.Row(
            "make template, nothing changed: build.py runs (manifest mtime kept)",
            runs,
            "runs",
            "0",
            runs == 0,
        ),
    ]


def determinism() -> list[common.Row]:
    """Two builds into two folders, nothing reused from the cache: every file the same bytes."""
    with tempfile.TemporaryDirectory(prefix="bench-determinism-") as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        build_into(a, common.ROOT, "--no-cache")
        build_into(b, common.ROOT, "--no-cache")
        first, second = digests(a), digests(b)
    same = sum(1 for k, v in first.items() if second.get(k) == v)
    total = len(first.keys() | second.keys())
    return [
        common.Row(
            "determinism: files identical in two --no-cache builds",
            f"{same}/{total}",
            "files",
            "all",
            same == total,
        )
    ]


def param_values(out: Path, stage: str) -> dict[str, str]:
    entries = json.loads((out / "params" / f"{stage}.json").read_text())
    return dict(entry.split("=", 1) for entry in entries)


def artifact_names(out: Path) -> dict[str, str]:
    """{artifact name: file name} of a build's artifacts."""
    return {p.name.rsplit("-", 1)[0]: p.name for p in (out / "artifacts").glob("*.zip")}


def incrementality() -> list[common.Row]:
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
        common.Row(
            f"incremental: artifacts changed after touching {TOUCHED}",
            f"{len(changed_artifacts)} ({', '.join(changed_artifacts)})",
            "artifacts",
            "1",
            changed_artifacts == [TOUCHED],
        ),
        common.Row(
            "incremental: param values changed per stage file (dev, test, prod)",
            ", ".join(map(str, changed_values)),
            "values",
            "1 each",
            changed_values == [1] * len(STAGES),
        ),
        common.Row(
            "incremental: template.json unchanged",
            "yes" if template_same else "no",
            "-",
            "yes",
            template_same,
        ),
    ]


def run(quick: bool) -> list[common.Row]:
    common.progress("build: build.py cold, no-op, template edit, function edit")
    rows, ours = our_build(2 if quick else 7)
    common.progress("build: cdk synth of seed 000")
    rows += cdk_synth(1 if quick else 5, ours)
    common.progress("build: make template (no change)")
    rows += make_template(2 if quick else 5)
    common.progress("build: determinism and incrementality")
    return rows + determinism() + incrementality()


if __name__ == "__main__":
    common.main(run)
