"""Shared fixtures: the built template, AWS mocked by moto, the handlers as Lambda loads them;
and how pytest-xdist spreads the modules (tests/workers.py). The helpers they use live in
tests/aws.py, tests/handlers.py, tests/moto_stack.py and tests/moto_server.py (test modules
import those, never this file)."""

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from templates import build_template
from tests import aws, handlers
from tests import moto_server as moto_helpers
from tests.handlers import FakeContext
from tests.moto_stack import Stack, StackPool
from tools.local import moto_compat
from tools.local.stack import give_account_cloudwatch_role


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadfile as tests/workers.py amends it (modules writing one file share a worker)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests import workers  # imports pytest-xdist, which only a run with -n has

    return workers.Scheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_loader() -> Iterator[None]:
    """Every boto3 session of the run shares its loader (tests/aws.py: the service models are
    parsed once, not once per test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", aws.shared_loader_factory())
        yield


@pytest.fixture(scope="session", autouse=True)
def _handler_bytecode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Where load_handler keeps the handlers' bytecode when PYTHONDONTWRITEBYTECODE is set
    (tests/handlers.py): the run's temporary directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handlers, "BYTECODE_DIR", tmp_path_factory.mktemp("bytecode"))
        yield


@pytest.fixture(scope="session")
def template() -> dict:
    return build_template().to_dict()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, so nothing can reach a real account."""
    for key, value in aws.ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    for key in aws.UNSET:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def stack_pool(template: dict) -> StackPool:
    """The handler tests' stacks, made once per parameter set and process (tests/moto_stack.py):
    making one was most of a handler test's time."""
    return StackPool(template)


@pytest.fixture
def make_stack(aws_env: None, template: dict, stack_pool: StackPool,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Stack]]:  # fmt: skip
    """make_stack(**parameter_overrides) -> Stack: the template's own table and bucket, created
    by moto's CloudFormation with params/test.json plus the overrides, empty; sets the
    environment the template gives the functions (TABLE_NAME, BUCKET_NAME, PARTITION_KEY,
    SORT_KEY, CORS_*), resolved from the template itself.

    moto is started for the test as mock_aws does (its credentials, a new default session) but
    keeps its data, so the pool's stacks outlive the test; they are emptied for the next."""
    moto_compat.apply()
    mock = mock_aws()
    mock.start(reset=False)
    taken: Counter[tuple] = Counter()  # this test's stacks, by parameter values

    def make(**overrides: str) -> Stack:
        made = stack_pool.take(overrides, taken)
        for name, value in made.environment.items():
            monkeypatch.setenv(name, value)
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        return Stack(made.values, made.table, made.bucket, boto3.DEFAULT_SESSION)

    try:
        yield make
    finally:
        mock.stop(remove_data=False)


@pytest.fixture(params=["plain", "history"])
def stack(make_stack, request):
    """Each test once per mode (a module may define its own `stack`)."""
    return make_stack(**({"SortKeyName": "timestamp"} if request.param == "history" else {}))


@pytest.fixture
def items_table(make_stack):
    """Plain mode: partition key only."""
    return make_stack().table


@pytest.fixture
def history_table(make_stack):
    """History mode: a Number sort key `timestamp` (seed 003)."""
    return make_stack(SortKeyName="timestamp").table


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def dynamodb_hooks(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Callable], None]:
    """Register a botocore hook on the session the handlers will use (a fresh default session,
    restored after the test). The items_table fixture's own client is not affected, so a hook
    can play a concurrent writer through it."""
    session = boto3.Session()
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)

    def register(event_name: str, handler: Callable) -> None:
        session.events.register(event_name, handler)

    return register


@pytest.fixture
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service name of its own, so the handler's Logger writes to this test's captured stdout."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"items-api-test-{uuid.uuid4().hex}")


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    """moto_server on a free loopback port, one per test module: {"endpoint", "log"}."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    server, endpoint = moto_helpers.start(log)
    yield {"endpoint": endpoint, "log": log}
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def env(moto_server) -> dict:
    """The environment of a make run against moto_server, whose account has API Gateway's
    CloudWatch role set, as an operator sets it once (else `make preflight` refuses)."""
    environment = moto_helpers.environment(moto_server["endpoint"])
    give_account_cloudwatch_role(moto_server["endpoint"], moto_helpers.REGION)
    return environment
