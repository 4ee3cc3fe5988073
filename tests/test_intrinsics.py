"""tools.intrinsics.Evaluator, table by table: what CloudFormation makes of a node for given
parameter values (Ref, Fn::If over Conditions, Fn::Sub, Fn::Join, AWS::NoValue), and what it
refuses to guess (anything that needs AWS). The local API reads its routes, preflights and
gateway responses through it (tests/test_cors_credentials.py checks those on the template)."""

from typing import Any

import pytest

from tools.intrinsics import NO_VALUE, Evaluator, Unresolvable, text

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
