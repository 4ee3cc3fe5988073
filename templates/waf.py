"""A web application firewall in front of the API's stage (WafEnabled): an AWS WAF web ACL with
AWS's managed rule groups for common exploits, known bad inputs and IP reputation, a rate limit
per client IP, and optionally its own log group. checkov has no WAF check for CloudFormation's
API Gateway stages; tests/templates/test_waf.py holds the stage to it."""

from dataclasses import dataclass

from troposphere import And, Condition, Equals, Ref, Sub, Template, wafv2

from .log_groups import API_LOG_RETENTION_DAYS, LogGroups, log_group
from .naming import logical_id
from .parameters import BOOLEAN, choice, number
from .stage import STAGE

WAF_ON = "WafOn"  # condition: WafEnabled
WAF_LOGGING_ON = "WafLoggingOn"  # condition: WafEnabled and WafLogging
# AWS WAF writes only to log groups whose names start so (AWS WAF Developer Guide, "Sending web
# ACL traffic logs to an Amazon CloudWatch Logs log group").
WAF_LOG_PREFIX = "aws-waf-logs-"
# AWS's managed rule groups, in evaluation order: (name, rules of the group only counted, why).
MANAGED_RULE_GROUPS = (
    (
        "AWSManagedRulesCommonRuleSet",
        # The group blocks bodies over 8 KB; the API takes up to 64 KiB and answers 413 beyond
        # (docs/api.md), so a larger valid item would otherwise be refused by WAF.
        ("SizeRestrictions_BODY",),
    ),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
    ("AWSManagedRulesAmazonIpReputationList", ()),
)
RATE_RULE = "RatePerClientIp"

WAF_ENABLED = choice(
    "WafEnabled",
    group="API",
    label="Web application firewall",
    description="true: an AWS WAF web ACL guards the stage (AWS managed rules for common "
    "exploits, known bad inputs and IP reputation, and a rate limit per client IP). It is "
    "billed per web ACL, rule and million requests.",
    allowed=BOOLEAN,
    default="false",
)
WAF_RATE_LIMIT = number(
    "WafRateLimit",
    group="API",
    label="WAF requests per client IP (5 min)",
    description="Requests one client IP may make in any 5 minutes before WAF blocks it "
    "(403) until its rate falls below again.",
    low=10,
    high=2000000000,
    unit="requests",
    default=2000,
)
WAF_LOGGING = choice(
    "WafLogging",
    group="API",
    label="Log WAF decisions",
    description="true (with WafEnabled): WAF logs every request it inspects to the stack's "
    "aws-waf-logs-... log group, kept for ApiLogRetentionDays.",
    allowed=BOOLEAN,
    default="false",
)
PARAMETERS = (WAF_ENABLED, WAF_RATE_LIMIT, WAF_LOGGING)


@dataclass(frozen=True)
class Waf:
    web_acl: wafv2.WebACL
    association: wafv2.WebACLAssociation


def _visibility(metric: str) -> wafv2.VisibilityConfig:
    return wafv2.VisibilityConfig(
        CloudWatchMetricsEnabled=True,
        MetricName=Sub(f"${{AWS::StackName}}-{metric}"),
        SampledRequestsEnabled=True,
    )


def _counting(rules: tuple[str, ...]) -> dict:
    action = wafv2.RuleAction(Count=wafv2.CountAction())
    overrides = [wafv2.RuleActionOverride(Name=rule, ActionToUse=action) for rule in rules]
    return {"RuleActionOverrides": overrides} if overrides else {}


def _managed(priority: int, name: str, counted: tuple[str, ...]) -> wafv2.WebACLRule:
    return wafv2.WebACLRule(
        Name=name,
        Priority=priority,
        # The group's own actions (block), but for the rules it only counts.
        OverrideAction=wafv2.OverrideAction(**{"None": {}}),
        Statement=wafv2.Statement(
            ManagedRuleGroupStatement=wafv2.ManagedRuleGroupStatement(
                VendorName="AWS",
                Name=name,
                **_counting(counted),
            )
        ),
        VisibilityConfig=_visibility(name),
    )


def _rate_limit(priority: int) -> wafv2.WebACLRule:
    return wafv2.WebACLRule(
        Name=RATE_RULE,
        Priority=priority,
        Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
        Statement=wafv2.Statement(
            RateBasedStatement=wafv2.RateBasedStatement(
                Limit=WAF_RATE_LIMIT.ref(), AggregateKeyType="IP"
            )
        ),
        VisibilityConfig=_visibility(RATE_RULE),
    )


def stage_arn(rest_api, stage) -> Sub:
    """An API Gateway stage as WAF associates it (the stage, not the API)."""
    return Sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}",
        Api=Ref(rest_api),
        Stage=Ref(stage),
    )


def _logging(t: Template, web_acl: wafv2.WebACL, rest_api, log_groups: LogGroups) -> None:
    """WAF's log group. WAF writes only to groups named aws-waf-logs-..., so it is named, with
    the REST API's id, new with every stack: retained after a destroy, it never blocks the next
    stack. It exists whatever WafLogging says (empty while off), so that no parameter edit
    adds or removes a retained resource; only the logging configuration follows the switch."""
    group = log_group(
        t,
        "waf",
        API_LOG_RETENTION_DAYS,
        log_groups.key,
        LogGroupName=Sub(f"{WAF_LOG_PREFIX}${{AWS::StackName}}-${{{rest_api.title}}}"),
    )
    t.add_resource(
        wafv2.LoggingConfiguration(
            logical_id("waf", "logging", "configuration"),
            Condition=WAF_LOGGING_ON,
            ResourceArn=web_acl.get_att("Arn"),
            # WAF wants the group's ARN without the `:*` that its Arn attribute ends with.
            LogDestinationConfigs=[
                Sub(
                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                    "${Group}",
                    Group=Ref(group),
                )
            ],
        )
    )


def add(t: Template, rest_api, stage, log_groups: LogGroups) -> Waf:
    """The web ACL, associated with `stage`."""
    t.add_condition(WAF_ON, Equals(WAF_ENABLED.ref(), "true"))
    t.add_condition(WAF_LOGGING_ON, And(Equals(WAF_LOGGING.ref(), "true"), Condition(WAF_ON)))
    rules = [_managed(i, name, counted) for i, (name, counted) in enumerate(MANAGED_RULE_GROUPS)]
    web_acl = t.add_resource(
        wafv2.WebACL(
            logical_id("waf"),
            Condition=WAF_ON,
            Scope="REGIONAL",
            Description=Sub(f"items-api ${{{STAGE.name}}}: managed rules and a rate limit"),
            DefaultAction=wafv2.DefaultAction(Allow=wafv2.AllowAction()),
            Rules=[*rules, _rate_limit(len(rules))],
            VisibilityConfig=_visibility("waf"),
        )
    )
    association = t.add_resource(
        wafv2.WebACLAssociation(
            logical_id("waf", "association"),
            Condition=WAF_ON,
            # Refs the stage: created after it (WAF refuses a stage that does not exist yet).
            ResourceArn=stage_arn(rest_api, stage),
            WebACLArn=web_acl.get_att("Arn"),
        )
    )
    _logging(t, web_acl, rest_api, log_groups)
    return Waf(web_acl=web_acl, association=association)
