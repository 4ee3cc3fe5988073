"""Which resource properties each parameter reaches, and which parameters can replace a
stateful resource: only the table's key names, whose descriptions and README say so."""

import pytest

from templates.parameters import REPLACING as REPLACING_ALLOW_LIST
from tests.cfn import ROOT, create_only_properties, parameter_reach
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


def test_only_key_names_can_replace_a_stateful_resource(template, reach):
    create_only = create_only_properties()
    replacing = {
        (parameter, rid, prop)
        for parameter, props in reach.items()
        for rid, prop in props
        if template["Resources"][rid]["Type"] in STATEFUL_TYPES
        and prop in create_only[template["Resources"][rid]["Type"]]
    }
    # API Gateway names its execution log group after the stage (templates/log_groups.py): a
    # new Stage value is a new stage logging to a new group; the old group keeps its logs
    # (UpdateReplacePolicy Retain). Not data of the API: `make plan` still flags it.
    follows_the_stage = {("Stage", "ApiExecutionLogGroup", "LogGroupName")}
    assert follows_the_stage <= replacing
    replacing -= follows_the_stage
    assert {p for p, _, _ in replacing} == REPLACING_ALLOW_LIST
    assert {(r, p) for _, r, p in replacing} == {("ItemsTable", "KeySchema")}


@pytest.mark.parametrize("parameter", sorted(REPLACING_ALLOW_LIST))
def test_replacing_parameters_say_so_in_the_console(template, parameter):
    assert "REPLACES THE TABLE" in template["Parameters"][parameter]["Description"]


def test_the_readme_parameter_table_marks_exactly_the_replacing_parameters():
    rows = [
        line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")
    ]
    marked = {row.split("`")[1] for row in rows if "**yes: the table**" in row}
    assert marked == REPLACING_ALLOW_LIST
