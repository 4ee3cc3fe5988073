"""No key material in what we commit or deploy: detect-secrets (its default plugins) finds
nothing in params/, docs/seeds/ or the built template, stack policy and stage params; and no
template parameter asks for a secret in plain text.

No finding is filtered out. The built files hold content hashes only inside S3 keys
(artifacts/<name>-<sha256>.zip), which the high-entropy plugins do not take for a secret (the
quoted string is neither pure hex nor pure base64); dist/manifest.json, whose bare sha256 values
they would flag, holds nothing but hashes, sizes and those keys, and is not scanned. Should a
harmless content hash ever be flagged, exclude that exact pattern for the high-entropy plugins
only: the key-material plugins (AWSKeyDetector, PrivateKeyDetector, ...) always run."""

import re
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings, get_settings

import build
from tests.cfn import ROOT
from tools.deploy.stage_params import STAGES

KEY_MATERIAL_PLUGINS = {"AWSKeyDetector", "PrivateKeyDetector", "KeywordDetector"}
# The stage files, the seeds and the CI workflows (which take AWS credentials from OIDC only).
SOURCES = sorted(
    p for d in ("params", "docs/seeds", ".github/workflows") if (ROOT / d).is_dir()
    for p in (ROOT / d).rglob("*") if p.is_file()
)  # fmt: skip


def scan(paths: list[Path]) -> list[tuple[str, int, str]]:
    """(file, line, type) of every detect-secrets finding, default plugins and filters."""
    secrets = SecretsCollection()
    with default_settings():
        for path in paths:
            secrets.scan_file(str(path))
    return sorted((file, s.line_number, s.type) for file, s in secrets)


def _report(findings: list[tuple[str, int, str]]) -> str:
    return "\n".join(f"{file}:{line}: {type_}" for file, line, type_ in findings)


def test_the_default_plugins_include_the_key_material_ones():
    with default_settings():
        assert set(get_settings().plugins) >= KEY_MATERIAL_PLUGINS


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_in_the_committed_inputs(path):
    findings = scan([path])
    assert not findings, _report(findings)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build.build(out, list(STAGES))
    return out


def test_no_secret_in_the_built_files(built):
    files = [built / "template.json", built / "deploy-role.json", built / "stack-policy.json"]
    files += sorted((built / "params").glob("*.json"))
    assert len(files) == 3 + len(STAGES)
    findings = scan(files)
    assert not findings, _report(findings)


# Built at run time, so this repository never holds the literals.
FAKE_AWS_KEY_ID = "AKIA" + "QX7RM2TZ5KWB9NLE"
FAKE_PEM_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f'  "LeakedKeyId={FAKE_AWS_KEY_ID}",', "AWS Access Key"),
        (f'  "{FAKE_PEM_HEADER}",', "Private Key"),
    ],
)
def test_the_scan_flags_key_material(tmp_path, line, expected):
    """The scan above can fail: a planted fake is found, at its line."""
    leak = tmp_path / "leak.json"
    leak.write_text(f'[\n  "Stage=dev",\n{line}\n  "MemorySize=256"\n]\n')
    assert scan([leak]) == [(str(leak), 3, expected)]


# Parameters: a secret must come from SSM (or at least be NoEcho), never in plain text.

SECRET_WORDS = {
    "password": r"pass(?:word|wd)",
    "secret": r"secret",
    "token": r"token",
    "api key": r"api[\s_-]?key",
}


FREE_TEXT_TYPES = ("String", "CommaDelimitedList")


def secret_like_parameters(template: dict) -> list[str]:
    """Parameters whose name or description names a secret and whose value would sit in plain
    text: free text (String or CommaDelimitedList, no AllowedValues) and not NoEcho. A number or
    one of fixed values is no secret, whatever its description says (AuthType explains API
    keys); an AWS::SSM::Parameter::Value<...> parameter holds an SSM name, resolved by
    CloudFormation, never the value."""
    return sorted(
        name
        for name, spec in template.get("Parameters", {}).items()
        if any(
            re.search(pattern, f"{name} {spec.get('Description', '')}", re.IGNORECASE)
            for pattern in SECRET_WORDS.values()
        )
        and spec["Type"] in FREE_TEXT_TYPES
        and "AllowedValues" not in spec
        and str(spec.get("NoEcho", "false")).lower() != "true"
    )


def test_no_parameter_takes_a_secret_in_plain_text(template):
    assert secret_like_parameters(template) == []


@pytest.mark.parametrize(
    ("name", "spec", "flagged"),
    [
        ("DbPassword", {"Type": "String"}, True),
        ("GithubToken", {"Type": "String"}, True),
        ("ApiKey", {"Type": "String"}, True),
        ("Upstream", {"Type": "String", "Description": "the partner's api_key"}, True),
        ("WebhookSecret", {"Type": "String", "NoEcho": "false"}, True),
        ("SigningSecrets", {"Type": "CommaDelimitedList"}, True),
        ("DbPassword", {"Type": "String", "NoEcho": True}, False),
        ("WebhookSecret", {"Type": "String", "NoEcho": "true"}, False),
        ("ApiKey", {"Type": "AWS::SSM::Parameter::Value<String>"}, False),
        (
            "AuthType",
            {
                "Type": "String",
                "AllowedValues": ["NONE", "API_KEY"],
                "Description": "API_KEY: callers send an x-api-key header",
            },
            False,
        ),
        (
            "ApiQuotaLimit",
            {"Type": "Number", "Description": "Requests the API key may make"},
            False,
        ),
        ("CostCenter", {"Type": "String", "Description": "Cost allocation key."}, False),
        ("MemorySize", {"Type": "Number"}, False),
    ],
)
def test_which_parameters_count_as_secrets(name, spec, flagged):
    assert secret_like_parameters({"Parameters": {name: spec}}) == ([name] if flagged else [])
