"""Which resource properties each parameter reaches, and which parameters can replace a
stateful resource: only the table's key names, whose descriptions and README say so."""

import pytest

from templates.parameters import EDIT_AT_ONCE, EDIT_REDEPLOYS, EDIT_REFUSED, REFUSED
from templates.parameters import REPLACING as REPLACING_ALLOW_LIST
from tests.cfn import ROOT, create_only_properties, parameter_reach, resources_of_type
from tests.test_template import STATEFUL_TYPES


@pytest.fixture(scope="module")
def reach(template) -> dict[str, set[tuple[str, str]]]:
    return parameter_reach(template)


def test_every_parameter_reaches_a_resource_property(template, reach):
    unused = [p for p, props in reach.items() if not props]
    assert unused == []
    print("\nparameter -> resource properties it reaches:")
    for parameter, props in sorted(reach.items()):
        print(f"  {parameter}: {', '.join(sorted(f'{r}.{p}' for r, p in props))}")


def _replacing(template: dict, reach: dict) -> set[tuple[str, str, str]]:
    """(parameter, logical ID, property): a create-only property of a stateful resource."""
    create_only = create_only_properties()
    return {
        (parameter, rid, prop)
        for parameter, props in reach.items()
        for rid, prop in props
        if template["Resources"][rid]["Type"] in STATEFUL_TYPES
        and prop in create_only[template["Resources"][rid]["Type"]]
    }


def test_only_key_names_can_replace_a_stateful_resource(template, reach):
    replacing = _replacing(template, reach)
    # API Gateway names its execution log group after the stage (templates/log_groups.py): a
    # new Stage value is a new stage logging to a new group. The stack policy refuses it too.
    follows_the_stage = {("Stage", "ApiExecutionLogGroup", "LogGroupName")}
    assert follows_the_stage <= replacing
    replacing -= follows_the_stage
    assert {p for p, _, _ in replacing} == REPLACING_ALLOW_LIST
    assert {(r, p) for _, r, p in replacing} == {("ItemsTable", "KeySchema")}


def test_every_description_says_what_a_console_edit_does(template, reach):
    """The console shows the Description beside the field: an operator must see there whether
    an edit is refused (it would replace stored data, and every stage's stack policy denies
    it), deploys the API (the deployment custom resource carries it), or simply applies."""
    refused = {p for p, _, _ in _replacing(template, reach)}
    [deployment] = resources_of_type(template, "Custom::ApiDeployment").values()
    redeploying = set(deployment["Properties"]["Parameters"])
    assert refused == REFUSED and refused.isdisjoint(redeploying)
    for name, spec in template["Parameters"].items():
        expected = (
            EDIT_REFUSED if name in refused else EDIT_REDEPLOYS if name in redeploying
            else EDIT_AT_ONCE
        )  # fmt: skip
        assert spec["Description"].endswith(expected), name
        assert spec["Description"].count("Console edit:") == 1, name


@pytest.mark.parametrize("parameter", sorted(REPLACING_ALLOW_LIST))
def test_replacing_parameters_say_so_in_the_console(template, parameter):
    assert "REPLACES THE TABLE" in template["Parameters"][parameter]["Description"]


def test_the_readme_parameter_table_marks_exactly_the_replacing_parameters():
    rows = [
        line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")
    ]
    marked = {row.split("`")[1] for row in rows if "**yes: the table**" in row}
    assert marked == REPLACING_ALLOW_LIST
