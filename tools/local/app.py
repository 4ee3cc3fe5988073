"""LocalApi: the template's REST API as a stdlib WSGI application, the handlers run in-process.

    app = LocalApi(template, {"RoutePrefix": "items"}, stage="test")
    werkzeug.serving.make_server("127.0.0.1", 3000, app, threaded=True).serve_forever()

Per request: the route is matched on the raw (percent-encoded) path, as API Gateway does;
OPTIONS answers come from the template's MOCK integrations; a Lambda route gets the proxy event
(events.to_event) and its handler's result becomes the response (events.from_result).

Answers API Gateway gives itself, copied from API Gateway REST (not 404/405): a path no resource
matches, and a method the matched resource does not have, are both 403
{"message":"Missing Authentication Token"} (response type MISSING_AUTHENTICATION_TOKEN, with the
template's DEFAULT_4XX headers). A handler that raises or returns a malformed result is 502
{"message":"Internal server error"} with the DEFAULT_5XX headers (the traceback goes to
wsgi.errors; propagate_errors=True re-raises it instead, for tests that want it).

Handlers: functions/<folder>/<module>.py, imported once per function with functions/shared (the
layer) on sys.path. Each function has its own copy of the layer's modules, as each Lambda
function has its own process: its first import loads a fresh copy, and every later run of it
finds that copy (and what it imported lazily) in sys.modules again, never another function's.
One invocation runs at a time, of any function (the process has one sys.modules and one
os.environ): requests may arrive on many threads, each waits for its turn, and the context's
clock starts when its invocation does. So each function keeps Lambda's one invocation per
execution environment, as if every function had one environment and the account a concurrency
of 1. `refresh` (make local's hot reload, tools.local.artifacts.Reloader) is asked before each
invocation whether the function's files changed: then its handler and its layer modules are
dropped and imported again (a new cold start). `close()` (a stopping server) answers the
requests still waiting for their turn 503 at once; stream batches still run. The environment
variables (TABLE_NAME, BUCKET_NAME, CORS_*, ...) are the caller's business: set them before the
first request (the tests do, via make_stack). Not emulated: auth (API keys, IAM), request
validation by models, caching, throttling, timeouts (the context only reports the remaining
time), a stage prefix in the URL (serve at /).
"""

import functools
import importlib.util
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlsplit

from tools import ROOT
from tools.intrinsics import parameter_values as all_parameter_values

from .events import from_result, to_event
from .routes import (
    GatewayResponse,
    LambdaTarget,
    MockResponse,
    Route,
    gateway_response,
    read_routes,
    stage_variables,
)

FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIRS = (FUNCTIONS_DIR / "shared",)  # what the layer puts on the functions' path
# Every layer directory any LocalApi has put on sys.path (their modules are never shared).
_KNOWN_LAYERS: set[Path] = {d.resolve() for d in LAYER_DIRS}
# sys.modules is the process's: the function that runs holds it (its layer modules in place).
_RUNNING = threading.RLock()
_installed: dict[str, ModuleType] = {}  # the layer modules sys.modules holds now: one function's
PATH_SAFE = "/:@!$&'()*+,;=-._~"

StartResponse = Callable[..., Any]
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """What the handlers use of Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int = 3
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def context_for(target: LambdaTarget, request_id: str, region: str, account: str) -> LambdaContext:
    return LambdaContext(
        function_name=target.function_name,
        memory_limit_in_mb=target.memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{target.function_name}",
        aws_request_id=request_id,
        timeout_seconds=target.timeout_seconds,
        log_group_name=f"/aws/lambda/{target.function_name}",
    )


def raw_path(environ: Mapping[str, Any]) -> str:
    """The request path as the client sent it (percent-encoded), without SCRIPT_NAME. Taken from
    REQUEST_URI/RAW_URI when the server gives it (werkzeug, gunicorn), else re-encoded from
    PATH_INFO (where an encoded `/` cannot be told from a `/`)."""
    script = environ.get("SCRIPT_NAME", "")
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if uri:
        path = urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0]
        return path[len(script) :] if script and path.startswith(script) else path
    decoded = environ.get("PATH_INFO", "").encode("latin-1")  # WSGI: bytes as latin-1
    return quote(decoded, safe=PATH_SAFE) or "/"


def request_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request headers, named in Title-Case (WSGI keeps no case)."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        text = value.encode("latin-1").decode("utf-8", "replace")
        headers.append(("-".join(w.capitalize() for w in name.split("_")), text))
    return headers


def request_body(environ: Mapping[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    return stream.read() if environ.get("wsgi.input_terminated") else b""


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _from_layer(module: ModuleType) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = _resolved(file)
    return any(path.startswith(f"{layer}{os.sep}") for layer in _KNOWN_LAYERS)


@functools.cache
def _resolved(file: str) -> str:
    """A module file's real path, resolved once: every import walks all of sys.modules, and
    resolving each file again (and listing its parents) for each known layer cost seconds once
    a few LocalApis with layers of their own had run in the process (the tests')."""
    return str(Path(file).resolve())


@contextmanager
def _own_modules(modules: dict[str, ModuleType]) -> Iterator[None]:
    """Run with `modules` (one function's layer modules) in sys.modules, and keep in it what the
    run loads. Without this, a function imported later dropped the layer modules an earlier one
    had loaded, and that one's lazy imports then got a second copy: a Powertools exception of
    the second copy is not an `except` of the first (a 500 instead of a 422)."""
    global _installed
    with _RUNNING:
        if _installed is not modules:
            for name, module in _installed.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
            sys.modules.update(modules)
            _installed = modules
        before = set(sys.modules)
        try:
            yield
        finally:
            for name in set(sys.modules) - before:
                if _from_layer(sys.modules[name]):
                    modules[name] = sys.modules[name]


class LocalApi:
    """The template's REST API as a WSGI application (see the module docstring)."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameter_values: Mapping[str, Any] | None = None,
        stage: str | None = None,
        *,
        functions_dir: Path = FUNCTIONS_DIR,
        layer_dirs: Iterable[Path] = LAYER_DIRS,
        propagate_errors: bool = False,
        environments: Mapping[str, Mapping[str, str]] | None = None,
        refresh: Callable[[LambdaTarget], bool] | None = None,
    ) -> None:
        given = dict(parameter_values or {})
        if stage:
            given.setdefault("Stage", stage)  # the template's StageName and stage variables
        if os.environ.get("AWS_REGION"):
            given.setdefault("AWS::Region", os.environ["AWS_REGION"])  # for ARNs in the context
        values = all_parameter_values(template, given)
        self.stage = stage or values.get("Stage", "local")
        self.region = values["AWS::Region"]
        self.account = values["AWS::AccountId"]
        self.routes: list[Route] = read_routes(template, values)
        self.stage_variables = stage_variables(template, values)
        self.missing_token = gateway_response(
            template, values, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
        )
        self.internal_error = gateway_response(
            template, values, "DEFAULT_5XX", "Internal server error", status=502
        )
        self.stopping = gateway_response(
            template, values, "DEFAULT_5XX", "The local server is stopping", status=503
        )
        self.functions_dir = Path(functions_dir)
        self.layer_dirs = tuple(Path(d).resolve() for d in layer_dirs)
        self.propagate_errors = propagate_errors
        self.environments = {k: dict(v) for k, v in (environments or {}).items()}
        self.refresh = refresh
        self.closed = False
        self._handlers: dict[str, Handler] = {}
        self._modules: dict[str, dict[str, ModuleType]] = {}  # function id -> its layer modules
        self._lock = threading.Lock()

    def match(self, method: str, path: str) -> Route | None:
        """The route API Gateway would pick: the most specific resource whose path matches (literal
        segments before `{param}`), then its method (or ANY). None: 403."""
        matching = [r for r in self.routes if r.match(path) is not None]
        if not matching:
            return None
        best = min(matching, key=lambda r: r.specificity).path
        on_resource = {r.method: r for r in matching if r.path == best}
        return on_resource.get(method.upper()) or on_resource.get("ANY")

    def handler(self, target: LambdaTarget) -> Handler:
        """The function's handler, imported on first use and kept (one cold start per function)."""
        with self._lock:
            if target.function_id not in self._handlers:
                module_name, _, attribute = target.handler.rpartition(".")
                module = self._import(target.folder, module_name)
                self._handlers[target.function_id] = getattr(module, attribute)
            return self._handlers[target.function_id]

    def _import(self, folder: str, module_name: str) -> ModuleType:
        _KNOWN_LAYERS.update(self.layer_dirs)
        for directory in reversed(self.layer_dirs):  # this API's layer first on the path
            if str(directory) in sys.path:
                sys.path.remove(str(directory))
            sys.path.insert(0, str(directory))
        # A fresh layer for this function: drop every module loaded from any layer copy (this
        # one, or another LocalApi's), so no cached client of another stack is reused.
        for name, module in list(sys.modules.items()):
            if _from_layer(module):
                del sys.modules[name]
        path = self.functions_dir / folder / (module_name.replace(".", "/") + ".py")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the handler file of function folder {folder}")
        spec = importlib.util.spec_from_file_location(f"localapi_{folder}_{module_name}", path)
        assert spec and spec.loader, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def forget(self, function_id: str) -> None:
        """Drop the function's handler and its copy of the layer's modules: its next invocation
        imports them again, a cold start in a new execution environment."""
        with self._lock:
            self._handlers.pop(function_id, None)
        self._modules.pop(function_id, None)

    def close(self) -> None:
        """Refuse (503) the requests that have not started their invocation yet: a stopping
        server then answers those waiting for their turn at once, instead of running them."""
        self.closed = True

    def invoke(self, target: LambdaTarget, event: dict[str, Any]) -> Any:
        """The function's handler run on `event`, when no other invocation runs."""
        # A proxy event carries its request id; other events (a stream batch) get a fresh one.
        request_id = (event.get("requestContext") or {}).get("requestId") or str(uuid.uuid4())
        with _RUNNING:
            if self.refresh is not None and self.refresh(target):
                self.forget(target.function_id)
            context = context_for(target, request_id, self.region, self.account)
            modules = self._modules.setdefault(target.function_id, {})
            with _own_modules(modules), self.environment(target):
                return self.handler(target)(event, context)

    @contextmanager
    def environment(self, target: LambdaTarget) -> Iterator[None]:
        """The function's own environment variables (from `environments`, as Lambda holds them)
        for its import and its run, then the process's again. The process has one os.environ,
        so the functions run one at a time (invoke), as each would in its own container."""
        variables = self.environments.get(target.function_id)
        if variables is None:
            yield
            return
        variables = {
            **variables,
            "AWS_LAMBDA_FUNCTION_NAME": target.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(target.memory_mb),
        }
        saved = {k: os.environ.get(k) for k in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        path = raw_path(environ)
        route = self.match(method, path)
        if route is None:
            return self._gateway(
                start_response, self.missing_token, "MissingAuthenticationTokenException"
            )
        if isinstance(route.target, MockResponse):
            mock = route.target
            return self._send(start_response, mock.status, list(mock.headers.items()), b"")
        headers = request_headers(environ)
        event = to_event(
            method,
            path,
            headers,
            environ.get("QUERY_STRING", ""),
            request_body(environ),
            route,
            self.stage,
            source_ip=environ.get("REMOTE_ADDR") or "127.0.0.1",
            stage_variables=self.stage_variables,
        )
        with _RUNNING:  # this request's turn: one invocation at a time
            if self.closed:  # the server began stopping while it waited
                return self._gateway(start_response, self.stopping, "ServiceUnavailableException")
            try:
                status, response_headers, body = from_result(self.invoke(route.target, event))
            except Exception:
                if self.propagate_errors:
                    raise
                environ["wsgi.errors"].write(traceback.format_exc())
                return self._gateway(
                    start_response, self.internal_error, "InternalServerErrorException"
                )
        response_headers.append(("x-amzn-RequestId", event["requestContext"]["requestId"]))
        return self._send(start_response, status, response_headers, body)

    def _gateway(
        self, start_response: StartResponse, answer: GatewayResponse, error_type: str
    ) -> list[bytes]:
        headers = [
            ("Content-Type", "application/json"),
            *answer.headers.items(),
            ("x-amzn-ErrorType", error_type),
        ]
        return self._send(start_response, answer.status, headers, answer.body.encode())

    @staticmethod
    def _send(
        start_response: StartResponse, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> list[bytes]:
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(status_line(status), headers)
        return [body]
