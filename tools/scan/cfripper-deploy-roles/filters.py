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
]
