"""The stage's web application firewall (templates/waf.py). checkov checks no WAF on
CloudFormation's API Gateway stages, so these tests are the gate: prod is never served without
one."""

import json

import pytest

from items_common.validation import MAX_BODY_BYTES
from templates.data import RETAIN
from templates.waf import MANAGED_RULE_GROUPS, WAF_LOG_PREFIX
from tests.cfn import references, resources_of_type
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Resolver

ASSOCIATION = "AWS::WAFv2::WebACLAssociation"
# The AWS managed rule groups the issue asks for (AWS WAF Developer Guide, "Baseline rule
# groups" and "IP reputation rule groups").
REQUIRED_GROUPS = {
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
}
# The Common rule set's SizeRestrictions_BODY blocks bodies over 8 KB (AWS WAF Developer Guide,
# "Core rule set (CRS) managed rule group").
COMMON_BODY_LIMIT = 8 * 1024


def _only(template: dict, type_: str) -> tuple[str, dict]:
    [(lid, resource)] = resources_of_type(template, type_).items()
    return lid, resource


@pytest.mark.parametrize("stage, guarded", [("dev", False), ("test", True), ("prod", True)])
def test_the_stage_files_put_a_firewall_on_test_and_prod(template, stage, guarded):
    resolver = Resolver(template, stage_values(template, stage))
    _, association = _only(template, ASSOCIATION)
    _, acl = _only(template, "AWS::WAFv2::WebACL")
    assert resolver.condition(association["Condition"]) is guarded
    assert resolver.condition(acl["Condition"]) is guarded


def test_a_console_edit_turns_the_firewall_on_and_off(template):
    values = stage_values(template, "prod")
    _, association = _only(template, ASSOCIATION)
    off = Resolver(template, {**values, "WafEnabled": "false"})
    assert off.condition(association["Condition"]) is False


def test_the_association_is_the_api_stage_and_comes_after_it(template):
    """WAF associates a stage by its ARN and refuses one that does not exist yet; the Ref to the
    Stage orders the association after it (CloudFormation's dependency, as DependsOn would)."""
    [stage_id] = resources_of_type(template, "AWS::ApiGateway::Stage")
    _, association = _only(template, ASSOCIATION)
    arn = association["Properties"]["ResourceArn"]
    assert stage_id in references(arn)
    text, _ = arn["Fn::Sub"]
    assert text.endswith("::/restapis/${Api}/stages/${Stage}")
    acl_id, _ = _only(template, "AWS::WAFv2::WebACL")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_the_web_acl_runs_the_managed_groups_then_a_rate_limit_per_ip(template):
    _, acl = _only(template, "AWS::WAFv2::WebACL")
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    rules = sorted(props["Rules"], key=lambda r: r["Priority"])
    assert len({r["Priority"] for r in rules}) == len(rules)
    managed = [r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in rules[:-1]]
    assert set(managed) == REQUIRED_GROUPS
    for rule in rules[:-1]:
        assert rule["OverrideAction"] == {"None": {}}  # the groups' own block actions stand
    rate = rules[-1]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": {"Ref": "WafRateLimit"},
    }
    for rule in [*rules, props]:
        assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_a_valid_body_larger_than_the_common_groups_limit_is_not_blocked(template):
    """The API takes bodies up to MAX_BODY_BYTES (413 beyond); the Common group's body-size rule
    would refuse the larger valid ones with a 403, so it only counts."""
    assert MAX_BODY_BYTES > COMMON_BODY_LIMIT
    _, acl = _only(template, "AWS::WAFv2::WebACL")
    [common] = [
        r["Statement"]["ManagedRuleGroupStatement"]
        for r in acl["Properties"]["Rules"]
        if r["Statement"].get("ManagedRuleGroupStatement", {}).get("Name")
        == "AWSManagedRulesCommonRuleSet"
    ]
    assert common["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]
    assert dict(MANAGED_RULE_GROUPS)["AWSManagedRulesCommonRuleSet"] == ("SizeRestrictions_BODY",)


@pytest.mark.parametrize(
    "waf, logging, logged", [("true", "true", True), ("true", "false", False),
                             ("false", "true", False)]
)  # fmt: skip
def test_waf_logs_go_to_a_group_of_this_stack_only_when_asked(template, waf, logging, logged):
    resolver = Resolver(template, {**stage_values(template, "prod"), "WafEnabled": waf,
                                   "WafLogging": logging})  # fmt: skip
    _, config = _only(template, "AWS::WAFv2::LoggingConfiguration")
    assert resolver.condition(config["Condition"]) is logged


def test_the_waf_log_group_is_named_as_waf_requires_and_never_blocks_a_new_stack(template):
    """AWS WAF delivers only to groups named aws-waf-logs-* and wants the group's ARN without the
    `:*` its Arn attribute ends with (AWS WAF Developer Guide, "CloudWatch Logs"); the name
    carries the REST API's id, so a group retained from a deleted stack never collides, and the
    group exists whatever the switches say (no edit adds or removes a retained resource)."""
    _, config = _only(template, "AWS::WAFv2::LoggingConfiguration")
    [destination] = config["Properties"]["LogDestinationConfigs"]
    text, variables = destination["Fn::Sub"]
    assert text.endswith(":log-group:${Group}")
    group = template["Resources"][variables["Group"]["Ref"]]
    assert "Condition" not in group
    assert {k: group[k] for k in RETAIN} == RETAIN
    [api_id] = resources_of_type(template, "AWS::ApiGateway::RestApi")
    name = group["Properties"]["LogGroupName"]["Fn::Sub"]
    assert name == f"{WAF_LOG_PREFIX}${{AWS::StackName}}-${{{api_id}}}"
    key_id = group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    key_policy = json.dumps(template["Resources"][key_id])
    assert f"{WAF_LOG_PREFIX}${{AWS::StackName}}-*" in key_policy
