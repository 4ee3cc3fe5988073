"""Warm path: the time of one request through each HTTP handler's lambda_handler (an API Gateway
proxy event, a warm container), with DynamoDB and S3 answered by botocore's Stubber on the very
clients the handlers use (items_common.dynamo.table().meta.client, items_common.aws.s3()), so
the number is our code plus boto3's client-side work, never the network.

Why: a warm request's own cost is what every request pays after the cold start; the breakdown
says where it goes. Method of the breakdown: a second, shorter pass wraps, in the function's own
copy of the layer, every function of items_common.validation ("validation", which includes
parsing request bodies), jsonify.dumps wherever it is imported ("serialization": response
bodies, tokens) and the Powertools Logger's work (the request line through its formatter to
stdout, the context keys and correlation id of inject_lambda_context: "logging"). A call made
inside another timed call is counted in the outer one only. The main pass runs unwrapped.

As deployed except: stdout (log lines, EMF metrics) goes to /dev/null instead of Lambda's pipe,
and X-Ray tracing is off (no daemon here)."""

import functools
import inspect
import io
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from botocore.response import StreamingBody
from botocore.stub import Stubber

from tools.bench import common

ITEM_ID = "bench-item-0001"
STAMP = "2025-01-01T00:00:00.000000Z"
ATTRIBUTES = {
    "name": "a benchmark item",
    "description": "x" * 200,
    "size": 3,
    "price": 12.5,
    "tags": ["red", "green", "blue"],
    "dimensions": {"w": 10, "h": 20, "unit": "cm"},
    "active": True,
}
BODY = json.dumps(ATTRIBUTES)
FILE_KEY = f"items/{ITEM_ID}/2b1c2d3e-0000-4000-8000-000000000000"
ATTACHMENT = b"attachment content " * 50


def typed(value: Any) -> dict[str, Any]:
    """A Python value in DynamoDB's wire form (what the stubbed client 'receives')."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [typed(v) for v in value]}
    return {"M": {k: typed(v) for k, v in value.items()}}


def row(item_id: str, version: int = 3, **extra: Any) -> dict[str, Any]:
    item = {
        "id": item_id,
        **ATTRIBUTES,
        "created_at": STAMP,
        "updated_at": STAMP,
        "version": version,
        **extra,
    }
    return {k: typed(v) for k, v in item.items()}


# Each stubbed answer is kept as JSON text and parsed per request: boto3's resource layer turns
# the answer's values into Python ones in place, so no answer object may be reused.
def answer(value: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    text = json.dumps(value)
    return lambda: json.loads(text)


def s3_object() -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(ATTACHMENT), len(ATTACHMENT)), "ContentLength": 0}


PAGE = {
    "Items": [row(f"bench-item-{i:04d}") for i in range(50)],
    "Count": 50,
    "ScannedCount": 50,
    "LastEvaluatedKey": {"id": {"S": "bench-item-0049"}},
}
ITEM_PATH = f"/items/{ITEM_ID}"
BY_ID = {"path_parameters": {"id": ITEM_ID}}


@dataclass
class Case:
    """One route: the function, its event, the AWS answers one request consumes (in order) and
    the status it must answer."""

    label: str
    function: str
    event: dict[str, Any]
    status: int
    calls: list[tuple[str, str, Callable[[], dict[str, Any]]]] = field(default_factory=list)


def cases() -> list[Case]:
    get = ("dynamodb", "get_item", answer({"Item": row(ITEM_ID)}))
    new = ("dynamodb", "update_item", answer({"Attributes": row(ITEM_ID, 4)}))
    return [
        Case("GET /", "health", common.api_event("GET", "/", "/"), 200),
        Case(
            "GET /openapi.json",
            "openapi",
            common.api_event("GET", "/openapi.json", "/openapi.json"),
            200,
        ),
        Case(
            "GET /items?limit=50",
            "list_items",
            common.api_event("GET", "/items", "/items", query={"limit": "50"}),
            200,
            [("dynamodb", "scan", answer(PAGE))],
        ),
        Case(
            "GET /items/{id}",
            "get_item",
            common.api_event("GET", "/items/{id}", ITEM_PATH, **BY_ID),
            200,
            [get],
        ),
        Case(
            "GET /items/{id} + attachment",
            "get_item",
            common.api_event("GET", "/items/{id}", ITEM_PATH, **BY_ID),
            200,
            [
                ("dynamodb", "get_item", answer({"Item": row(ITEM_ID, file_key=FILE_KEY)})),
                ("s3", "get_object", s3_object),
            ],
        ),
        Case(
            "POST /items",
            "create_item",
            common.api_event(
                "POST", "/items", "/items", body=json.dumps({"id": ITEM_ID, **ATTRIBUTES})
            ),
            201,
            [("dynamodb", "put_item", answer({}))],
        ),
        Case(
            "PUT /items/{id}",
            "update_item",
            common.api_event("PUT", "/items/{id}", ITEM_PATH, body=BODY, **BY_ID),
            200,
            [get, new],
        ),
        Case(
            "PATCH /items/{id}",
            "patch_item",
            common.api_event(
                "PATCH",
                "/items/{id}",
                ITEM_PATH,
                body=json.dumps({"name": "patched", "size": None}),
                **BY_ID,
            ),
            200,
            [get, new],
        ),
        Case(
            "DELETE /items/{id}",
            "delete_item",
            common.api_event("DELETE", "/items/{id}", ITEM_PATH, **BY_ID),
            204,
            [("dynamodb", "delete_item", answer({"Attributes": row(ITEM_ID)}))],
        ),
        Case(
            "GET /items/{id}/versions",
            "list_versions",
            common.api_event("GET", "/items/{id}/versions", f"{ITEM_PATH}/versions", **BY_ID),
            200,
            [get],
        ),
    ]


class Probe:
    """Wraps functions to add their time to a category; a call inside another timed call is
    counted in the outer one only (so categories never overlap)."""

    def __init__(self) -> None:
        self.spent: dict[str, int] = defaultdict(int)
        self.active = False

    def wrap(self, category: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.active:
                return fn(*args, **kwargs)
            self.active = True
            started = time.perf_counter_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[category] += time.perf_counter_ns() - started
                self.active = False

        return timed


CATEGORIES = ("validation", "serialization", "logging")
LOGGER_METHODS = ("info", "exception", "append_keys", "set_correlation_id", "structure_logs")


def instrument(probe: Probe, handler_module: ModuleType, layer: dict[str, ModuleType]) -> None:
    """Install the probe's wrappers in this function's modules (see the module docstring)."""
    replace: dict[int, Callable] = {}
    validation = layer.get("items_common.validation")  # health and openapi do not load it
    for fn in vars(validation).values() if validation else ():
        if inspect.isfunction(fn) and fn.__module__ == validation.__name__:
            replace[id(fn)] = probe.wrap("validation", fn)
    jsonify = layer["items_common.jsonify"]
    replace[id(jsonify.dumps)] = probe.wrap("serialization", jsonify.dumps)
    for module in [handler_module, *layer.values()]:
        for name, value in list(vars(module).items()):
            if id(value) in replace:
                setattr(module, name, replace[id(value)])
    logger = handler_module.logger
    for method in LOGGER_METHODS:
        setattr(logger, method, probe.wrap("logging", getattr(logger, method)))
    powertools_logger = sys.modules["aws_lambda_powertools.logging.logger"]
    powertools_logger.build_lambda_context_model = probe.wrap(
        "logging", powertools_logger.build_lambda_context_model
    )
    query = powertools_logger.jmespath_utils.query
    powertools_logger.jmespath_utils = SimpleNamespace(query=probe.wrap("logging", query))


@dataclass
class Loaded:
    case: Case
    handler: Callable[[dict, Any], dict]
    module: ModuleType
    layer: dict[str, ModuleType]  # its items_common modules, by name
    stubbers: dict[str, Stubber]


def load(case: Case, functions_dir: Path, layer_dir: Path, tpl: dict) -> Loaded:
    """The function as one warm container: its environment, its module, stubbed clients."""
    os.environ.update(
        common.function_environment(tpl, case.function, lambda r: f"{common.STACK}-{r.lower()}")
    )
    module, layer = common.load_handler(functions_dir, layer_dir, case.function)
    services = {service for service, _, _ in case.calls}
    clients = {
        "dynamodb": lambda: layer["items_common.dynamo"].table().meta.client,
        "s3": lambda: layer["items_common.aws"].s3(),
    }
    stubbers = {name: Stubber(clients[name]()) for name in services}
    for stubber in stubbers.values():
        stubber.activate()
    return Loaded(case, module.lambda_handler, module, layer, stubbers)


def requests(loaded: Loaded, count: int, probe: Probe | None = None) -> tuple[list, dict]:
    """`count` requests; (seconds per request, {category: seconds per request})."""
    case, context = (
        loaded.case,
        common.Context(function_name=f"{common.STACK}-{loaded.case.function}"),
    )
    times: list[float] = []
    spent: dict[str, list[float]] = {c: [] for c in CATEGORIES}
    for _ in range(count):
        for service, operation, make in case.calls:
            loaded.stubbers[service].add_response(operation, make())
        if probe is not None:
            probe.spent.clear()
        started = time.perf_counter_ns()
        result = loaded.handler(case.event, context)
        times.append((time.perf_counter_ns() - started) / 1e9)
        if result["statusCode"] != case.status:
            raise RuntimeError(f"{case.label}: {result['statusCode']} {result['body']}")
        if probe is not None:
            for category in CATEGORIES:
                spent[category].append(probe.spent.get(category, 0) / 1e9)
    for stubber in loaded.stubbers.values():
        stubber.assert_no_pending_responses()
    return times, spent


def run(quick: bool) -> list[common.Row]:
    count, probed = (300, 100) if quick else (10_000, 2_000)
    os.environ.update(common.DUMMY_AWS)
    os.environ.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_DEV="false")
    tpl = common.template()
    rows: list[common.Row] = []
    real_stdout = sys.stdout
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp, open(os.devnull, "w") as null:
        functions_dir, layer_dir = common.unpack_dist(Path(tmp))
        sys.stdout = null  # Powertools' Logger binds its stream when the handler is imported
        try:
            for case in cases():
                common.progress(f"warm: {case.label} x {count}")
                loaded = load(case, functions_dir, layer_dir, tpl)
                requests(loaded, 50)  # warm-up: first-call caches (clients, JMESPath, schemas)
                times, _ = requests(loaded, count)
                ms = [t * 1000 for t in times]
                rows.append(common.sample_row(f"warm {case.label}: per request", ms, "ms"))
                rows.append(
                    common.Row(
                        f"warm {case.label}: p99 of {count:,}", common.percentile(ms, 0.99), "ms"
                    )
                )
                probe = Probe()
                instrument(probe, loaded.module, loaded.layer)
                probe_times, spent = requests(loaded, probed, probe)
                total = sum(probe_times)
                for category in CATEGORIES:
                    share = 100 * sum(spent[category]) / total
                    rows.append(
                        common.sample_row(
                            f"warm {case.label}: {category} ({share:.0f}% of request)",
                            [s * 1000 for s in spent[category]],
                            "ms",
                        )
                    )
        finally:
            sys.stdout = real_stdout
    return rows


if __name__ == "__main__":
    common.main(run)
