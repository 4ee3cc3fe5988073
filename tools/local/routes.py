"""The REST API's routes, read from the CloudFormation template itself (no second list).

- Paths: every AWS::ApiGateway::Resource (PathPart under ParentId, up to the RestApi's
  RootResourceId), with `Ref: <Parameter>` path parts resolved by the parameter values.
- Methods: every AWS::ApiGateway::Method of the RestApi. An AWS_PROXY integration names its
  function through its Uri, in a Fn::Sub: the function (`Fn::GetAtt <Function>.Arn`) or an
  alias of it (`Ref <Alias>`, followed to the function its FunctionName names, as an alias
  invokes one of that function's versions); a MOCK integration (the
  OPTIONS preflights) is answered from its integration response: the response that the request
  template's statusCode selects, with its static `'...'` header mappings resolved.
- Gateway responses: AWS::ApiGateway::GatewayResponse headers (DEFAULT_4XX/5XX and specific
  types), for the answers API Gateway gives itself (unknown route, failed integration).

Every value is evaluated as CloudFormation would for the parameter values, by the project's one
evaluator (tools.intrinsics.Evaluator): Ref to parameters and pseudo parameters, Fn::If over
the template's Conditions, Fn::Sub, Fn::Join, and AWS::NoValue, whose map key is removed (a
header mapped under `Fn::If [..., !Ref AWS::NoValue]` is not sent when the condition is false).
A method or gateway response whose own Condition is false does not exist, as in AWS.

A function's folder under functions/ comes from its FunctionName, `${AWS::StackName}-<slug>`
(templates/naming.physical_name; the slug is the kebab-case of the snake_case folder name, so
turning `-` back into `_` is exact). Only when a FunctionName has another shape does the logical
ID minus `Function`, snake_cased, serve (CamelCase loses where digits and acronyms split, so it
is the fallback, as is the `<Name>CodeKey` parameter it would equal). The handler is the
function's `Handler` property (`app.lambda_handler`: functions/<folder>/app.py, lambda_handler).

Not evaluated: authorizers, API keys and IAM auth, request validators and models (the handlers
check bodies with the same schema), stage caching, throttling. Integration types other than
AWS_PROXY and MOCK raise Unsupported.
"""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.intrinsics import Evaluator, Unresolvable, parameter_values, references, target, text

METHOD = "AWS::ApiGateway::Method"
RESOURCE = "AWS::ApiGateway::Resource"
REST_API = "AWS::ApiGateway::RestApi"
GATEWAY_RESPONSE = "AWS::ApiGateway::GatewayResponse"
FUNCTION = "AWS::Lambda::Function"
# What names a function and invokes (a version of) it: followed through FunctionName.
QUALIFIERS = ("AWS::Lambda::Alias", "AWS::Lambda::Version")
ROOT = ""  # the key of the API's root resource in resource paths
STACK_MARK = "\x01"  # the stack name while a FunctionName is read for its slug

# Lambda's own defaults, when the template does not set (or we cannot resolve) them.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
# API Gateway's default body for its own answers.
DEFAULT_GATEWAY_BODY = '{"message":$context.error.messageString}'


class Unsupported(ValueError):
    """A part of the API this adapter cannot emulate."""


@dataclass(frozen=True)
class LambdaTarget:
    """An AWS_PROXY integration: the function it invokes."""

    function_id: str  # logical ID, e.g. GetItemFunction
    folder: str  # functions/<folder>, e.g. get_item
    handler: str  # the Handler property, e.g. app.lambda_handler
    function_name: str  # the physical name, with the local stack name
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB


@dataclass(frozen=True)
class MockResponse:
    """A MOCK integration's answer (the OPTIONS preflights)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class GatewayResponse:
    """An answer API Gateway gives itself (its headers from the template, if it sets them)."""

    kind: str  # e.g. MISSING_AUTHENTICATION_TOKEN
    status: int
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST, ..., OPTIONS, or ANY
    path: str  # the resource path, e.g. /items/{id}
    target: LambdaTarget | MockResponse
    regex: re.Pattern[str]  # matches a raw (percent-encoded) request path
    parameters: tuple[str, ...]  # path parameter names, in the order of the regex groups
    method_id: str = ""  # the Method's logical ID
    resource_id: str = ROOT  # the Resource's logical ID (ROOT for /)

    @classmethod
    def of(cls, method: str, path: str, target: LambdaTarget | MockResponse, **ids: str) -> "Route":
        regex, parameters = path_regex(path)
        return cls(method, path, target, regex, parameters, **ids)

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The path parameters (still percent-encoded) if this route's path matches."""
        found = self.regex.fullmatch(raw_path)
        return dict(zip(self.parameters, found.groups(), strict=True)) if found else None

    @property
    def specificity(self) -> tuple[int, ...]:
        """Sorts literal segments before `{name}` before `{name+}`, as API Gateway prefers."""
        return tuple(_segment_rank(s) for s in self.path.strip("/").split("/") if s)


def _segment_rank(segment: str) -> int:
    if segment.endswith("+}"):
        return 2
    return 1 if segment.startswith("{") else 0


def path_regex(path: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A regex for a resource path: `{name}` is one segment, `{name+}` the rest of the path. A
    trailing slash is accepted (API Gateway ignores it)."""
    parts, names = [], []
    for segment in (s for s in path.split("/") if s):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1]
            greedy = name.endswith("+")
            names.append(name.removesuffix("+"))
            parts.append("/(.+?)" if greedy else "/([^/]+)")
        else:
            parts.append("/" + re.escape(segment))
    pattern = "/" if not parts else "".join(parts) + "/?"
    return re.compile(pattern), tuple(names)


def _rest_api(template: Mapping) -> str:
    apis = [k for k, v in template["Resources"].items() if v["Type"] == REST_API]
    if len(apis) != 1:
        raise Unsupported(f"expected one {REST_API}, found {apis}: pass rest_api=")
    return apis[0]


def _of_type(
    template: Mapping, type_: str, rest_api: str, ev: Evaluator | None = None
) -> Iterator[tuple[str, dict]]:
    """The resources of this type on this API; with `ev`, only those its values create (a
    resource whose Condition is false does not exist)."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] != type_ or target(props.get("RestApiId")) != (rest_api, None):
            continue
        if ev is None or "Condition" not in resource or ev.condition(resource["Condition"]):
            yield logical_id, props


def _resource_key(node: Any, rest_api: str) -> str:
    """ROOT for the RestApi's RootResourceId, else the Resource's logical ID."""
    named = target(node)
    if named == (rest_api, "RootResourceId"):
        return ROOT
    if named is None or named.attribute is not None:
        raise Unsupported(f"resource reference {node!r}: neither RootResourceId nor a Ref")
    return named.name


def resource_paths(template: Mapping, values: Mapping[str, str], rest_api: str) -> dict[str, str]:
    """Resource logical ID (ROOT for the root) -> its path, e.g. /items/{id}."""
    ev = Evaluator(template, values)
    parts = {
        rid: (_resource_key(p["ParentId"], rest_api), text(ev.resolve(p["PathPart"])))
        for rid, p in _of_type(template, RESOURCE, rest_api, ev)
    }
    paths: dict[str, str] = {ROOT: "/"}

    def path_of(rid: str, seen: tuple[str, ...] = ()) -> str:
        if rid not in paths:
            if rid in seen or rid not in parts:
                raise Unsupported(f"resource {rid}: no such resource, or a cycle")
            parent, part = parts[rid]
            paths[rid] = path_of(parent, (*seen, rid)).rstrip("/") + "/" + part
        return paths[rid]

    for rid in parts:
        path_of(rid)
    return paths


def _arn_functions(node: Any) -> Iterator[str]:
    """The logical IDs whose ARN a node may name: `Fn::GetAtt X.Arn` and `Ref X` (an alias's Ref
    is its ARN), in Fn::Sub too."""
    return (r.name for r in references(node) if r.attribute in (None, "Arn"))


def invoked_function(template: Mapping, logical_id: str) -> str | None:
    """The logical ID of the function that `logical_id` invokes: itself when it is a function,
    the function an alias's or version's FunctionName names (Ref or Fn::GetAtt Arn), else None."""
    resources = template["Resources"]
    seen: set[str] = set()
    while logical_id in resources and logical_id not in seen:
        seen.add(logical_id)
        resource = resources[logical_id]
        if resource["Type"] == FUNCTION:
            return logical_id
        if resource["Type"] not in QUALIFIERS:
            return None
        named = list(_arn_functions(resource.get("Properties", {}).get("FunctionName")))
        if len(named) != 1:
            return None
        logical_id = named[0]
    return None


def function_folder(function_id: str, props: Mapping) -> str:
    """functions/<folder> of a function: from its FunctionName `${AWS::StackName}-<slug>`, else
    from its logical ID (see the module docstring)."""
    try:  # the stack name a mark, and no other value: a name of another shape is unresolvable
        name = Evaluator({}, {"AWS::StackName": STACK_MARK}).resolve(props.get("FunctionName"))
    except Unresolvable:
        name = None
    found = re.fullmatch(STACK_MARK + r"-([a-z0-9]+(?:-[a-z0-9]+)*)", text(name or ""))
    if found:
        return found.group(1).replace("-", "_")
    stem = function_id.removesuffix("Function")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", stem).lower()


def _number(node: Any, ev: Evaluator, default: int) -> int:
    try:
        return int(ev.resolve(node)) if node is not None else default
    except (Unresolvable, TypeError, ValueError):
        return default


def _lambda_target(
    template: Mapping, method_id: str, integration: Mapping, values: Mapping[str, str]
) -> LambdaTarget:
    resources = template["Resources"]
    found = {f for f in _arn_functions(integration.get("Uri")) if f in resources}
    functions = sorted({invoked_function(template, f) for f in found} - {None})
    if len(functions) != 1:
        raise Unsupported(f"{method_id}: its Uri names no single Lambda function ({found})")
    [function_id] = functions
    return function_target(template, function_id, values)


def function_target(template: Mapping, function_id: str, values: Mapping[str, str]) -> LambdaTarget:
    """The function of this logical ID, as an invocation needs it (routes and stream mappings)."""
    props = template["Resources"][function_id]["Properties"]
    ev = Evaluator(template, values)
    try:
        function_name = text(ev.resolve(props["FunctionName"]))
    except (KeyError, Unresolvable):
        function_name = f"{values['AWS::StackName']}-{function_id}"
    return LambdaTarget(
        function_id=function_id,
        folder=function_folder(function_id, props),
        handler=props["Handler"],
        function_name=function_name,
        timeout_seconds=_number(props.get("Timeout"), ev, DEFAULT_TIMEOUT_SECONDS),
        memory_mb=_number(props.get("MemorySize"), ev, DEFAULT_MEMORY_MB),
    )


def static_header(name: str, value: Any) -> str:
    """A header mapping's evaluated value: a static value is in single quotes (`'*'`)."""
    value = text(value)
    if len(value) < 2 or value[0] != "'" or value[-1] != "'":
        raise Unsupported(f"header {name}: mapping {value!r} is not a static '...' value")
    return value[1:-1]


def _headers(parameters: Any, prefix: str, ev: Evaluator) -> dict[str, str]:
    """The header mappings, evaluated as a whole: a header whose mapping is AWS::NoValue for
    these values (`Fn::If [..., !Ref AWS::NoValue]`) is not there."""
    return {
        key.removeprefix(prefix): static_header(key, value)
        for key, value in ev.resolve(parameters or {}).items()
        if key.startswith(prefix)
    }


def _mock(method_id: str, integration: Mapping, ev: Evaluator) -> MockResponse:
    """The integration response the request template's statusCode selects (by SelectionPattern,
    else the default response, the one without a pattern)."""
    template = integration.get("RequestTemplates", {}).get("application/json", "")
    try:
        selected = str(json.loads(template)["statusCode"])
    except (ValueError, KeyError, TypeError):
        selected = "200"
    responses = integration.get("IntegrationResponses", [])
    chosen = next(
        (
            r
            for r in responses
            if r.get("SelectionPattern") and re.fullmatch(r["SelectionPattern"], selected)
        ),
        None,
    ) or next((r for r in responses if not r.get("SelectionPattern")), None)
    if chosen is None:
        raise Unsupported(f"{method_id}: no integration response for status {selected}")
    return MockResponse(
        status=int(ev.resolve(chosen["StatusCode"])),
        headers=_headers(chosen.get("ResponseParameters", {}), "method.response.header.", ev),
        body=chosen.get("ResponseTemplates", {}).get("application/json", ""),
    )


def read_routes(
    template: Mapping, values: Mapping[str, Any] | None = None, *, rest_api: str | None = None
) -> list[Route]:
    """Every method of the REST API as a Route, sorted by path then method. `values` are the
    parameter values (the template's Defaults fill the rest)."""
    resolved = parameter_values(template, values)
    ev = Evaluator(template, resolved)
    api = rest_api or _rest_api(template)
    paths = resource_paths(template, resolved, api)
    routes = []
    for method_id, props in _of_type(template, METHOD, api, ev):
        resource_id = _resource_key(props["ResourceId"], api)
        integration = props.get("Integration", {})
        kind = ev.resolve(integration.get("Type"))
        if kind == "AWS_PROXY":
            target: LambdaTarget | MockResponse = _lambda_target(
                template, method_id, integration, resolved
            )
        elif kind == "MOCK":
            target = _mock(method_id, integration, ev)
        else:
            raise Unsupported(f"{method_id}: integration type {kind} is not emulated")
        method = text(ev.resolve(props["HttpMethod"])).upper()
        routes.append(
            Route.of(
                method, paths[resource_id], target, method_id=method_id, resource_id=resource_id
            )
        )
    return sorted(routes, key=lambda r: (r.path, r.method))


# API Gateway's own answers: response type -> (status, the default type it falls back to).
GATEWAY_DEFAULTS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "DEFAULT_4XX"),
    "RESOURCE_NOT_FOUND": (404, "DEFAULT_4XX"),
    "REQUEST_TOO_LARGE": (413, "DEFAULT_4XX"),
    "API_CONFIGURATION_ERROR": (500, "DEFAULT_5XX"),
    "INTEGRATION_FAILURE": (504, "DEFAULT_5XX"),
    "DEFAULT_4XX": (400, "DEFAULT_4XX"),
    "DEFAULT_5XX": (500, "DEFAULT_5XX"),
}


def gateway_response(
    template: Mapping,
    values: Mapping[str, Any] | None,
    kind: str,
    message: str,
    *,
    status: int | None = None,
    rest_api: str | None = None,
) -> GatewayResponse:
    """API Gateway's own answer of this type: the template's GatewayResponse for it (else for its
    DEFAULT_4XX/5XX) gives headers, status and body template. Body templates are rendered when
    they use only $context.error.message(String); otherwise API Gateway's default body is used."""
    ev = Evaluator(template, parameter_values(template, values))
    api = rest_api or _rest_api(template)
    default_status, fallback = GATEWAY_DEFAULTS.get(kind, (status or 500, "DEFAULT_5XX"))
    declared = {
        text(ev.resolve(p["ResponseType"])): p
        for _, p in _of_type(template, GATEWAY_RESPONSE, api, ev)
    }
    props = declared.get(kind) or declared.get(fallback) or {}
    body = props.get("ResponseTemplates", {}).get("application/json") or DEFAULT_GATEWAY_BODY
    rendered = body.replace("$context.error.messageString", json.dumps(message)).replace(
        "$context.error.message", message
    )
    if "$" in rendered:
        rendered = json.dumps({"message": message}, separators=(",", ":"))
    code = props.get("StatusCode")
    return GatewayResponse(
        kind=kind,
        status=int(ev.resolve(code)) if code else status or default_status,
        headers=_headers(props.get("ResponseParameters", {}), "gatewayresponse.header.", ev),
        body=rendered,
    )


def stage_variables(
    template: Mapping, values: Mapping[str, Any] | None, *, rest_api: str | None = None
) -> dict[str, str]:
    """The Variables of the RestApi's AWS::ApiGateway::Stage (the event's stageVariables)."""
    ev = Evaluator(template, parameter_values(template, values))
    api = rest_api or _rest_api(template)
    stages = [p for _, p in _of_type(template, "AWS::ApiGateway::Stage", api, ev)]
    variables = ev.resolve(stages[0].get("Variables", {})) if len(stages) == 1 else {}
    return {name: text(value) for name, value in variables.items()}
