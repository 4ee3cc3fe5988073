"""Every path an operator takes, in order, on the project's patched moto_server: create, a
no-op deploy, a code change, a console edit of an API-shaping parameter (update-stack with the
current template and UsePreviousValue for the rest), the next make deploy stopping on it,
ADOPT=1, another console edit reverted by FORCE=1, destroy, and a create again.

tools/deploy/cli.py runs on copies of params/ and dist/ (ADOPT writes the copy; the code change is a
copied artifact with one more file). moto's gaps this needs (updates, custom resources run
in-process from the built zip, the API stage) are patched in tools/local/moto_compat.py. Not
rehearsed: the stack policy's refusal (moto does not evaluate stack policies; the policy
itself is tested in tests/tools/deploy/test_stack_policy.py) and CodeDeploy's traffic shifting
(moto has no CodeDeploy: the alias moves at once)."""

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import build
from templates.functions import code_key_parameter
from templates.naming import logical_id
from tests import moto_server
from tests.cfn import ROOT
from tools.deploy import stage_params

pytestmark = pytest.mark.slow  # every operator path against moto_server

STAGE = "test"
STACK = f"items-api-{STAGE}"
BUCKET = "items-api-operator-paths"
CHANGED = "health"  # the function whose code the rehearsal changes


def deploy_py(env: dict, inputs: tuple[Path, Path], *args: str) -> subprocess.CompletedProcess:
    params, dist = inputs
    return subprocess.run(
        [sys.executable, "-m", "tools.deploy", *args, "--stage", STAGE,
         "--region", moto_server.REGION, "--artifact-bucket", BUCKET,
         "--params-dir", str(params), "--dist", str(dist)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _copied_inputs(tmp: Path) -> tuple[Path, Path]:
    params, dist = tmp / "params", tmp / "dist"
    shutil.copytree(ROOT / "params", params)
    shutil.copytree(ROOT / "dist", dist, ignore=shutil.ignore_patterns("deploy"))
    return params, dist


def _change_code(dist: Path, name: str) -> str:
    """One more file in the function's zip, as a code change gives: a new sha256, a new key,
    written where the build writes them (artifact, manifest, built params). Returns the key."""
    manifest = json.loads((dist / "manifest.json").read_text())
    entry = manifest["artifacts"][name]
    with zipfile.ZipFile(dist / entry["file"]) as old:
        entries = [(i.filename, old.read(i)) for i in old.infolist()]
    data = build.deterministic_zip([*entries, ("CHANGED.txt", b"a code change\n")])
    artifact = build.Artifact(name, hashlib.sha256(data).hexdigest(), len(data))
    (dist / entry["file"]).unlink()
    (dist / "artifacts" / artifact.filename).write_bytes(data)
    manifest["artifacts"][name] = {"file": f"artifacts/{artifact.filename}",
                                   "sha256": artifact.sha256, "size": artifact.size,
                                   "s3_key": artifact.s3_key}  # fmt: skip
    (dist / "manifest.json").write_bytes(build.dump_json(manifest))
    built = dist / "params" / f"{STAGE}.json"
    key = code_key_parameter(name)
    lines = [f"{key}={artifact.s3_key}" if line.startswith(f"{key}=") else line
             for line in json.loads(built.read_text())]  # fmt: skip
    built.write_text(json.dumps(lines))
    return artifact.s3_key


def _make_template_again(params: Path, dist: Path) -> None:
    """What `make template` writes after ADOPT changed the stage file: its built params."""
    template = json.loads((dist / "template.json").read_text())
    values = stage_params.validate(params / f"{STAGE}.json", template)
    manifest = json.loads((dist / "manifest.json").read_text())
    keys = {code_key_parameter(n): a["s3_key"] for n, a in manifest["artifacts"].items()}
    built = stage_params.overrides(stage_params.with_defaults(template, {**values, **keys}))
    (dist / "params" / f"{STAGE}.json").write_bytes(build.dump_json(built))


class Observed:
    """What each step left behind, for the tests below to check one by one."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.cfn = moto_server.client(env, "cloudformation")
        self.apigateway = moto_server.client(env, "apigateway")
        self.lam = moto_server.client(env, "lambda")
        self.steps: dict[str, dict] = {}

    def physical(self, logical: str) -> str:
        pages = self.cfn.get_paginator("list_stack_resources").paginate(StackName=STACK)
        for page in pages:
            for r in page["StackResourceSummaries"]:
                if r["LogicalResourceId"] == logical:
                    return r["PhysicalResourceId"]
        raise KeyError(logical)

    def snapshot(self, step: str, result: subprocess.CompletedProcess | None = None) -> dict:
        """The stack's status and parameters, the stage's deployment, the changed function's
        live version, after `step`."""
        stack = self.cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        api = self.physical(logical_id("api"))
        [stage] = self.apigateway.get_stages(restApiId=api)["item"]
        function = self.physical(logical_id(CHANGED, "function"))
        seen = {
            "status": stack["StackStatus"],
            "parameters": {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]},
            "deployment": stage["deploymentId"],
            "description": self.apigateway.get_deployment(
                restApiId=api, deploymentId=stage["deploymentId"]
            ).get("description", ""),
            "live": self.lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"],
            "code": self.lam.get_function(FunctionName=function)["Configuration"]["CodeSha256"],
            "stack_id": stack["StackId"],
            "stdout": result.stdout if result else "",
            "stderr": result.stderr if result else "",
            "returncode": result.returncode if result else 0,
        }
        self.steps[step] = seen
        return seen

    def console_edit(self, **values: str) -> None:
        """Update stack -> Use current template -> change these values, keep the rest: the
        console's call, made with the awscli `make deploy` uses."""
        stack = self.cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        keys = [p["ParameterKey"] for p in stack["Parameters"]]
        parameters = [
            f"ParameterKey={k},ParameterValue={values[k]}"
            if k in values
            else f"ParameterKey={k},UsePreviousValue=true"
            for k in keys
        ]
        aws = str(Path(sys.executable).with_name("aws"))
        _ok(subprocess.run(
            [aws, "cloudformation", "update-stack", "--stack-name", STACK,
             "--use-previous-template", "--capabilities", "CAPABILITY_IAM",
             "--endpoint-url", self.env["AWS_ENDPOINT_URL"], "--parameters", *parameters],
            env=self.env, capture_output=True, text=True, timeout=300,
        ))  # fmt: skip


@pytest.fixture(scope="module")
def paths(env, tmp_path_factory) -> Observed:
    seen = Observed(env)
    inputs = _copied_inputs(tmp_path_factory.mktemp("operator"))
    params, dist = inputs
    seen.snapshot("create", _ok(deploy_py(env, inputs, "deploy")))
    seen.snapshot("no-op", _ok(deploy_py(env, inputs, "deploy")))
    seen.steps["new key"] = {"key": _change_code(dist, CHANGED)}
    seen.snapshot("code change", _ok(deploy_py(env, inputs, "deploy")))
    seen.console_edit(RoutePrefix="things")
    seen.snapshot("console edit")
    seen.snapshot("deploy after the edit", deploy_py(env, inputs, "deploy"))
    seen.snapshot("adopt", _ok(deploy_py(env, inputs, "deploy", "--adopt")))
    seen.steps["adopted file"] = json.loads((params / f"{STAGE}.json").read_text())
    _make_template_again(params, dist)
    seen.console_edit(CorsAllowOrigin="https://example.com")
    seen.snapshot("second console edit")
    seen.snapshot("force", _ok(deploy_py(env, inputs, "deploy", "--force")))
    first_id = seen.steps["create"]["stack_id"]
    _ok(deploy_py(env, inputs, "destroy", "--yes"))
    seen.steps["destroyed"] = seen.cfn.describe_stacks(StackName=first_id)["Stacks"][0]
    seen.snapshot("create again", _ok(deploy_py(env, inputs, "deploy")))
    return seen


def test_create(paths):
    created = paths.steps["create"]
    assert created["status"] == "CREATE_COMPLETE"
    assert "created" in created["description"]  # the custom resource's first deployment


def test_a_deploy_with_nothing_changed_changes_nothing(paths):
    before, after = paths.steps["create"], paths.steps["no-op"]
    assert "no changes" in after["stdout"]
    assert {k: after[k] for k in ("status", "deployment", "live")} == {
        k: before[k] for k in ("status", "deployment", "live")
    }


def test_a_code_change_publishes_a_version_that_live_serves(paths):
    before, after = paths.steps["no-op"], paths.steps["code change"]
    assert after["status"] == "UPDATE_COMPLETE"
    assert after["parameters"][code_key_parameter(CHANGED)] == paths.steps["new key"]["key"]
    assert int(after["live"]) == int(before["live"]) + 1
    assert after["code"] != before["code"]
    assert after["deployment"] == before["deployment"]  # the API did not change


def test_a_console_edit_of_an_api_shaping_parameter_reaches_the_stage(paths):
    """The edit takes effect in the same update: a new deployment, which the stage serves."""
    before, after = paths.steps["code change"], paths.steps["console edit"]
    assert after["status"] == "UPDATE_COMPLETE"
    assert after["parameters"]["RoutePrefix"] == "things"
    assert after["parameters"]["CorsAllowOrigin"] == before["parameters"]["CorsAllowOrigin"]
    assert after["deployment"] != before["deployment"]
    assert "RoutePrefix" in after["description"]


def test_the_next_deploy_stops_and_names_the_edit(paths):
    stopped = paths.steps["deploy after the edit"]
    assert stopped["returncode"] == 2, stopped["stdout"] + stopped["stderr"]
    assert (
        "RoutePrefix: live 'things', last make deploy 'items', default 'items'"
        in (stopped["stdout"])
    )
    assert "ADOPT=1" in stopped["stderr"] and "FORCE=1" in stopped["stderr"]
    assert stopped["deployment"] == paths.steps["console edit"]["deployment"]  # nothing done


def test_adopt_writes_the_live_value_into_the_stage_file(paths):
    assert paths.steps["adopted file"]["RoutePrefix"] == "things"
    adopted = paths.steps["adopt"]
    assert adopted["parameters"]["RoutePrefix"] == "things"
    assert adopted["deployment"] == paths.steps["console edit"]["deployment"]


def test_force_reverts_a_console_edit(paths):
    edited, forced = paths.steps["second console edit"], paths.steps["force"]
    assert edited["parameters"]["CorsAllowOrigin"] == "https://example.com"
    assert edited["deployment"] != paths.steps["adopt"]["deployment"]
    assert forced["status"] == "UPDATE_COMPLETE"
    assert (
        forced["parameters"]["CorsAllowOrigin"]
        == paths.steps["create"]["parameters"]["CorsAllowOrigin"]
    )
    assert forced["deployment"] != edited["deployment"]  # deployed again, with the file's value
    assert "CorsAllowOrigin" in forced["description"]


def test_destroy_then_create_again(paths):
    assert paths.steps["destroyed"]["StackStatus"] == "DELETE_COMPLETE"
    again = paths.steps["create again"]
    assert again["status"] == "CREATE_COMPLETE"
    assert again["stack_id"] != paths.steps["create"]["stack_id"]
    assert again["parameters"]["RoutePrefix"] == "things"  # the adopted stage file
