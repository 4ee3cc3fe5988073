"""tools.intrinsics, table by table: what CloudFormation makes of a node for given parameter
values (Ref, Fn::If over Conditions, Fn::Sub, Fn::Join, Select/Split, AWS::NoValue, pseudo
parameters, resources as the caller assigns them, Rules), what it refuses to guess (anything
that needs AWS), and what a node names and reads (references, inputs, conditions). The build's
checks, the deploy, the local emulator, the diagram and the tests all read intrinsics here."""

import tokenize
from pathlib import Path
from typing import Any

import pytest

from tests.cfn import ROOT
from tools.intrinsics import (
    NO_VALUE,
    PSEUDO_PARAMETERS,
    Evaluator,
    Unresolvable,
    conditions_named,
    inputs,
    named,
    parameter_values,
    parameters_read,
    pseudo_parameters,
    references,
    sub_names,
    sub_text,
    substitute,
    target,
    text,
)

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String"},
        "Credentials": {"Type": "String"},
        "Reserved": {"Type": "Number"},
        "Subnets": {"Type": "CommaDelimitedList"},
        "Groups": {"Type": "List<AWS::EC2::SecurityGroup::Id>"},
        "Empty": {"Type": "CommaDelimitedList"},
    },
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "WithCredentials": {"Fn::Equals": [{"Ref": "Credentials"}, "true"]},
        "Reserves": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Reserved"}, 0]}]},
        "InVpc": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Subnets"}]}, ""]}]},
        # Named before the conditions it names: order does not matter.
        "ProdWithCredentials": {
            "Fn::And": [{"Condition": "IsProd"}, {"Condition": "WithCredentials"}]
        },
        "ProdOrCredentials": {
            "Fn::Or": [{"Condition": "IsProd"}, {"Condition": "WithCredentials"}]
        },
    },
}
VALUES = {
    "Stage": "dev",
    "Credentials": "true",
    "Reserved": "0",
    "Subnets": "subnet-1,subnet-2",
    "Groups": "sg-1",
    "Empty": "",
    "AWS::Region": "us-west-2",
    "AWS::StackName": "items-api-dev",
}
NO = {"Ref": "AWS::NoValue"}


def evaluate(node: Any, **values: str) -> Any:
    return Evaluator(TEMPLATE, {**VALUES, **values}).resolve(node)


@pytest.mark.parametrize(
    ("node", "values", "expected"),
    [
        # plain values pass through
        ("x", {}, "x"),
        (3, {}, 3),
        ({"a": [1, {"b": "c"}]}, {}, {"a": [1, {"b": "c"}]}),
        # Ref: parameters, pseudo parameters, list parameters
        ({"Ref": "Stage"}, {}, "dev"),
        ({"Ref": "AWS::Region"}, {}, "us-west-2"),
        ({"Ref": "Subnets"}, {}, ["subnet-1", "subnet-2"]),
        ({"Ref": "Groups"}, {}, ["sg-1"]),
        ({"Ref": "Empty"}, {}, []),
        # Fn::Sub: parameters, pseudo parameters, its own variables, ${!Literal}
        ({"Fn::Sub": "'${Stage}'"}, {}, "'dev'"),
        ({"Fn::Sub": "${AWS::StackName}-get-item"}, {}, "items-api-dev-get-item"),
        ({"Fn::Sub": ["${A}/${Stage}", {"A": {"Ref": "AWS::Region"}}]}, {}, "us-west-2/dev"),
        ({"Fn::Sub": "${!Literal}-${Stage}"}, {}, "${Literal}-dev"),
        ({"Fn::Sub": "${Subnets}"}, {}, "subnet-1,subnet-2"),
        # Fn::Join: of a list, of a list parameter, NoValue items dropped
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}, {}, "a-dev"),
        ({"Fn::Join": ["+", {"Ref": "Subnets"}]}, {}, "subnet-1+subnet-2"),
        ({"Fn::Join": ["-", ["a", NO, "b"]]}, {}, "a-b"),
        # Fn::If over each kind of condition
        ({"Fn::If": ["IsProd", "p", "np"]}, {}, "np"),
        ({"Fn::If": ["IsProd", "p", "np"]}, {"Stage": "prod"}, "p"),
        ({"Fn::If": ["Reserves", "r", "nr"]}, {}, "nr"),  # a number compared as text
        ({"Fn::If": ["Reserves", "r", "nr"]}, {"Reserved": "5"}, "r"),
        ({"Fn::If": ["InVpc", "vpc", "none"]}, {}, "vpc"),
        ({"Fn::If": ["InVpc", "vpc", "none"]}, {"Subnets": ""}, "none"),
        ({"Fn::If": ["ProdWithCredentials", 1, 2]}, {}, 2),
        ({"Fn::If": ["ProdWithCredentials", 1, 2]}, {"Stage": "prod"}, 1),
        ({"Fn::If": ["ProdOrCredentials", 1, 2]}, {"Credentials": "false"}, 2),
        ({"Fn::If": ["ProdOrCredentials", 1, 2]}, {}, 1),
        # a branch is evaluated too, nested Fn::If included
        ({"Fn::If": ["IsProd", "p", {"Fn::Sub": "${Stage}!"}]}, {}, "dev!"),
        ({"Fn::If": ["IsProd", 1, {"Fn::If": ["WithCredentials", 2, 3]}]}, {}, 2),
        # AWS::NoValue: the node itself, a map key removed, a list item removed
        (NO, {}, NO_VALUE),
        ({"Fn::If": ["WithCredentials", "'true'", NO]}, {"Credentials": "false"}, NO_VALUE),
        (
            {"h.Origin": "'*'", "h.Credentials": {"Fn::If": ["WithCredentials", "'true'", NO]}},
            {},
            {"h.Origin": "'*'", "h.Credentials": "'true'"},
        ),
        (
            {"h.Origin": "'*'", "h.Credentials": {"Fn::If": ["WithCredentials", "'true'", NO]}},
            {"Credentials": "false"},
            {"h.Origin": "'*'"},
        ),
        ({"Outer": {"Inner": NO}}, {}, {"Outer": {}}),
        (["a", {"Fn::If": ["IsProd", "b", NO]}, "c"], {}, ["a", "c"]),
        (["a", {"Fn::If": ["IsProd", "b", NO]}, "c"], {"Stage": "prod"}, ["a", "b", "c"]),
        # a whole map under Fn::If
        ({"Fn::If": ["IsProd", {"a": 1}, {"b": 2}]}, {}, {"b": 2}),
    ],
)
def test_evaluates_as_cloudformation_does(node, values, expected):
    assert evaluate(node, **values) == expected


@pytest.mark.parametrize(
    ("node", "why"),
    [
        ({"Ref": "ItemsTable"}, "Ref ItemsTable"),  # a resource: only AWS knows its name
        ({"Fn::GetAtt": ["ItemsTable", "Arn"]}, "Fn::GetAtt"),
        ({"Fn::Sub": "${ItemsTable.Arn}"}, "ItemsTable.Arn"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue"),
        ({"Fn::Equals": ["a", "a"]}, "only in Conditions"),
        ({"Condition": "IsProd"}, "Condition"),
        ({"Fn::If": ["Missing", 1, 2]}, "condition Missing"),
        ({"Fn::Join": ["-", "not a list"]}, "not a list"),
    ],
)
def test_what_needs_aws_is_unresolvable_not_guessed(node, why):
    with pytest.raises(Unresolvable, match=why):
        evaluate(node)


def test_only_the_chosen_branch_is_evaluated():
    """An unresolvable value in the branch not taken is no error, as in CloudFormation."""
    assert evaluate({"Fn::If": ["IsProd", {"Fn::GetAtt": ["X", "Arn"]}, "ok"]}) == "ok"


@pytest.mark.parametrize(
    ("conditions", "why"),
    [
        ({"Loop": {"Condition": "Loop"}}, "names itself"),
        ({"Bad": {"Fn::Sub": "x"}}, "not a condition function"),
        ({"Bad": "text"}, "not a condition function"),
    ],
)
def test_a_broken_condition_is_unresolvable(conditions, why):
    ev = Evaluator({"Conditions": conditions}, {})
    with pytest.raises(Unresolvable, match=why):
        ev.condition(next(iter(conditions)))


def test_each_condition_is_evaluated_once():
    ev = Evaluator(TEMPLATE, VALUES)
    assert ev.condition("ProdOrCredentials") is True
    assert ev.conditions == {"IsProd": False, "WithCredentials": True, "ProdOrCredentials": True}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (False, "false"), (["a", "b"], "a,b"), (5, "5"), (0.5, "0.5"), ("s", "s")],
)
def test_text_is_what_cloudformation_passes_on(value, expected):
    assert text(value) == expected


# --- resources, pseudo parameters, Select/Split: what each caller passes in ------------------

ASSIGNED = {("Table", None): "items-table", ("Table", "Arn"): "arn:table", ("Layer", None): "a:b:3"}


def assigned(name: str, attribute: str | None) -> str:
    """A caller's resource values (the emulator's physical IDs, the preflight's placeholders)."""
    return ASSIGNED[name, attribute]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Table"}, "items-table"),
        ({"Fn::GetAtt": ["Table", "Arn"]}, "arn:table"),
        ({"Fn::GetAtt": "Table.Arn"}, "arn:table"),  # the dotted form
        ({"Fn::Sub": "${Table}/${Table.Arn}"}, "items-table/arn:table"),
        ({"Fn::Sub": "${!Table.Arn}-${!Literal}"}, "${Table.Arn}-${Literal}"),  # escaped
        # [text, map]: the map's variables shadow the template's names
        ({"Fn::Sub": ["${Table}-${Stage}", {"Table": "own"}]}, "own-dev"),
        ({"Fn::Sub": ["${Arn}", {"Arn": {"Fn::GetAtt": ["Table", "Arn"]}}]}, "arn:table"),
        ({"Fn::Select": [2, {"Fn::Split": [":", {"Ref": "Layer"}]}]}, "3"),
        ({"Fn::Select": ["1", {"Ref": "Subnets"}]}, "subnet-2"),
        ({"Fn::If": ["IsProd", 1, {"Fn::If": ["InVpc", {"Ref": "Table"}, 3]}]}, "items-table"),
    ],
)
def test_resources_are_what_the_caller_assigns(node, expected):
    assert Evaluator(TEMPLATE, VALUES, assigned).resolve(node) == expected


@pytest.mark.parametrize(
    ("region", "name", "expected"),
    [
        ("us-east-1", "AWS::Partition", "aws"),
        ("cn-north-1", "AWS::Partition", "aws-cn"),
        ("cn-north-1", "AWS::URLSuffix", "amazonaws.com.cn"),
        ("us-gov-west-1", "AWS::Partition", "aws-us-gov"),
        ("eu-west-1", "AWS::URLSuffix", "amazonaws.com"),
        ("eu-west-1", "AWS::StackId", "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/u"),
        ("eu-west-1", "AWS::AccountId", "123456789012"),
    ],
)
def test_pseudo_parameters_follow_the_region(region, name, expected):
    values = parameter_values(
        TEMPLATE, {"Stage": "dev"}, pseudo_parameters(region, "123456789012", "s", "u")
    )
    assert Evaluator(TEMPLATE, values).resolve({"Fn::Sub": "${" + name + "}"}) == expected


def test_parameter_values_fill_defaults_and_pseudo_parameters():
    template = {"Parameters": {"A": {"Type": "String", "Default": True}, "B": {"Type": "Number"}}}
    assert parameter_values(template, {"B": 5, "AWS::Region": "eu-west-1"}) == {
        **PSEUDO_PARAMETERS, "A": "true", "B": "5", "AWS::Region": "eu-west-1"}  # fmt: skip


class Kept(Evaluator):
    """A node that needs AWS stays as written (Resolver keeps it too, its arguments resolved)."""

    def unresolved(self, node, error):
        return node


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Table"}, {"Ref": "Table"}),
        ({"Fn::Sub": "${Table.Arn}/${Stage}"}, "${Table.Arn}/dev"),  # the variable stays
        ({"Fn::Join": ["-", [{"Ref": "Table"}]]}, {"Fn::Join": ["-", [{"Ref": "Table"}]]}),
    ],
)
def test_a_subclass_may_keep_what_it_cannot_evaluate(node, expected):
    assert Kept(TEMPLATE, VALUES).resolve(node) == expected


RULES_TEMPLATE: dict[str, Any] = {
    **TEMPLATE,
    "Rules": {
        "ProdNeedsCredentials": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "Assertions": [
                {
                    "Assert": {"Fn::Equals": [{"Ref": "Credentials"}, "true"]},
                    "AssertDescription": "prod sends credentials",
                },
            ],
        },
        "NotBoth": {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Not": [
                            {
                                "Fn::And": [
                                    {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
                                    {"Fn::Equals": [{"Ref": "Reserved"}, "5"]},
                                ]
                            }
                        ]
                    },
                    "AssertDescription": "dev reserves nothing",
                },
            ],
        },
    },
}


@pytest.mark.parametrize(
    ("values", "failed"),
    [
        ({}, []),
        ({"Reserved": "5"}, [("NotBoth", "dev reserves nothing")]),
        (
            {"Stage": "prod", "Credentials": "false"},
            [("ProdNeedsCredentials", "prod sends credentials")],
        ),
        ({"Stage": "test", "Credentials": "false"}, []),  # the RuleCondition is false
    ],
)
def test_rules_assertions(values, failed):
    evaluator = Evaluator(RULES_TEMPLATE, {**VALUES, **values})
    assert list(evaluator.failed_assertions()) == failed


# --- what a node names and reads -------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Table"}, [("Table", None)]),
        ({"Ref": "AWS::Region"}, [("AWS::Region", None)]),  # pseudo parameters too
        ({"Fn::GetAtt": ["Table", "Arn"]}, [("Table", "Arn")]),
        ({"Fn::GetAtt": "Table.StreamArn"}, [("Table", "StreamArn")]),
        ({"Fn::GetAtt": ["Table", {"Ref": "Attr"}]}, [("Table", None), ("Attr", None)]),
        ({"Fn::Sub": "${Table.Arn}-${!Literal}-${Stage}"}, [("Table", "Arn"), ("Stage", None)]),
        ({"Fn::Sub": ["${Own}-${Fn}", {"Own": {"Ref": "Queue"}}]}, [("Fn", None), ("Queue", None)]),
        # every branch, nested; the condition is no reference
        (
            {"Fn::If": ["IsProd", {"Ref": "A"}, {"Fn::If": ["InVpc", {"Ref": "B"}, NO]}]},
            [("A", None), ("B", None), ("AWS::NoValue", None)],
        ),
        ({"Condition": "IsProd", "Properties": {"X": [{"Ref": "C"}]}}, [("C", None)]),
    ],
)
def test_references(node, expected):
    assert list(references(node)) == expected


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Table"}, ("Table", None)),
        ({"Fn::GetAtt": ["Api", "RootResourceId"]}, ("Api", "RootResourceId")),
        ({"Fn::GetAtt": "Api.RootResourceId"}, ("Api", "RootResourceId")),
        ({"Fn::Sub": "${Table}"}, None),
        ({"Ref": "Table", "Other": 1}, None),
        ("Table", None),
    ],
)
def test_target(node, expected):
    assert target(node) == expected


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Fn::If": ["IsProd", 1, {"Fn::If": ["InVpc", 2, 3]}]}, ["IsProd", "InVpc"]),
        ({"Condition": "IsProd", "Properties": {"Condition": {"Bool": "x"}}}, ["IsProd"]),
        ({"Fn::Equals": ["IsProd", "x"]}, []),
    ],
)
def test_conditions_named(node, expected):
    assert list(conditions_named(node)) == expected


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        # a condition's parameters reach the node, through conditions it names
        ({"Fn::If": ["ProdWithCredentials", {"Ref": "Subnets"}, "x"]},
         [("Stage", ()), ("Credentials", ()), ("Subnets", (("ProdWithCredentials", True),))]),
        # nested: the context is every branch the value sits in
        ({"Fn::If": ["IsProd", "x", {"Fn::If": ["Reserves", {"Fn::Sub": "${Groups}"}, "y"]}]},
         [("Stage", ()), ("Reserved", (("IsProd", False),)),
          ("Groups", (("IsProd", False), ("Reserves", True)))]),
        ({"Condition": "InVpc"}, [("Subnets", ())]),
    ],
)  # fmt: skip
def test_inputs_read_conditions_with_their_branches(node, expected):
    assert list(inputs(TEMPLATE, node)) == expected


def test_parameters_read_are_sorted_and_only_parameters():
    node = [{"Condition": "ProdOrCredentials"}, {"Fn::Sub": "${AWS::Region}${Table}${Subnets}"}]
    assert parameters_read(TEMPLATE, node) == ["Credentials", "Stage", "Subnets"]


@pytest.mark.parametrize(
    ("text_", "names", "substituted"),
    [
        ("a${B}c${!D}e${F.G}", ["B", "F.G"], "a<B>c${D}e<F.G>"),
        ("${!Only}", [], "${Only}"),
        ("plain", [], "plain"),
    ],
)
def test_sub_names_and_substitute(text_, names, substituted):
    assert list(sub_names(text_)) == names
    assert substitute(text_, lambda name: f"<{name}>") == substituted


def test_named_leaves_out_pseudo_parameters():
    node = {"Fn::Sub": "${AWS::Region}-${Table.Arn}", "X": [{"Ref": "AWS::NoValue"}, {"Ref": "S"}]}
    assert list(named(node)) == ["Table", "S"]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Fn::Sub": "${Project}-${Stage}"}, "${Project}-${Stage}"),
        ({"Fn::Sub": ["${A}", {}]}, None),
    ],
)
def test_sub_text_is_only_the_string_form(node, expected):
    if expected is None:
        with pytest.raises(ValueError, match="own variables"):
            sub_text(node)
    else:
        assert sub_text(node) == expected


def _code_strings(path: Path) -> set[str]:
    """The string literals of a Python file's code (tokens), docstrings and comments aside."""
    found: set[str] = set()
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type == tokenize.STRING and len(token.string) < 40:
                found.add(token.string.strip("\"'"))
    return found


def test_no_other_non_test_file_parses_fn_sub():
    """tools/intrinsics.py is the one reader of intrinsics: any other code that names the
    key "Fn::Sub" parses Subs itself (templates write theirs with troposphere's Sub)."""
    files = [
        ROOT / "build.py",
        *(ROOT / "templates").rglob("*.py"),
        *(ROOT / "tools").rglob("*.py"),
    ]
    readers = [str(f.relative_to(ROOT)) for f in files if "Fn::Sub" in _code_strings(f)]
    assert readers == ["tools/intrinsics.py"]
