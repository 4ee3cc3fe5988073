"""The API against its own contract, by generated requests: schemathesis reads dist/openapi.json
and sends what it generates through tools.local (the template's routes, the real handlers) to
moto. Every answer must be documented (status code and body schema) and never a server error.

`make test` runs a quick profile (FUZZ_EXAMPLES, default 25 per operation); `make fuzz` runs
1,000 per operation."""

import json
import os

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.cfn import ROOT
from tools.local import LocalApi, unpack

pytestmark = pytest.mark.slow  # schemathesis through the emulator

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SPEC = json.loads((ROOT / "dist" / "openapi.json").read_text())
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = [
    (path, method) for path, methods in SPEC["paths"].items() for method in sorted(methods)
]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def local_api(template, make_stack, tmp_path):
    """The template's API, running the built artifacts, on a fresh moto stack (the functions'
    environment set by make_stack)."""
    stack = make_stack()
    functions_dir, layer_dirs = unpack(ROOT / "dist", tmp_path)
    return LocalApi(
        template, stack.parameters, stage="test", functions_dir=functions_dir, layer_dirs=layer_dirs
    )


@pytest.mark.parametrize(
    ("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS]
)
def test_every_generated_request_gets_a_documented_answer(local_api, path, method):
    operation = SCHEMA[path][method.upper()]
    cases = []

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=os.environ.get("FUZZ_SEED") is None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case):
        cases.append(case)
        case.call_and_validate(app=local_api, checks=CHECKS)

    run()
    assert cases
    print(f"fuzz: {method.upper()} {path}: {len(cases)} cases, 0 failures")
