"""Access-Control-Allow-Credentials only when CorsAllowCredentials is true (#16 item 13): on the
preflights (MOCK OPTIONS) and API Gateway's own answers (GatewayResponses), in the template, as
CloudFormation resolves it, and as the local API serves it.

The construction: in each map that names the header (an integration response's and a gateway
response's ResponseParameters, and the method response's declared ResponseParameters) its entry
is `{"Fn::If": ["CorsCredentials", <value>, {"Ref": "AWS::NoValue"}]}`. CloudFormation removes
the key whose value is AWS::NoValue: "AWS::NoValue - Removes the corresponding resource property
when specified as a return value in the Fn::If intrinsic function"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html
#cfn-pseudo-param-novalue; and Fn::If, "You can use the AWS::NoValue pseudo parameter as a return
value to remove the corresponding property",
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html
#intrinsic-function-reference-conditions-if). cfn-lint 1.58 accepts it (`make lint` lints
dist/template.json) and moto's CloudFormation drops such keys too (a key whose cleaned value is
None), so the deploy rehearsals create the same methods. This is read from AWS's documentation
and its tools, not from a live deploy (no AWS account here). The header's one valid value is
`true` (Fetch's CORS check); serverless made the same change for the same reason
(serverless/serverless #6994, #6999)."""

import json

import pytest
from werkzeug.test import Client

from templates.cors import CREDENTIALS
from tests import cfn
from tools.intrinsics import Resolver
from tools.local import LocalApi, read_routes

ORIGIN = "https://app.example.com"
HEADER = "Access-Control-Allow-Credentials"
NO_VALUE = {"Ref": "AWS::NoValue"}


def preflights(template: dict) -> dict[str, dict]:
    return {
        rid: r["Properties"]
        for rid, r in cfn.resources_of_type(template, "AWS::ApiGateway::Method").items()
        if r["Properties"]["HttpMethod"] == "OPTIONS"
    }


def gateway_responses(template: dict) -> dict[str, dict]:
    return {
        rid: r["Properties"]
        for rid, r in cfn.resources_of_type(template, "AWS::ApiGateway::GatewayResponse").items()
    }


def test_the_condition_is_credentials_true(template):
    assert template["Conditions"][CREDENTIALS] == {
        "Fn::Equals": [{"Ref": "CorsAllowCredentials"}, "true"]
    }


def test_every_map_holds_the_header_under_the_condition_only(template):
    """The integration/gateway mapping is 'true' under the condition; the method response
    declares the header under the same condition; no other CORS header is conditional."""
    assert preflights(template) and gateway_responses(template)
    for rid, props in preflights(template).items():
        [integration] = props["Integration"]["IntegrationResponses"]
        [declared] = props["MethodResponses"]
        key = f"method.response.header.{HEADER}"
        assert integration["ResponseParameters"][key] == {
            "Fn::If": [CREDENTIALS, "'true'", NO_VALUE]
        }, rid
        assert declared["ResponseParameters"][key] == {"Fn::If": [CREDENTIALS, False, NO_VALUE]}, (
            rid
        )
        others = {k: v for k, v in declared["ResponseParameters"].items() if k != key}
        assert set(others.values()) == {False}, rid
        assert "'false'" not in json.dumps(integration), rid
    for rid, props in gateway_responses(template).items():
        assert props["ResponseParameters"][f"gatewayresponse.header.{HEADER}"] == {
            "Fn::If": [CREDENTIALS, "'true'", NO_VALUE]
        }, rid


@pytest.mark.parametrize(
    ("origin", "credentials", "expected"),
    [("*", "false", None), (ORIGIN, "false", None), (ORIGIN, "true", "'true'")],
)
def test_as_cloudformation_resolves_it(template, origin, credentials, expected):
    """Resolved for each value: the header is mapped and declared together or not at all, and
    every mapped header is declared (API Gateway refuses a mapping to an undeclared header)."""
    values = {"CorsAllowOrigin": origin, "CorsAllowCredentials": credentials}
    resolver = Resolver(template, values)
    for rid in preflights(template):
        props = resolver.resource(rid)["Properties"]
        [integration] = props["Integration"]["IntegrationResponses"]
        [declared] = props["MethodResponses"]
        mapped = integration["ResponseParameters"]
        assert mapped.get(f"method.response.header.{HEADER}") == expected, rid
        assert set(mapped) == set(declared["ResponseParameters"]), rid
        assert mapped["method.response.header.Access-Control-Allow-Origin"] == f"'{origin}'"
    for rid in gateway_responses(template):
        mapped = resolver.resource(rid)["Properties"]["ResponseParameters"]
        assert mapped.get(f"gatewayresponse.header.{HEADER}") == expected, rid


# --- the local API (tools.local.routes evaluates the Fn::If) -------------------------------------


class FailingApi(LocalApi):
    """LocalApi whose every function raises: API Gateway's DEFAULT_5XX answer (502)."""

    def invoke(self, target, event):
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("origin", "credentials", "expected"),
    [("*", "false", None), (ORIGIN, "false", None), (ORIGIN, "true", "true")],
)
@pytest.mark.parametrize("path", ["/", "/items", "/items/abc", "/items/abc/versions"])
def test_local_preflight_sends_the_header_only_when_true(
    template, origin, credentials, expected, path
):
    api = LocalApi(
        template, {"CorsAllowOrigin": origin, "CorsAllowCredentials": credentials}, stage="test"
    )
    response = Client(api).options(
        path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    )
    assert response.status_code == 204
    assert response.headers.get(HEADER) == expected
    assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(("credentials", "expected"), [("false", None), ("true", "true")])
def test_local_gateway_answers_send_the_header_only_when_true(template, credentials, expected):
    values = {"CorsAllowOrigin": ORIGIN, "CorsAllowCredentials": credentials}
    unknown = Client(LocalApi(template, values, stage="test")).get("/no/such/route")
    failed = Client(FailingApi(template, values, stage="test")).get("/items/abc")
    assert (unknown.status_code, failed.status_code) == (403, 502)
    for response in (unknown, failed):
        assert response.headers.get(HEADER) == expected
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize(("credentials", "served"), [("false", False), ("true", True)])
def test_a_method_whose_condition_is_false_is_not_served(template, credentials, served):
    """tools.local evaluates a resource's Condition as CloudFormation does (none of the API's
    methods has one today; a conditional method must not be served when it is not created)."""
    changed = json.loads(json.dumps(template))
    changed["Resources"]["ApiItemsIdVersionsOptions"]["Condition"] = CREDENTIALS
    values = {"CorsAllowOrigin": ORIGIN, "CorsAllowCredentials": credentials}
    routes = {(r.method, r.path) for r in read_routes(changed, values)}
    assert (("OPTIONS", "/items/{id}/versions") in routes) is served
    assert ("GET", "/items/{id}/versions") in routes
