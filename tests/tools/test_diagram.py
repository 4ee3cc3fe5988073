"""tools/diagram.py: which references become edges, that the DOT of the real template has every
resource in its service's cluster and only resource-to-resource edges, and that the checked-in
docs/stack.dot is the one the current template draws (so the picture cannot go stale).
No Graphviz and no network: only the DOT text is checked."""

import json
import re
from pathlib import Path

import pytest

from templates import build_template
from tools import diagram

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs" / "stack.dot"
CLUSTER = re.compile(r"^\s*subgraph cluster_(\w+) \{$")
NODE = re.compile(r'^\s*"([^"]+)" \[label=')
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)"(?: \[(.*)\])?;$')


@pytest.fixture(scope="module")
def template() -> dict:
    return build_template().to_dict()


@pytest.fixture(scope="module")
def dot(template: dict) -> str:
    return diagram.to_dot(template)


def clusters(dot: str) -> dict[str, list[str]]:
    """Cluster name -> the nodes declared inside it, read back from the DOT text."""
    found: dict[str, list[str]] = {}
    current = None
    for line in dot.splitlines():
        if match := CLUSTER.match(line):
            current = found.setdefault(match.group(1), [])
        elif line.strip() == "}":
            current = None
        elif current is not None and (match := NODE.match(line)):
            current.append(match.group(1))
    return found


def edges(dot: str) -> dict[tuple[str, str], str]:
    """(source, target) -> the edge's attribute text ("" when none), read back from the DOT."""
    found: dict[tuple[str, str], str] = {}
    for line in dot.splitlines():
        if match := EDGE.match(line):
            pair = (match.group(1), match.group(2))
            assert pair not in found, f"edge {pair} drawn twice"
            found[pair] = match.group(3) or ""
    return found


def _of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param({"Properties": {"TableName": {"Ref": "Table"}}}, {"Table"}, id="ref"),
        pytest.param({"Properties": {"Region": {"Ref": "AWS::Region"}}}, set(), id="ref-pseudo"),
        pytest.param(
            {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}}, {"Role"}, id="getatt-list"
        ),
        pytest.param(
            {"Properties": {"Role": {"Fn::GetAtt": "Role.Arn"}}}, {"Role"}, id="getatt-string"
        ),
        pytest.param(
            {"Properties": {"A": {"Fn::Sub": "arn:${AWS::Partition}:${Bucket.Arn}/${Fn}/${!Lit}"}}},
            {"Bucket", "Fn"},
            id="sub-string",
        ),
        pytest.param(
            {
                "Properties": {
                    "A": {
                        "Fn::Sub": [
                            "${AWS::Region}:${Arn}:${Table}:${!Queue}",
                            {"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}},
                        ]
                    }
                }
            },
            {"Fn", "Table"},  # Arn is the map's own variable, Queue an escaped literal
            id="sub-list",
        ),
        pytest.param({"DependsOn": "Policy"}, {"Policy"}, id="dependson-string"),
        pytest.param({"DependsOn": ["P1", "P2"]}, {"P1", "P2"}, id="dependson-list"),
        pytest.param(
            {
                "Properties": {
                    "Arn": {
                        "Fn::If": [
                            "IsProd",
                            {"Fn::Join": ["", [{"Ref": "Key"}, {"Fn::GetAtt": "Queue.Arn"}]]},
                            {"Fn::If": ["InVpc", {"Fn::Sub": "${Topic}"}, {"Ref": "AWS::NoValue"}]},
                        ]
                    }
                }
            },
            {"Key", "Queue", "Topic"},  # every branch; the condition names are not references
            id="nested-if-join",
        ),
        pytest.param(
            {"Metadata": {"x": {"Ref": "Table"}}, "Condition": "IsProd", "Properties": {}},
            set(),
            id="metadata-and-condition-ignored",
        ),
    ],
)
def test_references(resource: dict, expected: set[str]) -> None:
    assert diagram.references(resource) == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param({"Properties": {"A": {"Ref": "Stage"}}}, set(), id="ref-parameter"),
        pytest.param({"Properties": {"A": {"Fn::Sub": "${Stage}-${Table}"}}}, {"Table"}, id="sub"),
        pytest.param(
            {"Properties": {"A": {"Fn::If": ["IsProd", {"Ref": "Table"}, {"Ref": "Stage"}]}}},
            {"Table"},
            id="if",
        ),
    ],
)
def test_parameters_are_not_edges(resource: dict, expected: set[str]) -> None:
    assert diagram.references(resource, names={"Table", "Fn"}) == expected


def test_dependson_only_edges_are_dashed() -> None:
    template = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "DependsOn": ["Policy", "Role"],
                "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}, "S": {"Ref": "Stage"}},
            },
            "Policy": {"Type": "AWS::IAM::Policy"},
            "Role": {"Type": "AWS::IAM::Role"},
        },
    }
    assert edges(diagram.to_dot(template)) == {
        ("Fn", "Policy"): 'style="dashed"',
        ("Fn", "Role"): "",  # also a GetAtt: a solid edge, drawn once
    }
    assert clusters(diagram.to_dot(template)) == {"IAM": ["Policy", "Role"], "Lambda": ["Fn"]}


def test_every_resource_is_a_node_in_its_service_cluster(template: dict, dot: str) -> None:
    found = clusters(dot)
    placed = [name for names in found.values() for name in names]
    assert sorted(placed) == sorted(template["Resources"]), "each resource exactly once"
    for service, names in found.items():
        for name in names:
            resource_type = template["Resources"][name]["Type"]
            kind = resource_type.split("::")  # AWS::<service>::X, or Custom::X
            assert kind[1 if kind[0] == "AWS" else 0] == service, (name, resource_type)
            assert f"{name}\\n{resource_type.removeprefix('AWS::')}" in dot, "label: id + type"
    assert {"Lambda", "DynamoDB", "ApiGateway", "IAM"} <= set(found)


def test_every_edge_joins_two_resources(template: dict, dot: str) -> None:
    found = edges(dot)
    assert found
    for source, target in found:
        assert source in template["Resources"], source
        assert target in template["Resources"], target
        assert source != target
    assert not set(template["Parameters"]) & {end for pair in found for end in pair}


def test_every_function_has_an_edge_to_its_role(template: dict, dot: str) -> None:
    found = edges(dot)
    roles = _of_type(template, "AWS::IAM::Role")
    functions = _of_type(template, "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        role, attribute = function["Properties"]["Role"]["Fn::GetAtt"]
        assert role in roles and attribute == "Arn", name
        assert found[(name, role)] == "", f"{name} -> {role}: a solid GetAtt edge"


@pytest.mark.parametrize(
    ("source_type", "target_type"),
    [
        ("AWS::Lambda::Permission", "AWS::Lambda::Alias"),  # FunctionName: Ref (`live`)
        ("AWS::Lambda::Alias", "AWS::Lambda::Version"),  # FunctionVersion: GetAtt
        ("AWS::Lambda::Alias", "AWS::CodeDeploy::DeploymentGroup"),  # UpdatePolicy: Ref
        ("AWS::Logs::LogGroup", "AWS::KMS::Key"),  # KmsKeyId: GetAtt
        ("AWS::CloudWatch::Alarm", "AWS::SNS::Topic"),  # AlarmActions: Ref
        ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Function"),  # FunctionName: Ref
    ],
)
def test_known_edges(template: dict, dot: str, source_type: str, target_type: str) -> None:
    found = edges(dot)
    targets = set(_of_type(template, target_type))
    sources = _of_type(template, source_type)
    assert sources
    for name in sources:
        assert any(s == name and t in targets for s, t in found), f"{name} -> a {target_type}"


def test_functions_point_at_the_log_groups_they_write_to(template: dict, dot: str) -> None:
    found = edges(dot)
    functions = _of_type(template, "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert (name, group) in found


def test_dependson_edges_are_drawn(template: dict, dot: str) -> None:
    found = edges(dot)
    with_dependson = {k: r for k, r in template["Resources"].items() if "DependsOn" in r}
    assert with_dependson
    for name, resource in with_dependson.items():
        for target in diagram.depends_on(resource):
            assert (name, target) in found, f"{name} DependsOn {target}"


def test_checked_in_dot_matches_the_template(dot: str) -> None:
    assert CHECKED_IN.exists(), "docs/stack.dot is missing: run make diagram"
    assert CHECKED_IN.read_text() == dot, (
        "docs/stack.dot is stale: the template changed since the picture was drawn; "
        "run make diagram (and commit docs/stack.dot, .svg and .png)"
    )


def test_to_dot_is_deterministic(template: dict) -> None:
    first = diagram.to_dot(template)
    assert diagram.to_dot(template) == first
    assert diagram.to_dot(build_template().to_dict()) == first
    reordered = {**template, "Resources": dict(reversed(template["Resources"].items()))}
    assert diagram.to_dot(reordered) == first


def test_main_without_graphviz_writes_only_the_dot(
    template: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    source = tmp_path / "template.json"
    source.write_text(json.dumps(template))
    monkeypatch.setattr(diagram.shutil, "which", lambda _: None)
    assert diagram.main([str(source), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["stack.dot"]
    assert (tmp_path / "out" / "stack.dot").read_text() == diagram.to_dot(template)
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and err.count("\n") == 1
