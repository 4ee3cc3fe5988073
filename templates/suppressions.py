"""Scanner suppressions live in the resource's Metadata, each with a written reason.

The tool's own key (cfn-lint `ignore_checks`) makes the tool skip the rule; the `Reasons` key
beside it keeps why, so a test can insist that no suppression goes unexplained."""

from troposphere import AWSObject

REASONS_KEY = "Suppressions"


def suppress(resource: AWSObject, rule: str, reason: str) -> AWSObject:
    """Make cfn-lint skip `rule` on `resource`, recording `reason` next to it."""
    metadata = getattr(resource, "Metadata", None) or {}
    checks = metadata.setdefault("cfn-lint", {}).setdefault("config", {})
    checks.setdefault("ignore_checks", []).append(rule)
    metadata.setdefault(REASONS_KEY, {})[rule] = reason
    resource.Metadata = metadata
    return resource
