"""The stack policy `make deploy` sets on every stage's stack.

CloudFormation evaluates a stack policy on every update of the stack (never on its creation):
an update that would replace or delete a resource the policy denies fails and rolls back before
touching it. The data lives in the stateful resources (table, bucket, keys, log groups, queue):
a changed create-only property or a resource dropped from the template must not destroy it on
the way through a routine deploy. Everything else may be updated, replaced or deleted freely.
To replace one on purpose, `make deploy ALLOW_REPLACE=1` allows it for that one deploy and
sets this policy again right after."""

# Resource types that hold data or keys to it. tests/tools/deploy/test_stack_policy.py checks the
# template's resources of these types against the policy; other tests import this set.
STATEFUL_TYPES = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
    }
)
DENIED_ACTIONS = ("Update:Delete", "Update:Replace")


def stateful_resources(template: dict) -> list[str]:
    """The logical IDs of the template's stateful resources, sorted."""
    return sorted(k for k, r in template["Resources"].items() if r["Type"] in STATEFUL_TYPES)


def stack_policy(template: dict) -> dict:
    """Allow every update; deny replacing or deleting a stateful resource."""
    statements = [{"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}]
    if protected := stateful_resources(template):
        statements.append(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(DENIED_ACTIONS),
                "Resource": [f"LogicalResourceId/{i}" for i in protected],
            }
        )
    return {"Statement": statements}
