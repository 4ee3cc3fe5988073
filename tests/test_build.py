"""The build: byte-identical output from the same sources, and a change to one function's
source moves exactly that function's artifact key."""

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import build
from templates.catalog import ARTIFACTS, LAYER
from templates.parameters import code_key_parameter
from tests.cfn import ROOT


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def sources(tmp_path, monkeypatch) -> Path:
    """A private copy of functions/ for the build to read, so tests may edit it."""
    copy = tmp_path / "functions"
    shutil.copytree(ROOT / "functions", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(build, "FUNCTIONS_DIR", copy)
    monkeypatch.setattr(build, "SHARED_DIR", copy / "shared")
    monkeypatch.setattr(build, "LAYER_REQUIREMENTS", copy / "shared" / "requirements.txt")
    return copy


def test_two_builds_are_byte_identical(tmp_path, sources):
    first, second = tmp_path / "a", tmp_path / "b"
    build.build(first, ["dev", "test", "prod"])
    (sources / "get_item" / "__pycache__").mkdir()  # a run of the tests leaves these
    (sources / "get_item" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0junk")
    build.build(second, ["dev", "test", "prod"])
    assert _digests(first) == _digests(second)
    # template, stack policy, OpenAPI document, manifest, params, zips
    assert len(_digests(first)) == 1 + 1 + 1 + 1 + 3 + len(ARTIFACTS)


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


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dist")
    return {"out": out, **build.build(out, ["dev"])}


@pytest.mark.parametrize("name", ARTIFACTS)
def test_every_zip_is_normalised_and_matches_the_manifest(built, name):
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
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
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
        else:
            assert "app.py" in names


def test_build_help_documents_its_options():
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert all(option in result.stdout for option in ("--out", "--stage", "--quiet"))


def test_a_missing_handler_fails_the_build_by_name(tmp_path, sources, capsys):
    (sources / "delete_item" / "app.py").unlink()
    assert build.main(["--out", str(tmp_path / "out")]) == 2
    assert "delete_item/app.py: missing" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.json").exists()
