"""The users' CI/CD (.github/workflows/, issue #19) stays runnable and keyless: every `make`
command a workflow runs names targets and variables the Makefile has; AWS credentials come only
from GitHub's OIDC token (role-to-assume, id-token: write where a job assumes a role and nowhere
else, no access keys); the roles it assumes are the ones dist/deploy-role.json makes, each from
the event its trust admits; prod deploys behind `environment: prod`; every action is pinned.
(`make lint` checks the files against GitHub's workflow schema: check-jsonschema.)"""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from templates.deploy_roles import CI_ROLES, role_names
from tests.cfn import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
MAKEFILE = (ROOT / "Makefile").read_text()
CREDENTIALS = "aws-actions/configure-aws-credentials"
# A release tag (v4, v4.1.2) or a full commit SHA.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})$")
SHELL = set("|&;<>()")


def _load(path: Path) -> dict:
    """The workflow; YAML 1.1 reads the key `on` as True."""
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))
    return document


def _steps() -> list[tuple[str, str, dict, dict]]:
    """(workflow, job, job, step) for every step of every workflow."""
    return [
        (path.name, name, job, step)
        for path in WORKFLOWS
        for name, job in _load(path)["jobs"].items()
        for step in job.get("steps", [])
    ]


def make_commands(script: str) -> list[tuple[list[str], list[str]]]:
    """(targets, variables) of every `make` command in a shell script: the words after `make`
    up to the first shell operator, VAR=value words being variables."""
    found = []
    script = script.replace("\\\n", " ")
    for line in script.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            words = line.split()
        for i, word in enumerate(words):
            if word != "make":
                continue
            targets, variables = [], []
            for arg in words[i + 1 :]:
                if set(arg) & SHELL or arg.startswith("2>"):
                    break
                if "=" in arg:
                    variables.append(arg.split("=", 1)[0])
                elif not arg.startswith("-"):
                    targets.append(arg)
            found.append((targets, variables))
    return found


def missing_from_makefile(script: str, makefile: str) -> list[str]:
    """The targets and variables a script's make commands name that the Makefile lacks."""
    missing = []
    for targets, variables in make_commands(script):
        missing += [t for t in targets if not re.search(rf"^{re.escape(t)}:", makefile, re.M)]
        missing += [
            v for v in variables
            if not re.search(rf"^{re.escape(v)}\s*(\?|:)?=", makefile, re.M)
        ]  # fmt: skip
    return missing


def test_there_are_the_two_workflows():
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "deploy.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_make_command_names_targets_and_variables_the_makefile_has(path):
    scripts = [s["run"] for wf, _, _, s in _steps() if "run" in s and wf == path.name]
    assert scripts and any(make_commands(s) for s in scripts)
    assert [m for s in scripts for m in missing_from_makefile(s, MAKEFILE)] == []


def test_the_check_catches_a_planted_bad_target():
    planted = 'make deploi STAGE=test REGION="$AWS_REGION" 2>&1 | tee log'
    assert missing_from_makefile(planted, MAKEFILE) == ["deploi"]
    assert missing_from_makefile("make test TOOLS_PYTON=python3.11", MAKEFILE) == ["TOOLS_PYTON"]
    assert make_commands("set -o pipefail\nmake plan STAGE=test \\\n  REGION=x | tee l") == [
        (["plan"], ["STAGE", "REGION"])
    ]


def test_no_workflow_holds_aws_keys():
    text = "\n".join(p.read_text() for p in WORKFLOWS).lower()
    for key in ("aws-access-key-id", "aws-secret-access-key", "aws_access_key_id",
                "aws_secret_access_key", "aws-session-token", "secrets."):  # fmt: skip
        assert key not in text


def test_every_aws_credentials_step_assumes_a_role_with_the_jobs_oidc_token():
    assuming = [(wf, name, job, step) for wf, name, job, step in _steps()
                if step.get("uses", "").startswith(CREDENTIALS)]  # fmt: skip
    assert len(assuming) == 3  # plan, deploy test, deploy prod
    for wf, name, job, step in assuming:
        assert set(step["with"]) == {"role-to-assume", "aws-region"}, (wf, name)
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, (wf, name)


def test_only_the_jobs_that_assume_a_role_get_an_oidc_token():
    for path in WORKFLOWS:
        workflow = _load(path)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for name, job in workflow["jobs"].items():
            assumes = any(s.get("uses", "").startswith(CREDENTIALS) for s in job["steps"])
            token = job.get("permissions", {}).get("id-token")
            assert (token == "write") is assumes, (path.name, name)


def test_every_action_is_pinned_to_a_release_tag_or_a_commit():
    uses = [step["uses"] for _, _, _, step in _steps() if "uses" in step]
    assert uses and [u for u in uses if not PINNED.match(u)] == []


def _role(step: dict) -> str:
    return step["with"]["role-to-assume"].rsplit("/", 1)[1]


def _job(workflow: str, name: str) -> dict:
    return _load(ROOT / ".github" / "workflows" / workflow)["jobs"][name]


# Which job assumes which CI role: (workflow, job, the role's kind and stage).
JOBS = [("ci.yml", "plan", "plan", "test"), ("deploy.yml", "test", "deploy", "test"),
        ("deploy.yml", "prod", "deploy", "prod")]  # fmt: skip


@pytest.mark.parametrize(("workflow", "name", "kind", "stage"), JOBS)
def test_each_job_assumes_the_role_the_deploy_role_template_makes_for_it(
    workflow, name, kind, stage
):
    job = _job(workflow, name)
    [step] = [s for s in job["steps"] if s.get("uses", "").startswith(CREDENTIALS)]
    assert _role(step) == role_names()[f"{kind}-{stage}"]
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    [(targets, _)] = [c for c in make_commands(scripts)]
    assert targets == [kind]
    assert f"STAGE={stage}" in scripts
    if kind == "deploy":  # the stage's own service role, nothing wider
        assert f':role/{role_names()[f"service-{stage}"]}"' in scripts


@pytest.mark.parametrize(("workflow", "name", "kind", "stage"), JOBS)
def test_each_job_runs_only_on_the_event_its_roles_trust_admits(workflow, name, kind, stage):
    """The token's subject is the environment's when the job has one, else the event's: the
    role trusts exactly one (templates/deploy_roles.py CI_ROLES)."""
    [role] = [r for r in CI_ROLES if (r.kind, r.stage) == (kind, stage)]
    job, on = _job(workflow, name), _load(ROOT / ".github" / "workflows" / workflow)["on"]
    if role.subject.startswith("environment:"):
        assert job["environment"] == role.subject.split(":", 1)[1]
    else:
        assert "environment" not in job
    if role.subject == "pull_request":
        assert set(on) == {"pull_request"}
    if role.subject == "ref:refs/heads/main":
        assert on["push"]["branches"] == ["main"]
        assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_prod_deploys_only_behind_the_prod_environment_from_a_tag_or_main():
    job = _job("deploy.yml", "prod")
    assert job["environment"] == "prod"
    assert "refs/tags/v" in job["if"] and "github.ref == 'refs/heads/main'" in job["if"]
    on = _load(ROOT / ".github" / "workflows" / "deploy.yml")["on"]
    assert on["push"]["tags"] == ["v*"] and "workflow_dispatch" in on
