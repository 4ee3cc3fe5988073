"""taskcat's configuration, checked offline as `taskcat lint` would and more: it is exactly what
params/ gives, and every test's parameters (with the build's overrides) pass the same checks a
deploy runs, against the built template."""

import pytest

from templates.parameters import FROM_BUILD, FROM_DEPLOY, supplier
from tests.cfn import ROOT
from tools.deploy import stage_params, taskcat

CONFIG = taskcat.config()


def test_the_committed_file_is_what_params_gives():
    assert taskcat.CONFIG.read_text() == taskcat.dump(CONFIG), "run python -m tools.deploy.taskcat"


def test_the_project_and_its_tests():
    assert CONFIG["project"]["template"] == "dist/template.json"
    assert (ROOT / CONFIG["project"]["template"]).is_file()
    assert set(CONFIG["tests"]) == {"dev", "test"}
    for test in CONFIG["tests"].values():
        assert test["regions"] == ["us-west-2", "us-east-1"]


def test_the_overrides_supply_exactly_what_the_build_and_deploy_supply(template):
    supplied = set(taskcat.overrides())
    expected = {p for p in template["Parameters"] if supplier(p) in (FROM_BUILD, FROM_DEPLOY)}
    assert supplied == expected
    for key, value in taskcat.overrides().items():
        if key != "ArtifactBucket":
            assert (ROOT / value.removeprefix(f"{taskcat.PROJECT}/")).is_file(), value


@pytest.mark.parametrize("stage", sorted(CONFIG["tests"]))
def test_every_tests_parameters_pass_the_deploy_checks(template, stage):
    parameters = {**CONFIG["tests"][stage]["parameters"], **taskcat.overrides()}
    specs = template["Parameters"]
    problems = [
        f"{key}: {why}"
        for key, value in parameters.items()
        if key != "ArtifactBucket"  # taskcat's placeholder, resolved at run time
        if (why := stage_params.check_value(key, specs[key], value))
    ]
    missing = [k for k, spec in specs.items() if "Default" not in spec and k not in parameters]
    values = {k: str(v) for k, v in parameters.items()}
    assert (problems, missing, stage_params.broken_rules(template, values)) == ([], [], [])
