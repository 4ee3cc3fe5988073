"""cfripper exceptions for dist/deploy-role.json (the CI/CD roles), each with its `reason`.

Kept apart from tools/scan/cfripper/ (the app's template) so neither template's exceptions can
excuse a finding in the other; tests/templates/test_deploy_roles.py counts these."""

from cfripper.config.filter import Filter
from cfripper.model.enums import RuleMode

FILTERS = [
    Filter(
        reason="CloudFormation creates the app's roles and their inline policies with this "
        "service role, so it needs iam:PutRolePolicy, iam:UpdateAssumeRolePolicy and "
        "iam:AttachRolePolicy; they are scoped to the stage stack's own role names, and "
        "AttachRolePolicy to the two AWS managed policies the app attaches.",
        rule_mode=RuleMode.ALLOWED,
        eval={"regex": ["^Cloudformation(Test|Prod)IdentityAndCodePolicy$", {"ref": "logical_id"}]},
        rules={"PrivilegeEscalationRule"},
    ),
    Filter(
        reason="WAF's logging to CloudWatch Logs goes through a log delivery and the account's "
        "log resource policy, which WAF keeps itself: CreateLogDelivery, DeleteLogDelivery and "
        "PutResourcePolicy act on the account's deliveries and policies, not on a log group's "
        "ARN, so only `*` grants them.",
        rule_mode=RuleMode.ALLOWED,
        eval={
            "and": [
                {
                    "regex": [
                        "^Cloudformation(Test|Prod)FirewallAndDomainPolicy$",
                        {"ref": "logical_id"},
                    ]
                },
                {
                    "in": [
                        {"ref": "action"},
                        [
                            "logs:CreateLogDelivery",
                            "logs:DeleteLogDelivery",
                            "logs:PutResourcePolicy",
                        ],
                    ]
                },
            ]
        },
        rules={"WildcardResourceRule"},
    ),
]
