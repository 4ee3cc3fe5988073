"""Stage files: every value allowed, and every bad file refused before any AWS call, with a
message naming the file, the key and what is allowed."""

import json
from pathlib import Path

import boto3
import pytest

from tests.cfn import ROOT
from tools.deploy import cli as deploy
from tools.deploy import stage_params
from tools.deploy.stage_params import STAGES, ParamsError


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_file_key_is_a_parameter_with_an_allowed_value(template, stage):
    values = json.loads((ROOT / "params" / f"{stage}.json").read_text())
    assert set(values) <= set(template["Parameters"])
    for key, value in values.items():
        assert stage_params.check_value(key, template["Parameters"][key], value) is None, key
    assert stage_params.validate(ROOT / "params" / f"{stage}.json", template)["Stage"] == stage


def _write(tmp_path: Path, stage: str, change: dict, drop: tuple = ()) -> Path:
    values = json.loads((ROOT / "params" / f"{stage}.json").read_text())
    values = {k: v for k, v in {**values, **change}.items() if k not in drop}
    path = tmp_path / f"{stage}.json"
    path.write_text(json.dumps(values))
    return path


# (what is wrong, change, dropped keys, words the message must contain)
BAD_FILES = [
    ("unknown key", {"MemorySizee": 128}, (), ["MemorySizee", "unknown parameter", "MemorySize"]),
    ("missing value", {}, ("TableReadCapacity",), ["TableReadCapacity", "missing"]),
    ("not allowed", {"Runtime": "python3.8"}, (), ["Runtime", "python3.8", "python3.13"]),
    ("retention", {"LogRetentionDays": 10}, (), ["LogRetentionDays", "'10'", "14"]),
    ("below range", {"MemorySize": 64}, (), ["MemorySize", "64", "from 128 to 10240"]),
    ("above range", {"Timeout": 900}, (), ["Timeout", "900", "from 1 to 30"]),
    ("not a number", {"TableWriteCapacity": "ten"}, (), ["TableWriteCapacity", "'ten'"]),
    ("a boolean", {"CreateApiGatewayAccountRole": True}, (), ["CreateApiGatewayAccountRole"]),
    ("wrong stage", {"Stage": "prod"}, (), ["Stage", "'prod'", "'test'"]),
    ("build's key", {"GetItemCodeKey": "x.zip"}, (), ["GetItemCodeKey", "set by the build"]),
    ("deploy's key", {"ArtifactBucket": "b"}, (), ["ArtifactBucket", "make deploy"]),
]


@pytest.mark.parametrize(
    ("case", "change", "drop", "words"), BAD_FILES, ids=[c[0] for c in BAD_FILES]
)
def test_a_bad_stage_file_names_file_key_and_what_is_allowed(
    template, tmp_path, case, change, drop, words
):
    path = _write(tmp_path, "test", change, drop)
    with pytest.raises(ParamsError) as error:
        stage_params.validate(path, template)
    assert str(path) in str(error.value)
    for word in words:
        assert word in str(error.value), case


@pytest.mark.parametrize(
    ("content", "words"),
    [("{not json", ["not valid JSON", "line 1"]), ('["Stage=test"]', ["must be a JSON object"])],
)
def test_a_malformed_stage_file_is_refused(template, tmp_path, content, words):
    path = tmp_path / "test.json"
    path.write_text(content)
    with pytest.raises(ParamsError, match=words[0]) as error:
        stage_params.validate(path, template)
    assert all(w in str(error.value) for w in words)


def test_all_problems_of_a_file_are_reported_at_once(template, tmp_path):
    path = _write(tmp_path, "dev", {"MemorySize": 1, "Timeout": 0, "Bogus": 1})
    with pytest.raises(ParamsError) as error:
        stage_params.validate(path, template)
    assert all(k in str(error.value) for k in ("MemorySize", "Timeout", "Bogus"))


@pytest.fixture
def no_aws(monkeypatch):
    """Any attempt to reach AWS fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("an AWS call was made")

    monkeypatch.setattr(boto3, "Session", refuse)
    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(deploy.subprocess, "run", refuse)


def _built_dist() -> Path:
    dist = ROOT / "dist"
    if not (dist / "manifest.json").exists():
        pytest.fail("dist/ is not built: run `make template` (make test does)")
    return dist


@pytest.mark.parametrize(
    ("stage", "change", "drop", "words"),
    [
        ("bogus", {}, (), ["'bogus'", "dev, test, prod"]),
        ("test", {"Colour": "blue"}, (), ["test.json", "Colour", "unknown parameter"]),
        ("test", {}, ("MemorySize",), ["test.json", "MemorySize", "missing"]),
        ("test", {"Architecture": "sparc"}, (), ["test.json", "Architecture", "arm64, x86_64"]),
    ],
)
def test_deploy_refuses_bad_input_before_any_aws_call(
    no_aws, tmp_path, capsys, stage, change, drop, words
):
    if stage in STAGES:
        _write(tmp_path, stage, change, drop)
    code = deploy.main(
        ["--stage", stage, "--dist", str(_built_dist()), "--params-dir", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert all(w in err for w in words), err


def test_built_params_are_the_deploy_overrides_format(template):
    """`--parameter-overrides file://` takes a JSON list of Key=Value on awscli v1 and v2."""
    manifest = json.loads((_built_dist() / "manifest.json").read_text())
    keys = {a["s3_key"] for a in manifest["artifacts"].values()}
    for stage in STAGES:
        lines = json.loads((_built_dist() / "params" / f"{stage}.json").read_text())
        assert all(isinstance(x, str) and "=" in x for x in lines)
        pairs = dict(x.split("=", 1) for x in lines)
        assert keys == {v for k, v in pairs.items() if k.endswith("CodeKey")}


@pytest.mark.parametrize("stage", STAGES)
def test_every_parameter_is_written_out_so_no_console_edit_survives_a_deploy(template, stage):
    """`aws cloudformation deploy` keeps the live value of every parameter it is not given
    ("--parameter-overrides ... If you don't specify a parameter, its existing value is used":
    https://docs.aws.amazon.com/cli/latest/reference/cloudformation/deploy/index.html), so a
    console edit of a parameter the stage file does not set would outlive every make deploy.
    The built file lists every parameter but ArtifactBucket (make deploy adds it): the stage
    file's value, else the template's Default written out."""
    pairs = dict(
        x.split("=", 1)
        for x in json.loads((_built_dist() / "params" / f"{stage}.json").read_text())
    )
    assert set(template["Parameters"]) - set(pairs) == {"ArtifactBucket"}
    own = json.loads((ROOT / "params" / f"{stage}.json").read_text())
    defaulted = [k for k in pairs if k not in own and not k.endswith("CodeKey")]
    assert defaulted  # the stage files leave most parameters to their defaults
    for key in defaulted:
        assert pairs[key] == str(template["Parameters"][key]["Default"]), key


def test_a_built_file_older_than_a_removed_stage_value_is_refused(tmp_path, capsys):
    """Removing a key from params/<stage>.json means its Default: a dist/ built before still
    holds the old value, and would deploy it."""
    stage_file = json.loads((ROOT / "params" / "dev.json").read_text())
    removed = "LogLevel"  # DEBUG in dev, INFO by default
    assert removed in stage_file
    del stage_file[removed]
    (tmp_path / "dev.json").write_text(json.dumps(stage_file))
    code = deploy.main(
        ["--stage", "dev", "--dist", str(_built_dist()), "--params-dir", str(tmp_path)]
    )
    assert code == 2
    assert f"older than params/dev.json ({removed})" in capsys.readouterr().err
