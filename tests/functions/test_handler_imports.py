"""What a cold start loads (#17): each handler imported in a fresh interpreter as Lambda imports
it (its folder and the layer's items_common on sys.path, the deployed environment with tracing
on), then the modules it left in sys.modules.

- No module of the layer or the functions loads the X-Ray SDK (aws_xray_sdk, end of support
  2027-02-25): tracing is Lambda's Active tracing, with no SDK in the function; the layer does
  not ship it (nor wrapt, which only it needed).
- What a route does not use stays out of its cold start: boto3 in the functions that call no AWS
  service (health, openapi; not even after a request), fastjsonschema where no body is
  validated, Powertools' idempotency utility until a request carries an Idempotency-Key, and
  Powertools' batch utility and event classes in any function (asyncio and every event class:
  items_common.event reads the proxy event, the stream consumer has its own partial-batch loop).

The interpreter is this venv's, which has the X-Ray SDK installed (Powertools' [tracer] extra),
so an import of it anywhere would show.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from templates.catalog import FUNCTIONS
from templates.openapi import document
from tests.aws import REGION
from tests.handlers import FUNCTIONS_DIR

SHARED = FUNCTIONS_DIR / "shared"
NAMES = [spec.name for spec in FUNCTIONS]
NO_AWS = {"health", "openapi"}  # route functions that call no AWS service
WITHOUT_BODY = {"health", "openapi", "get_item", "list_items", "list_versions", "delete_item"}
CHILD = """
import json, sys
import app
if sys.argv[1] == "request":
    event = {"httpMethod": "GET", "resource": "/", "path": "/", "headers": {},
             "requestContext": {"requestId": "r-1"}}
    class Context:
        function_name = "fn"; memory_limit_in_mb = 128; aws_request_id = "a-1"
        invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:fn"
        def get_remaining_time_in_millis(self): return 10_000
    assert app.lambda_handler(event, Context())["statusCode"] == 200
print(json.dumps(sorted(sys.modules)))
"""


def lambda_environment(name: str) -> dict[str, str]:
    """Lambda's variables for the function (tracing left on: no POWERTOOLS_TRACE_DISABLED)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    return {
        **base,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": f"items-api-test-{name}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        "POWERTOOLS_SERVICE_NAME": f"items-api-test-{name}",
        "POWERTOOLS_METRICS_NAMESPACE": "items-api-test",
        "STAGE": "test",
        "TABLE_NAME": "items",
        "BUCKET_NAME": "items-bucket",
        "IDEMPOTENCY_TABLE": "idempotency",
        "PYTHONPATH": os.pathsep.join([".", str(SHARED)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def loaded(name: str, folder: Path, request: bool = False) -> set[str]:
    """The modules in sys.modules after importing the handler in `folder` (and, with `request`,
    answering one GET /)."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, "request" if request else "import"],
        cwd=folder,
        env=lambda_environment(name),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Each function's modules after its cold import (openapi with its built document)."""
    served = tmp_path_factory.mktemp("openapi")
    (served / "app.py").write_bytes((FUNCTIONS_DIR / "openapi" / "app.py").read_bytes())
    (served / "openapi.json").write_text(json.dumps(document()))
    folders = {name: FUNCTIONS_DIR / name for name in NAMES} | {"openapi": served}
    return {name: loaded(name, folders[name]) for name in NAMES}


def _under(modules: set[str], package: str) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


@pytest.mark.parametrize("name", NAMES)
def test_no_handler_loads_the_xray_sdk(modules, name):
    assert _under(modules[name], "aws_xray_sdk") == set()
    assert _under(modules[name], "wrapt") == set()


def test_the_layer_does_not_ship_the_xray_sdk():
    lines = (SHARED / "requirements.txt").read_text().splitlines()
    pinned = {line.split("==")[0].lower() for line in lines if line and not line.startswith("#")}
    assert pinned.isdisjoint({"aws-xray-sdk", "wrapt"})
    sources = [*SHARED.rglob("*.py"), *FUNCTIONS_DIR.glob("*/app.py")]
    for path in sources:
        text = path.read_text()
        assert "aws_xray_sdk" not in text and "Tracer" not in text, path


@pytest.mark.parametrize("name", sorted(NO_AWS))
def test_a_function_that_calls_no_aws_service_does_not_load_boto3(modules, name):
    assert _under(modules[name], "boto3") == set()
    assert "items_common.aws" not in modules[name]


def test_health_answers_without_loading_boto3():
    after = loaded("health", FUNCTIONS_DIR / "health", request=True)
    assert _under(after, "boto3") == set()
    assert _under(after, "aws_xray_sdk") == set()


@pytest.mark.parametrize("name", sorted(WITHOUT_BODY))
def test_a_function_without_a_body_does_not_load_the_schema_validator(modules, name):
    assert _under(modules[name], "fastjsonschema") == set()


@pytest.mark.parametrize("name", NAMES)
def test_the_idempotency_utility_waits_for_an_idempotency_key(modules, name):
    assert _under(modules[name], "aws_lambda_powertools.utilities.idempotency") == set()


@pytest.mark.parametrize("name", NAMES)
def test_no_function_loads_the_batch_utility_or_event_classes(modules, name):
    assert _under(modules[name], "aws_lambda_powertools.utilities.batch") == set()
    assert _under(modules[name], "aws_lambda_powertools.utilities.data_classes") == set()
