"""Each seed document is the one template with another parameter file: the variants the
parameters select, resolved as CloudFormation resolves conditions, and deployed to moto."""

import json

import boto3
import pytest
from moto import mock_aws

from templates.catalog import COLLECTION, ROUTES
from templates.naming import logical_id
from tests.aws import REGION
from tests.cfn import ROOT, create_built_stack, resources_of_type
from tools.deploy import stage_params
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Resolver
from tools.local import moto_compat


def _resolve(template: dict, **values: str) -> Resolver:
    return Resolver(template, {**stage_values(template, "test"), **values})


@pytest.mark.parametrize(
    ("sort_key", "schema"),
    [
        ("", [{"AttributeName": "id", "KeyType": "HASH"}]),
        (
            "timestamp",
            [
                {"AttributeName": "id", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
        ),
    ],
)
def test_sort_key_on_and_off(template, sort_key, schema):
    table = _resolve(template, SortKeyName=sort_key).resource("ItemsTable")["Properties"]
    assert table["KeySchema"] == schema
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types == ({"id": "S", "timestamp": "N"} if sort_key else {"id": "S"})


@pytest.mark.parametrize(
    ("mode", "throughput"),
    [
        ("PROVISIONED", {"ReadCapacityUnits": "10", "WriteCapacityUnits": "10"}),
        ("PAY_PER_REQUEST", None),
    ],
)
def test_billing_modes(template, mode, throughput):
    table = _resolve(template, BillingMode=mode).resource("ItemsTable")["Properties"]
    assert table["BillingMode"] == mode
    assert table.get("ProvisionedThroughput") == throughput


def _stage(resolver: Resolver) -> dict:
    [stage_id] = resources_of_type(resolver.template, "AWS::ApiGateway::Stage")
    return resolver.resource(stage_id)["Properties"]


@pytest.mark.parametrize(("ttl", "enabled"), [("0", False), ("30", True), ("60", True)])
def test_cache_on_and_off(template, ttl, enabled):
    stage = _stage(_resolve(template, CacheTtlSeconds=ttl))
    assert stage["CacheClusterEnabled"] is enabled
    assert ("CacheClusterSize" in stage) is enabled
    cached = [s for s in stage["MethodSettings"] if "CachingEnabled" in s]
    cached_routes = [f for f in ROUTES if f.method == "GET" and f.path[-1:] == ("{id}",)]
    assert len(cached) == len(cached_routes) >= 1
    for setting in cached:
        assert setting["CachingEnabled"] is enabled
        assert setting["CacheTtlInSeconds"] == ttl
        assert setting["CacheDataEncrypted"] is True
        assert setting["HttpMethod"] == "GET" and setting["ResourcePath"].endswith("~1{id}")
    assert not [s for s in stage["MethodSettings"] if s["ResourcePath"] == "/*" and "Caching" in s]


@pytest.mark.parametrize("prefix", ["items", "data"])
def test_route_prefix(template, prefix):
    resolver = _resolve(template, RoutePrefix=prefix)
    resources = resources_of_type(template, "AWS::ApiGateway::Resource")
    parts = sorted(resolver.resource(r)["Properties"]["PathPart"] for r in resources)
    segments = {s for f in ROUTES for s in f.path}
    assert parts == sorted(prefix if s == COLLECTION else s for s in segments)
    for f in ROUTES:
        arn = resolver.resolve(
            template["Resources"][logical_id(f.name, "permission")]["Properties"]["SourceArn"]
        )
        assert (f"/{prefix}" in json.dumps(arn)) == (COLLECTION in f.path)


@pytest.mark.parametrize("origin", ["*", "https://example.com"])
def test_cors_origin_reaches_preflights_and_gateway_errors(template, origin):
    resolver = _resolve(template, CorsAllowOrigin=origin)
    methods = resources_of_type(template, "AWS::ApiGateway::Method")
    preflights = [resolver.resource(m)["Properties"] for m in methods
                  if methods[m]["Properties"]["HttpMethod"] == "OPTIONS"]  # fmt: skip
    resources = resources_of_type(template, "AWS::ApiGateway::Resource")
    assert len(preflights) == len(resources) + 1  # every resource and the root
    for p in preflights:
        assert p["AuthorizationType"] == "NONE" and p["Integration"]["Type"] == "MOCK"
        headers = p["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == f"'{origin}'"
        assert headers["method.response.header.Access-Control-Max-Age"] == "'300'"
        assert "Content-Type" in headers["method.response.header.Access-Control-Allow-Headers"]
        assert "OPTIONS" in headers["method.response.header.Access-Control-Allow-Methods"]
    responses = resources_of_type(template, "AWS::ApiGateway::GatewayResponse")
    kinds = set()
    for r in responses:
        props = resolver.resource(r)["Properties"]
        kinds.add(props["ResponseType"])
        allowed = props["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert allowed == f"'{origin}'"
    assert kinds == {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY"}


@pytest.mark.parametrize(("stage", "asked", "on"), [("dev", "true", True), ("prod", "true", False),
                                                    ("dev", "false", False)])  # fmt: skip
def test_data_trace_never_in_prod(template, stage, asked, on):
    values = {**stage_values(template, stage), "ApiDataTrace": asked}
    settings = _stage(Resolver(template, values))["MethodSettings"]
    assert {s["DataTraceEnabled"] for s in settings} == {on}


def test_stage_variables(template):
    assert _stage(_resolve(template))["Variables"] == {"environment": "test", "lambdaAlias": "live"}


@pytest.mark.parametrize(
    ("origin", "credentials", "refused"),
    [("*", "true", True), ("*", "false", False), ("https://example.com", "true", False)],
)
def test_any_origin_with_credentials_is_refused_by_template_and_params(
    template, tmp_path, origin, credentials, refused
):
    values = {**stage_values(template, "test"), "CorsAllowOrigin": origin,
              "CorsAllowCredentials": credentials}  # fmt: skip
    problems = stage_params.broken_rules(template, values)
    assert bool(problems) is refused
    path = tmp_path / "test.json"
    path.write_text(json.dumps(values))
    if refused:
        with pytest.raises(stage_params.ParamsError, match="CorsAllowCredentials"):
            stage_params.validate(path, template)
    else:
        stage_params.validate(path, template)


# Seed-shaped parameter sets deployed to moto in-process (the whole template), and the region.
DEPLOYED_VARIANTS = {
    "seed-000-like": {},
    "seed-001-like, us-east-1": {"PartitionKeyName": "itemId", "region": "us-east-1"},
    "seed-003/004-like": {
        "SortKeyName": "timestamp",
        "BillingMode": "PAY_PER_REQUEST",
        "RoutePrefix": "data",
        "CorsAllowOrigin": "https://example.com",
        "CacheTtlSeconds": "60",
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", DEPLOYED_VARIANTS)
def test_variant_deploys_to_moto(template, aws_env, variant):
    moto_compat.apply()
    values = {**stage_values(template, "test"), **DEPLOYED_VARIANTS[variant]}
    region = values.pop("region", REGION)
    with mock_aws():
        created = create_built_stack("variant", template, values, region)
        assert created["status"] == "CREATE_COMPLETE"
        physical = created["physical"]
        table = boto3.client("dynamodb", region_name=region).describe_table(
            TableName=physical["ItemsTable"]
        )["Table"]
        assert len(table["KeySchema"]) == (2 if values.get("SortKeyName") else 1)
        assert table["KeySchema"][0]["AttributeName"] == values.get("PartitionKeyName", "id")
        assert table["TableArn"].split(":")[3] == region
        api = boto3.client("apigateway", region_name=region)
        items = api.get_resources(restApiId=physical["Api"], embed=["methods"])["items"]
        prefix = values.get("RoutePrefix", "items")
        routes = {(m, r["path"]) for r in items for m in r.get("resourceMethods", {})}
        expected = {(f.method, f.route.replace("/items", f"/{prefix}")) for f in ROUTES}
        assert expected | {("OPTIONS", r["path"]) for r in items} == routes


# What each seed document asks for, as the resolved template must show it.
SEED_EXPECTATIONS = {
    "000": {"ItemsTable.ProvisionedThroughput.ReadCapacityUnits": "20", "key": ["id"]},
    "001": {"ItemsTable.ProvisionedThroughput.ReadCapacityUnits": "5", "key": ["itemId"]},
    "002": {
        "ItemsTable.BillingMode": "PAY_PER_REQUEST",
        "key": ["id"],
        "cache": "30",
        "origin": "https://example.com",
    },
    "003": {
        "ItemsTable.BillingMode": "PAY_PER_REQUEST",
        "key": ["id", "timestamp"],
        "cache": "60",
        "ApiAccessLogGroup.RetentionInDays": "7",
    },
    "004": {
        "ItemsTable.ProvisionedThroughput.WriteCapacityUnits": "5",
        "key": ["id"],
        "prefix": "data",
    },
}


@pytest.mark.parametrize("seed", sorted(SEED_EXPECTATIONS))
def test_each_seed_is_one_parameter_file(template, seed):
    path = ROOT / "docs" / "seeds" / f"{seed}.json"
    values = stage_params.validate(path, template, stage=json.loads(path.read_text())["Stage"])
    resolver = Resolver(template, values)
    expected = SEED_EXPECTATIONS[seed]
    table = resolver.resource("ItemsTable")["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == expected["key"]
    for dotted, value in expected.items():
        if "." in dotted:
            resource, *props = dotted.split(".")
            node = resolver.resource(resource)["Properties"]
            for prop in props:
                node = node[prop]
            assert str(node) == value, dotted
    stage = _stage(resolver)
    assert stage["CacheClusterEnabled"] is ("cache" in expected)
    resources = resources_of_type(template, "AWS::ApiGateway::Resource")
    parts = {resolver.resource(r)["Properties"]["PathPart"] for r in resources}
    assert expected.get("prefix", "items") in parts
    responses = resources_of_type(template, "AWS::ApiGateway::GatewayResponse")
    gateway = [resolver.resource(r)["Properties"]["ResponseParameters"] for r in responses]
    origin = expected.get("origin", "*")
    assert {g["gatewayresponse.header.Access-Control-Allow-Origin"] for g in gateway} == {
        f"'{origin}'"
    }
