"""The build: byte-identical output from the same sources (from any checkout), bytecode each
runtime's CPython compiled for the path Lambda sees, a change to one function's source moves
exactly that function's artifact key, and the cache reuses only what has the same inputs."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import build
from templates.catalog import ARTIFACTS, LAYER
from templates.functions import PYTHON_RUNTIMES, code_key_parameter
from tests.cfn import ROOT

SERIES = [r.removeprefix("python") for r in PYTHON_RUNTIMES]


# What a build writes to dist/: the template, the CI/CD roles' template, the stack policy, the
# OpenAPI document, the manifest, a params file per stage, the zips.
DIST_FILES = 1 + 1 + 1 + 1 + 1 + 3 + len(ARTIFACTS)


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pythons() -> dict[str, str]:
    """The runtimes' interpreters, as the build finds them (by series)."""
    return {p.series: p.path for p in build.interpreters(SERIES, {})}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """This module's own .cache/build/: shared by its tests, not by the checkout's builds."""
    return tmp_path_factory.mktemp("store")


@pytest.fixture
def sources(tmp_path, monkeypatch, store) -> Path:
    """A private copy of functions/ for the build to read, so tests may edit it."""
    copy = tmp_path / "functions"
    shutil.copytree(ROOT / "functions", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(build, "FUNCTIONS_DIR", copy)
    monkeypatch.setattr(build, "SHARED_DIR", copy / "shared")
    monkeypatch.setattr(build, "LAYER_REQUIREMENTS", copy / "shared" / "requirements.txt")
    monkeypatch.setattr(build, "STORE", store)
    return copy


def test_two_builds_are_byte_identical(tmp_path, sources):
    first, second = tmp_path / "a", tmp_path / "b"
    build.build(first, ["dev", "test", "prod"], cache=False)
    (sources / "get_item" / "__pycache__").mkdir()  # a run of the tests leaves these
    (sources / "get_item" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0junk")
    build.build(second, ["dev", "test", "prod"], cache=False)
    assert _digests(first) == _digests(second)
    assert len(_digests(first)) == DIST_FILES


def test_changing_one_function_changes_only_its_artifact_key(tmp_path, sources):
    before = build.build(tmp_path / "a", ["test"])["manifest"]["artifacts"]
    with (sources / "get_item" / "app.py").open("a") as f:
        f.write("\n# a change\n")
    after = build.build(tmp_path / "b", ["test"])["manifest"]["artifacts"]
    changed = {n for n in before if before[n]["s3_key"] != after[n]["s3_key"]}
    assert changed == {"get_item"}

    old = json.loads((tmp_path / "a" / "params" / "test.json").read_text())
    new = json.loads((tmp_path / "b" / "params" / "test.json").read_text())
    assert {x.split("=")[0] for x in set(old) ^ set(new)} == {code_key_parameter("get_item")}
    assert (tmp_path / "a" / "template.json").read_bytes() == (
        tmp_path / "b" / "template.json"
    ).read_bytes()


def test_changing_shared_code_changes_only_the_layer(tmp_path, sources):
    before = build.build(tmp_path / "a", ["dev"])["manifest"]["artifacts"]
    with (sources / "shared" / "items_common" / "__init__.py").open("a") as f:
        f.write("\n# a change\n")
    after = build.build(tmp_path / "b", ["dev"])["manifest"]["artifacts"]
    assert {n for n in before if before[n]["sha256"] != after[n]["sha256"]} == {LAYER}


def test_a_rebuild_replaces_the_stale_zip(tmp_path, sources):
    out = tmp_path / "out"
    build.build(out, ["dev"])
    (sources / "health" / "app.py").write_text("def lambda_handler(e, c):\n    return {}\n")
    build.build(out, ["dev"])
    assert len(list((out / "artifacts").glob("health-*.zip"))) == 1


# The cache -------------------------------------------------------------------------------------


def test_a_rebuild_of_unchanged_sources_reuses_everything_and_writes_nothing(tmp_path, sources):
    out = tmp_path / "out"
    fresh = build.build(out, ["dev", "prod"], cache=False)
    times = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = build.build(out, ["dev", "prod"])
    assert again["summary"]["rebuilt"] == []
    assert again["manifest"] == fresh["manifest"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == times
    # A fresh folder gets the same bytes from the cache.
    build.build(tmp_path / "copy", ["dev", "prod"])
    assert _digests(tmp_path / "copy") == _digests(out)


def test_a_changed_input_is_never_reused_and_a_reverted_one_is(tmp_path, sources):
    app = sources / "delete_item" / "app.py"
    original = app.read_bytes()
    first = build.build(tmp_path / "a", ["dev"])
    app.write_bytes(original.replace(b"\n", b"\n\n", 1))  # same code, other bytes
    second = build.build(tmp_path / "b", ["dev"])
    assert second["summary"]["rebuilt"] == ["delete_item"]
    assert (
        second["manifest"]["artifacts"]["delete_item"]
        != first["manifest"]["artifacts"]["delete_item"]
    )
    app.write_bytes(original)
    third = build.build(tmp_path / "c", ["dev"])
    assert third["summary"]["rebuilt"] == []
    assert third["manifest"] == first["manifest"]
    assert _digests(tmp_path / "c") == _digests(tmp_path / "a")


def test_another_compiler_version_rebuilds_every_zip(tmp_path, sources, monkeypatch):
    build.build(tmp_path / "a", ["dev"])
    found = build.interpreters

    def newer(series, known):
        pythons = found(series, known)
        pythons[-1].version += "+other"  # as if pyenv's 3.13 had moved to a new release
        return pythons

    monkeypatch.setattr(build, "interpreters", newer)
    assert sorted(build.build(tmp_path / "b", ["dev"])["summary"]["rebuilt"]) == sorted(ARTIFACTS)


def test_a_corrupt_or_missing_cache_entry_is_rebuilt(tmp_path, sources, store):
    first = build.build(tmp_path / "a", ["dev"])
    for entry in (store / "generated").iterdir():
        entry.write_text("{not json")
    for entry in (store / "artifacts").glob("health-*.zip"):
        entry.unlink()
    second = build.build(tmp_path / "b", ["dev"])
    assert second["summary"]["rebuilt"] == ["health"]
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert first["manifest"] == second["manifest"]


# Bytecode --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory, store) -> dict:
    out = tmp_path_factory.mktemp("dist")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "STORE", store)
        return {"out": out, **build.build(out, ["dev"])}


def _zip(built: dict, name: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(built["out"] / built["manifest"]["artifacts"][name]["file"])


@pytest.mark.parametrize("name", ARTIFACTS)
def test_every_zip_is_normalised_and_matches_the_manifest(built, name, pythons):
    entry = built["manifest"]["artifacts"][name]
    path = built["out"] / entry["file"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"] == path.stem.rsplit("-", 1)[1]
    assert len(data) == entry["size"]
    assert entry["s3_key"] == f"artifacts/{path.name}"
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert all(i.external_attr >> 16 == 0o644 for i in infos)
        # Exactly one pyc per source and runtime, beside it; none of the sources' own.
        tags = [f"cpython-{s.replace('.', '')}" for s in pythons]
        expected = {build.pyc_name(n, tag) for n in names if n.endswith(".py") for tag in tags}
        assert {n for n in names if n.endswith(".pyc") or "__pycache__" in n} == expected
        assert not [n for n in names if n.endswith((".pyo", "cpython-311.pyc"))]
        if name == LAYER:
            package = ROOT / "functions" / "shared" / "items_common"
            shipped = {  # every file of the package, data files (item_schema.json) included
                f"python/items_common/{p.relative_to(package)}"
                for p in package.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            }
            assert shipped <= set(names), shipped - set(names)
            assert "python/items_common/item_schema.json" in shipped
            assert "python/requirements.txt" not in names
            assert "python/aws_lambda_powertools/__init__.py" in names
            assert not [n for n in names if n.startswith(("python/botocore/", "python/boto3/"))]
            # Nothing that names the interpreter that ran pip: no console script, no RECORD.
            assert not [n for n in names if n.startswith("python/bin/")]
            assert not [n for n in names if n.endswith(("/RECORD", "/INSTALLER", "/REQUESTED"))]
            assert any(n.endswith(".dist-info/METADATA") for n in names)
        else:
            assert "app.py" in names


# Run by each runtime's CPython on an unpacked zip: every pyc is what py_compile writes with
# --invalidation-mode unchecked-hash and the Lambda path as dfile, and the import system takes
# it without reading the source (the sources are overwritten first).
CHECK_PYCS = r"""
import importlib.machinery, importlib.util, json, marshal, os, py_compile, sys, tempfile
root, mount = sys.argv[1], sys.argv[2]
sources = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".py"))
report = {"checked": 0, "mismatch": [], "filenames": set(), "source_read": []}
with tempfile.TemporaryDirectory() as tmp:
    for path in sources:
        rel = os.path.relpath(path, root)
        with open(importlib.util.cache_from_source(path), "rb") as f:
            ours = f.read()
        theirs = os.path.join(tmp, "x.pyc")
        py_compile.compile(path, cfile=theirs, dfile=mount + rel, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        with open(theirs, "rb") as f:
            if f.read() != ours:
                report["mismatch"].append(rel)
        report["checked"] += 1
        report["filenames"].add(marshal.loads(ours[16:]).co_filename == mount + rel)
for path in sources:
    with open(path, "w") as f:
        f.write("raise SystemExit('marker: the source was read')\n")
for path in sources:
    code = importlib.machinery.SourceFileLoader("m", path).get_code("m")
    if "marker: the source was read" in code.co_consts:
        report["source_read"].append(path)
report["filenames"] = sorted(report["filenames"])
print(json.dumps(report))
"""


@pytest.mark.parametrize("name", ["get_item", LAYER])
def test_the_bytecode_is_py_compiles_unchecked_hash_for_the_lambda_path(
    built, name, pythons, tmp_path
):
    mount = build.LAYER_MOUNT if name == LAYER else build.FUNCTION_MOUNT
    for series, python in pythons.items():
        folder = tmp_path / series
        with _zip(built, name) as zf:
            zf.extractall(folder)
        result = subprocess.run(
            [python, "-S", "-c", CHECK_PYCS, str(folder), mount], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["checked"] > 0, series
        assert report["mismatch"] == [], series  # byte for byte py_compile's, dfile included
        assert report["filenames"] == [True], series  # co_filename: the path Lambda sees
        assert report["source_read"] == [], series  # unchecked: the source is never read


def test_a_source_that_does_not_compile_fails_the_build_by_name(tmp_path, sources, capsys):
    (sources / "health" / "app.py").write_text("def lambda_handler(event, context:\n")
    assert build.main(["--out", str(tmp_path / "out"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "functions/health/app.py: does not compile with CPython 3." in error
    assert "SyntaxError" in error
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_missing_interpreter_is_an_error_that_says_how_to_install_it(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    for variable in ("PYTHON313", "PYENV_ROOT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(empty))  # no ~/.pyenv
    monkeypatch.setenv("PATH", str(empty))  # no uv, no python3.13
    with pytest.raises(build.BuildError) as error:
        build.find_interpreter("3.13")
    for words in ("CPython 3.13 not found", "pyenv install 3.13.0", "uv python install 3.13",
                  "PYTHON313=/path/to/python3.13"):  # fmt: skip
        assert words in str(error.value)


def test_an_interpreter_of_another_series_is_refused(tmp_path, sources, pythons, monkeypatch):
    monkeypatch.setenv("PYTHON312", pythons["3.13"])  # never 3.13's bytecode for python3.12
    with pytest.raises(build.BuildError, match=r"is cpython 3\.13\.\d+ .*not a CPython 3\.12"):
        build.build(tmp_path / "out", ["dev"], cache=False)
    monkeypatch.setenv("PYTHON312", str(tmp_path / "nothing"))
    with pytest.raises(build.BuildError, match=r"PYTHON312=.*: not an executable file"):
        build.build(tmp_path / "out", ["dev"])


# From any checkout ------------------------------------------------------------------------------

# What build.py reads: copied (tracked and new files, as the work tree has them) into checkouts.
BUILD_INPUTS = ("build.py", "pyproject.toml", "templates", "functions", "params", "tools")


def _checkout(into: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", *BUILD_INPUTS],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, into / name)
    # Each checkout its own venv path, as `make` makes it: pip writes that path into what it
    # installs (console scripts, RECORD), which is what this test is for.
    (into / ".venv").symlink_to(Path(sys.prefix))


def test_two_checkouts_at_different_paths_build_the_same_bytes(tmp_path):
    """Two copies of the sources at paths of different lengths, each with its own .cache/ (so
    pip installs the layer's libraries in each) and venv path: every file of dist/ is the same.
    """
    short = tmp_path / "a"
    long = tmp_path / "a-much-longer-path-to-a-second-checkout" / "of" / "items-api"
    short.mkdir()
    _checkout(short)
    shutil.copytree(short, long, symlinks=True)  # the same sources, even if the tree is edited
    outputs = []
    for checkout in (short, long):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        result = subprocess.run(
            [str(checkout / ".venv" / "bin" / "python"), "build.py", "--quiet"],
            cwd=checkout,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        assert list((checkout / ".cache").glob("layer-deps-*"))  # pip ran in this checkout
        outputs.append(_digests(checkout / "dist"))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == DIST_FILES
    for member in _all_members(long / "dist"):  # no path of either checkout, anywhere
        assert str(short).encode() not in member and str(long).encode() not in member


def _all_members(out: Path):
    for path in out.rglob("*"):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                yield from (zf.read(i) for i in zf.infolist())
        elif path.is_file():
            yield path.read_bytes()


def test_build_help_documents_its_options():
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert all(o in result.stdout for o in ("--out", "--stage", "--quiet", "--no-cache"))


def test_the_build_knows_the_stages_without_importing_the_templates():
    from tools.deploy import stage_params

    assert build.STAGES == stage_params.STAGES


def test_a_missing_handler_fails_the_build_by_name(tmp_path, sources, capsys):
    (sources / "delete_item" / "app.py").unlink()
    assert build.main(["--out", str(tmp_path / "out")]) == 2
    assert "delete_item/app.py: missing" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.json").exists()
