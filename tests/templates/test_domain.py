"""The optional custom domain (templates/domain.py): what a console or stage-file value does,
and what is refused before anything changes (the template's Rules, which the build's params
check evaluates the same way)."""

import pytest

from tests.cfn import resources_of_type
from tools.deploy.stage_params import broken_rules, stage_values
from tools.intrinsics import Resolver

DOMAIN = "api.example.com"
CERTIFICATE = "arn:aws:acm:us-west-2:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
ZONE = "Z0123456789ABCDEFGHIJ"


def _values(template: dict, **given: str) -> dict[str, str]:
    return {**stage_values(template, "prod"), **given}


@pytest.mark.parametrize(
    "given, refused",
    [
        ({}, []),
        ({"CustomDomainName": DOMAIN, "CustomDomainCertificateArn": CERTIFICATE}, []),
        ({"CustomDomainName": DOMAIN, "CustomDomainCertificateArn": CERTIFICATE,
          "CustomDomainHostedZoneId": ZONE, "DisableExecuteApiEndpoint": "true"}, []),
        ({"CustomDomainName": DOMAIN}, ["DomainNeedsCertificate"]),
        ({"CustomDomainCertificateArn": CERTIFICATE}, ["CertificateNeedsDomain"]),
        ({"CustomDomainHostedZoneId": ZONE}, ["HostedZoneNeedsDomain"]),
        ({"DisableExecuteApiEndpoint": "true"}, ["ExecuteApiOffNeedsDomain"]),
    ],
)  # fmt: skip
def test_a_domain_value_that_would_be_ignored_or_break_the_api_is_refused(template, given, refused):
    """Never silently ignored: a hosted zone or certificate without a domain, a domain without
    its certificate, or no way in at all, is refused on create and on every console edit."""
    broken = broken_rules(template, _values(template, **given))
    assert [b.split(":", 1)[0] for b in broken] == refused


@pytest.mark.parametrize(
    "given, made",
    [
        ({}, set()),
        ({"CustomDomainName": DOMAIN, "CustomDomainCertificateArn": CERTIFICATE},
         {"AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping"}),
        ({"CustomDomainName": DOMAIN, "CustomDomainCertificateArn": CERTIFICATE,
          "CustomDomainHostedZoneId": ZONE},
         {"AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping",
          "AWS::Route53::RecordSet"}),
    ],
)  # fmt: skip
def test_the_domain_its_mapping_and_its_record_exist_only_when_asked(template, given, made):
    resolver = Resolver(template, _values(template, **given))
    kinds = {"AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping",
             "AWS::Route53::RecordSet"}  # fmt: skip
    created = {
        r["Type"]
        for r in template["Resources"].values()
        if r["Type"] in kinds and resolver.condition(r["Condition"])
    }
    assert created == made
    outputs = {name for name, o in template["Outputs"].items()
               if "Condition" not in o or resolver.condition(o["Condition"])}  # fmt: skip
    assert ({"DomainUrl", "DomainTarget"} <= outputs) is bool(made)


def test_the_domain_is_regional_with_tls_1_2_and_maps_the_stage_at_its_root(template):
    [(domain_id, domain)] = resources_of_type(template, "AWS::ApiGateway::DomainName").items()
    props = domain["Properties"]
    assert props["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert props["SecurityPolicy"] == "TLS_1_2"
    assert props["RegionalCertificateArn"] == {"Ref": "CustomDomainCertificateArn"}
    [stage_id] = resources_of_type(template, "AWS::ApiGateway::Stage")
    [api_id] = resources_of_type(template, "AWS::ApiGateway::RestApi")
    [mapping] = resources_of_type(template, "AWS::ApiGateway::BasePathMapping").values()
    assert mapping["Properties"] == {
        "DomainName": {"Ref": domain_id},
        "RestApiId": {"Ref": api_id},
        "Stage": {"Ref": stage_id},
    }  # no BasePath: the stage is the domain's root
    [record] = resources_of_type(template, "AWS::Route53::RecordSet").values()
    assert record["Properties"]["Type"] == "A"
    assert record["Properties"]["AliasTarget"] == {
        "DNSName": {"Fn::GetAtt": [domain_id, "RegionalDomainName"]},
        "HostedZoneId": {"Fn::GetAtt": [domain_id, "RegionalHostedZoneId"]},
    }


def test_turning_the_execute_api_endpoint_off_is_deployed_to_the_stage(template):
    """API Gateway applies DisableExecuteApiEndpoint only with a new deployment (API Gateway
    Developer Guide, "Disabling the default endpoint for REST APIs": "redeploy your API"): the
    API's deployment carries the parameter, so a console edit deploys it."""
    [api] = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    on = Resolver(template, _values(template, CustomDomainName=DOMAIN,
                                    CustomDomainCertificateArn=CERTIFICATE,
                                    DisableExecuteApiEndpoint="true"))  # fmt: skip
    assert on.resolve(api["Properties"]["DisableExecuteApiEndpoint"]) is True
    off = Resolver(template, _values(template))
    assert off.resolve(api["Properties"]["DisableExecuteApiEndpoint"]) is False
    [deployment] = resources_of_type(template, "Custom::ApiDeployment").values()
    assert "DisableExecuteApiEndpoint" in deployment["Properties"]["Parameters"]
