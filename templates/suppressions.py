"""Scanner suppressions live in the resource's Metadata, each with a written reason.

cfn-lint rules (E..., W..., WS..., ES...) go under the tool's own `ignore_checks`, with the reason
beside them under `Suppressions` (cfn-lint has no field for one); checkov checks (CKV_...) go
under checkov's `skip`, whose `comment` is the reason. A test collects both, plus cfripper's
config file, and caps their number."""

from troposphere import AWSObject, Template

REASONS_KEY = "Suppressions"


def suppress(resource: AWSObject, rule: str, reason: str) -> AWSObject:
    """Make the scanner that owns `rule` skip it on `resource`, recording `reason`."""
    metadata = getattr(resource, "Metadata", None) or {}
    if rule.startswith("CKV_"):
        metadata.setdefault("checkov", {}).setdefault("skip", []).append(
            {"id": rule, "comment": reason}
        )
    else:
        checks = metadata.setdefault("cfn-lint", {}).setdefault("config", {})
        checks.setdefault("ignore_checks", []).append(rule)
        metadata.setdefault(REASONS_KEY, {})[rule] = reason
    resource.Metadata = metadata
    return resource


def suppress_everywhere(t: Template, rule: str, reason: str) -> None:
    """Make cfn-lint skip `rule` on the whole template, recording `reason`: only for a rule that
    cannot see how the template meets its intent, and that a test of ours checks instead."""
    metadata = t.metadata
    metadata.setdefault("cfn-lint", {}).setdefault("config", {}).setdefault(
        "ignore_checks", []
    ).append(rule)
    metadata.setdefault(REASONS_KEY, {})[rule] = reason
