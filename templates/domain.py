"""The API under a domain of its own (optional): a REGIONAL custom domain name with TLS 1.2, the
stage mapped at its root, a Route 53 alias when the hosted zone is given, and the default
execute-api endpoint turned off on request, so that the domain is the only way in."""

from dataclasses import dataclass

from troposphere import And, Condition, Equals, Not, Or, Ref, Template, apigateway, route53

from .naming import logical_id
from .parameters import BOOLEAN, Param, assertion, choice, refuse

HAS_DOMAIN = "CustomDomainSet"  # condition: CustomDomainName given
HAS_ALIAS = "CustomDomainAliasSet"  # condition: and its hosted zone given
EXECUTE_API_OFF = "ExecuteApiEndpointOff"  # condition: DisableExecuteApiEndpoint

CUSTOM_DOMAIN_NAME = Param(
    "CustomDomainName",
    group="Domain",
    label="Custom domain name (optional)",
    description="Empty: the API is reached at its execute-api URL only. A domain name (e.g. "
    "api.example.com): the stage is served at https://<name>/ as well.",
    default="",
    pattern=r"^(([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})?$",
    constraint="must be empty or a lower-case domain name such as api.example.com.",
)
CUSTOM_DOMAIN_CERTIFICATE_ARN = Param(
    "CustomDomainCertificateArn",
    group="Domain",
    label="ACM certificate ARN of the domain",
    description="An ACM certificate for CustomDomainName, in this stack's region (a REGIONAL "
    "domain name takes its certificate from its own region). Required with a domain name.",
    default="",
    pattern=r"^(arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+)?$",
    constraint="must be empty or an ACM certificate ARN.",
)
CUSTOM_DOMAIN_HOSTED_ZONE_ID = Param(
    "CustomDomainHostedZoneId",
    group="Domain",
    label="Route 53 hosted zone ID (optional)",
    description="The public hosted zone of CustomDomainName: an alias record for the domain is "
    "made in it. Empty: point the domain at the stack's DomainTarget output yourself.",
    default="",
    pattern=r"^(Z[A-Z0-9]{1,31})?$",
    constraint="must be empty or a Route 53 hosted zone ID (Z...).",
)
DISABLE_EXECUTE_API_ENDPOINT = choice(
    "DisableExecuteApiEndpoint",
    group="Domain",
    label="Turn off the execute-api URL",
    description="true: clients can reach the API only through CustomDomainName (the default "
    "https://<id>.execute-api... URL answers 403). Needs a custom domain.",
    allowed=BOOLEAN,
    default="false",
)
PARAMETERS = (
    CUSTOM_DOMAIN_NAME,
    CUSTOM_DOMAIN_CERTIFICATE_ARN,
    CUSTOM_DOMAIN_HOSTED_ZONE_ID,
    DISABLE_EXECUTE_API_ENDPOINT,
)


@dataclass(frozen=True)
class Domain:
    name: apigateway.DomainName
    mapping: apigateway.BasePathMapping


def _needs(t: Template, name: str, given: Param, needed: Param, why: str) -> None:
    """A Rules assertion: `needed` may not be empty while `given` is set (a value that would
    otherwise be ignored, or a domain without its certificate)."""
    assertion(t, name, Or(Equals(given.ref(), ""), Not(Equals(needed.ref(), ""))), why)


# (rule, the parameter set, the one it needs, why): values that would be ignored, or a domain
# without its certificate, are refused before anything changes.
NEEDS = (
    ("DomainNeedsCertificate", CUSTOM_DOMAIN_NAME, CUSTOM_DOMAIN_CERTIFICATE_ARN,
     "CustomDomainName needs CustomDomainCertificateArn: an ACM certificate for that name in "
     "this stack's region."),
    ("CertificateNeedsDomain", CUSTOM_DOMAIN_CERTIFICATE_ARN, CUSTOM_DOMAIN_NAME,
     "CustomDomainCertificateArn is set without CustomDomainName: it would be ignored."),
    ("HostedZoneNeedsDomain", CUSTOM_DOMAIN_HOSTED_ZONE_ID, CUSTOM_DOMAIN_NAME,
     "CustomDomainHostedZoneId is set without CustomDomainName: it would be ignored."),
)  # fmt: skip


def _rules(t: Template) -> None:
    for name, given, needed, why in NEEDS:
        _needs(t, name, given, needed, why)
    refuse(
        t,
        "ExecuteApiOffNeedsDomain",
        (DISABLE_EXECUTE_API_ENDPOINT, "true"),
        (CUSTOM_DOMAIN_NAME, ""),
        why="DisableExecuteApiEndpoint true needs CustomDomainName: without a domain nobody "
        "could reach the API.",
    )


def add_conditions(t: Template) -> None:
    """The conditions the REST API reads too (api.py turns the execute-api endpoint off)."""
    t.add_condition(HAS_DOMAIN, Not(Equals(CUSTOM_DOMAIN_NAME.ref(), "")))
    t.add_condition(
        HAS_ALIAS,
        And(Condition(HAS_DOMAIN), Not(Equals(CUSTOM_DOMAIN_HOSTED_ZONE_ID.ref(), ""))),
    )
    t.add_condition(EXECUTE_API_OFF, Equals(DISABLE_EXECUTE_API_ENDPOINT.ref(), "true"))
    _rules(t)


def add(t: Template, rest_api: apigateway.RestApi, stage: apigateway.Stage) -> Domain:
    name = t.add_resource(
        apigateway.DomainName(
            logical_id("api", "domain"),
            Condition=HAS_DOMAIN,
            DomainName=CUSTOM_DOMAIN_NAME.ref(),
            RegionalCertificateArn=CUSTOM_DOMAIN_CERTIFICATE_ARN.ref(),
            EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
            SecurityPolicy="TLS_1_2",
        )
    )
    mapping = t.add_resource(
        apigateway.BasePathMapping(
            logical_id("api", "domain", "mapping"),
            Condition=HAS_DOMAIN,
            DomainName=Ref(name),
            RestApiId=Ref(rest_api),
            Stage=Ref(stage),
        )
    )
    t.add_resource(
        route53.RecordSetType(
            logical_id("api", "domain", "record"),
            Condition=HAS_ALIAS,
            HostedZoneId=CUSTOM_DOMAIN_HOSTED_ZONE_ID.ref(),
            Name=CUSTOM_DOMAIN_NAME.ref(),
            Type="A",
            AliasTarget=route53.AliasTarget(
                DNSName=name.get_att("RegionalDomainName"),
                HostedZoneId=name.get_att("RegionalHostedZoneId"),
            ),
        )
    )
    return Domain(name=name, mapping=mapping)
