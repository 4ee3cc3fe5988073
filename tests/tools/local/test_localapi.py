"""tools.local: the template's REST API served locally (routes read from the template, proxy events
as API Gateway builds them, the handlers run on moto), and schemathesis driving it in-process."""

import base64
import json
from typing import Any

import hypothesis
import pytest
import schemathesis
from werkzeug.test import Client

from templates.catalog import ROUTES
from tests import cfn
from tools.intrinsics import Resolver
from tools.local import LocalApi, read_routes, to_event, unpack
from tools.local.events import MalformedResult, from_result
from tools.local.routes import LambdaTarget, MockResponse

MISSING_TOKEN = {"message": "Missing Authentication Token"}
ORIGIN = "https://example.com"
ITEM_ROUTE_ID = "/items/{id}"


class RecordingApi(LocalApi):
    """LocalApi whose functions record their event and answer `reply` (or raise it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[dict] = []
        self.reply: Any = {"statusCode": 200, "headers": {"Content-Type": "application/json"}}

    def invoke(self, target: LambdaTarget, event: dict) -> Any:
        self.events.append(event)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


def route(template: dict, method: str, path: str, values: dict | None = None):
    [found] = [r for r in read_routes(template, values) if (r.method, r.path) == (method, path)]
    return found


def resolved(template: dict, values: dict, mappings: dict, prefix: str) -> dict[str, str]:
    """Header mappings resolved by the tests' own resolver as one map (a header under
    `Fn::If [..., AWS::NoValue]` is gone when its condition is false), quotes stripped."""
    headers = {}
    for key, value in Resolver(template, values).resolve(mappings).items():
        assert value.startswith("'") and value.endswith("'"), value
        headers[key.removeprefix(prefix)] = value[1:-1]
    return headers


# --- routes ---------------------------------------------------------------------------------


def test_routes_read_from_the_template_are_the_catalogs(template):
    routes = read_routes(template)
    lambdas = {
        (r.method, r.path, r.target.folder, r.target.handler)
        for r in routes
        if isinstance(r.target, LambdaTarget)
    }
    assert lambdas == {(f.method, f.route, f.name, "app.lambda_handler") for f in ROUTES}
    preflights = {r.path for r in routes if r.method == "OPTIONS"}
    assert preflights == {f.route for f in ROUTES}
    assert all(isinstance(r.target, MockResponse) for r in routes if r.method == "OPTIONS")
    assert len(routes) == len(lambdas) + len(preflights)  # nothing else, nothing twice


def test_route_prefix_parameter_moves_the_collection(template):
    paths = {r.path for r in read_routes(template, {"RoutePrefix": "things"})}
    assert paths == {f.route.replace("/items", "/things") for f in ROUTES}


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("/items/abc", {"id": "abc"}),
        ("/items/abc/", {"id": "abc"}),  # API Gateway ignores a trailing slash
        ("/items/a%2Fb", {"id": "a%2Fb"}),  # matched on the raw path: one segment
        ("/items/a/b", None),
        ("/items", None),
    ],
)
def test_item_route_matches_raw_paths(template, path, parameters):
    assert route(template, "GET", ITEM_ROUTE_ID).match(path) == parameters


# --- events ---------------------------------------------------------------------------------


@pytest.fixture
def item_event(template) -> dict:
    headers = [("Accept", "application/json"), ("X-Tag", "one"), ("X-Tag", "two")]
    return to_event(
        "GET",
        "/items/caf%C3%A9%20au%20lait",
        headers,
        "limit=5&tag=a&tag=b&empty=",
        None,
        route(template, "GET", ITEM_ROUTE_ID),
        "test",
        source_ip="10.1.2.3",
        stage_variables={"environment": "test"},
        now=1_700_000_000.5,
    )


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("resource",), ITEM_ROUTE_ID),
        (("path",), "/items/caf%C3%A9%20au%20lait"),
        (("httpMethod",), "GET"),
        (("headers",), {"Accept": "application/json", "X-Tag": "two"}),
        (("multiValueHeaders",), {"Accept": ["application/json"], "X-Tag": ["one", "two"]}),
        (("queryStringParameters",), {"limit": "5", "tag": "b", "empty": ""}),
        (("multiValueQueryStringParameters",), {"limit": ["5"], "tag": ["a", "b"], "empty": [""]}),
        (("pathParameters",), {"id": "café au lait"}),
        (("stageVariables",), {"environment": "test"}),
        (("body",), None),
        (("isBase64Encoded",), False),
        (("requestContext", "resourcePath"), ITEM_ROUTE_ID),
        (("requestContext", "httpMethod"), "GET"),
        (("requestContext", "path"), "/test/items/caf%C3%A9%20au%20lait"),
        (("requestContext", "stage"), "test"),
        (("requestContext", "accountId"), "123456789012"),
        (("requestContext", "protocol"), "HTTP/1.1"),
        (("requestContext", "requestTimeEpoch"), 1_700_000_000_500),
        (("requestContext", "identity", "sourceIp"), "10.1.2.3"),
    ],
)
def test_event_for_get_item_has_api_gateways_shape(item_event, keys, expected):
    value = item_event
    for key in keys:
        value = value[key]
    assert value == expected


def test_event_request_ids_are_fresh_uuid4s(template, item_event):
    other = to_event("GET", "/", None, None, None, route(template, "GET", "/"), "test")
    ids = {e["requestContext"]["requestId"] for e in (item_event, other)}
    assert len(ids) == 2
    assert all(len(i) == 36 and i[14] == "4" for i in ids)
    assert item_event["requestContext"]["apiId"]


def test_event_without_headers_query_or_path_parameters_has_nones(template):
    event = to_event("GET", "/", [], "", b"", route(template, "GET", "/"), "test")
    for key in ("headers", "multiValueHeaders", "queryStringParameters", "pathParameters"):
        assert event[key] is None, key
    assert event["multiValueQueryStringParameters"] is None
    assert (event["body"], event["isBase64Encoded"]) == (None, False)


@pytest.mark.parametrize(
    ("body", "expected", "is_base64"),
    [
        ('{"a": "grüße"}'.encode(), '{"a": "grüße"}', False),
        (b"\xff\xfe\x00binary", base64.b64encode(b"\xff\xfe\x00binary").decode(), True),
    ],
)
def test_event_body_is_text_or_base64(template, body, expected, is_base64):
    event = to_event("POST", "/items", None, None, body, route(template, "POST", "/items"), "t")
    assert (event["body"], event["isBase64Encoded"]) == (expected, is_base64)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"statusCode": 204}, (204, [], b"")),
        (
            {"statusCode": "200", "headers": {"A": "1"}, "body": "é"},
            (200, [("A", "1")], "é".encode()),
        ),
        (
            {
                "statusCode": 200,
                "headers": {"A": "1", "B": "2"},
                "multiValueHeaders": {"A": ["1", "3"]},
            },
            (200, [("A", "1"), ("A", "3"), ("B", "2")], b""),
        ),
        (
            {
                "statusCode": 200,
                "body": base64.b64encode(b"\xff").decode(),
                "isBase64Encoded": True,
            },
            (200, [], b"\xff"),
        ),
    ],
)
def test_from_result_merges_headers_and_decodes_bodies(result, expected):
    assert from_result(result) == expected


@pytest.mark.parametrize(
    "result",
    [None, {}, {"statusCode": "abc"}, {"statusCode": 200, "body": {"a": 1}}, {"statusCode": 99}],
)
def test_from_result_refuses_what_api_gateway_refuses(result):
    with pytest.raises(MalformedResult):
        from_result(result)


# --- the WSGI application, recording events --------------------------------------------------


def test_query_strings_with_repeated_keys_fill_multi_value_parameters(template):
    api = RecordingApi(template, stage="test")
    Client(api).get("/items?tag=a&tag=b&limit=2&q=x%20y")
    [event] = api.events
    assert event["multiValueQueryStringParameters"] == {
        "tag": ["a", "b"],
        "limit": ["2"],
        "q": ["x y"],
    }
    assert event["queryStringParameters"] == {"tag": "b", "limit": "2", "q": "x y"}
    assert event["resource"] == "/items"


@pytest.mark.parametrize(
    ("path", "decoded"),
    [
        ("/items/a%2Fb", "a/b"),
        ("/items/caf%C3%A9", "café"),
        ("/items/it%2Eem", "it.em"),
        ("/items/a+b", "a+b"),  # `+` is a space in query strings only
    ],
)
def test_url_encoded_path_ids_are_decoded(template, path, decoded):
    api = RecordingApi(template, stage="test")
    assert Client(api).get(path).status_code == 200
    [event] = api.events
    assert event["pathParameters"] == {"id": decoded}
    assert (event["path"], event["resource"]) == (path, ITEM_ROUTE_ID)


def test_non_utf8_body_arrives_base64_encoded(template):
    api = RecordingApi(template, stage="test")
    raw = b"\x89PNG\r\n\x1a\n\xff"
    Client(api).post("/items", data=raw, headers={"Content-Type": "application/octet-stream"})
    [event] = api.events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    assert event["headers"]["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/items/a/b/c"),
        ("GET", "/items/abc/versions/1"),
        ("DELETE", "/items"),  # known path, no such method
        ("POST", "/items/abc"),
        ("PATCH", "/"),
        ("HEAD", "/items"),
    ],
)
def test_unknown_routes_answer_like_api_gateway(template, method, path):
    """API Gateway REST answers 403 Missing Authentication Token for a path no resource has and
    for a method the resource lacks, with the DEFAULT_4XX gateway response's headers."""
    values = {"CorsAllowOrigin": ORIGIN}
    api = RecordingApi(template, values, stage="test")
    response = Client(api).open(path, method=method)
    assert response.status_code == 403
    if method != "HEAD":
        assert json.loads(response.get_data()) == MISSING_TOKEN
    assert api.events == []
    [declared] = [
        r["Properties"]["ResponseParameters"]
        for r in cfn.resources_of_type(template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "DEFAULT_4XX"
    ]
    expected = resolved(template, values, declared, "gatewayresponse.header.")
    assert expected["Access-Control-Allow-Origin"] == ORIGIN
    assert {k: response.headers[k] for k in expected} == expected
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


PREFLIGHTS = {  # request path -> the OPTIONS method the template declares for it
    "/": "ApiOptions",
    "/openapi.json": "ApiOpenapiJsonOptions",
    "/items": "ApiItemsOptions",
    "/items/abc": "ApiItemsIdOptions",
    "/items/abc/versions": "ApiItemsIdVersionsOptions",
}


@pytest.mark.parametrize("path", PREFLIGHTS)
def test_options_preflight_headers_equal_the_templates(template, path):
    values = {"CorsAllowOrigin": ORIGIN, "CorsMaxAge": "600"}
    api = RecordingApi(template, values, stage="test")
    response = Client(api).options(path, headers={"Origin": ORIGIN})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert api.events == []  # no function ran
    method = template["Resources"][PREFLIGHTS[path]]["Properties"]
    [integration_response] = method["Integration"]["IntegrationResponses"]
    expected = resolved(
        template, values, integration_response["ResponseParameters"], "method.response.header."
    )
    assert (expected["Access-Control-Allow-Origin"], expected["Access-Control-Max-Age"]) == (
        ORIGIN,
        "600",
    )
    template_path = path.replace("abc", "{id}")
    methods = sorted(f.method for f in ROUTES if f.route == template_path)
    assert expected["Access-Control-Allow-Methods"] == ",".join([*methods, "OPTIONS"])
    assert {k: response.headers[k] for k in expected} == expected


@pytest.mark.parametrize(
    "reply",
    [RuntimeError("boom"), {"statusCode": 200, "body": {"not": "a string"}}, "not a dict"],
)
def test_a_failing_handler_is_a_502_like_api_gateways(template, reply):
    api = RecordingApi(template, stage="test")
    api.reply = reply
    response = Client(api).get("/items/abc")
    assert response.status_code == 502
    assert json.loads(response.get_data()) == {"message": "Internal server error"}
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_propagate_errors_reraises(template):
    api = RecordingApi(template, stage="test", propagate_errors=True)
    api.reply = RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        Client(api).get("/items/abc")


def test_a_closed_api_answers_503_without_running_a_function(template):
    """A stopping server closes its API: the requests still waiting for their turn are answered
    at once, with the gateway's 5XX headers, and run nothing."""
    api = RecordingApi(template, stage="test")
    api.close()
    response = Client(api).get("/items/abc")
    assert response.status_code == 503
    assert json.loads(response.get_data()) == {"message": "The local server is stopping"}
    assert response.headers["x-amzn-ErrorType"] == "ServiceUnavailableException"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert api.events == []


# --- the WSGI application, real handlers on moto ---------------------------------------------


@pytest.fixture
def stack(make_stack):
    return make_stack()


@pytest.fixture
def local_api(stack, template) -> LocalApi:
    return LocalApi(template, stack.parameters, stage="test", propagate_errors=True)


def test_crud_round_trip_through_the_wsgi_app(local_api):
    client = Client(local_api)
    created = client.post("/items", json={"id": "it.em", "name": "first"})
    assert created.status_code == 201, created.get_data()
    assert created.headers["Content-Type"] == "application/json"
    assert created.headers["x-amzn-RequestId"]

    got = client.get("/items/it%2Eem")  # the encoded id reaches the handler decoded
    assert got.status_code == 200
    assert (got.json["id"], got.json["name"]) == ("it.em", "first")

    put = client.put("/items/it.em", json={"name": "second"})
    assert put.status_code == 200, put.get_data()
    assert client.get("/items/it.em").json["name"] == "second"

    listed = client.get("/items?limit=10")
    assert listed.status_code == 200
    assert "it.em" in json.dumps(listed.json)

    deleted = client.delete("/items/it.em")
    assert deleted.status_code == 204
    assert deleted.get_data() == b""

    gone = client.get("/items/it.em")
    assert gone.status_code == 404
    assert gone.json["error"]["code"]


def test_each_handler_is_imported_once(local_api):
    client = Client(local_api)
    for _ in range(3):
        assert client.get("/items/missing").status_code == 404
        assert client.get("/").status_code == 200
    assert set(local_api._handlers) == {"GetItemFunction", "HealthFunction"}


def test_a_function_whose_files_changed_is_imported_again(local_api):
    """`refresh` (make local's hot reload) says a function's files changed: its next invocation
    imports its handler again; the others keep theirs."""
    changed: set[str] = set()
    local_api.refresh = lambda target: target.function_id in changed
    client = Client(local_api)
    assert (client.get("/").status_code, client.get("/items/x").status_code) == (200, 404)
    health, get_item = local_api._handlers["HealthFunction"], local_api._handlers["GetItemFunction"]
    changed.add("HealthFunction")
    assert (client.get("/").status_code, client.get("/items/x").status_code) == (200, 404)
    assert local_api._handlers["HealthFunction"] is not health
    assert local_api._handlers["GetItemFunction"] is get_item


def test_a_function_keeps_its_own_layer_modules_when_another_is_imported(stack, template, tmp_path):
    """Each Lambda function has its own process. Another function's first import must not leave
    this one a second copy of what it loads lazily: Powertools' idempotency exceptions, loaded
    again after get_item's import, were not the ones its persistence layer raised (500, not 422;
    the browser test met it when stream_audit's first batch came between two POSTs)."""
    functions_dir, layer_dirs = unpack(cfn.ROOT / "dist", tmp_path)  # the layer has Powertools
    api = LocalApi(template, stack.parameters, stage="test", functions_dir=functions_dir,
                   layer_dirs=layer_dirs)  # fmt: skip
    client = Client(api)
    key = {"Idempotency-Key": "key-1"}
    assert client.post("/items", json={"id": "a", "name": "x"}, headers=key).status_code == 201
    assert client.get("/items/a").status_code == 200  # get_item's first import
    reused = client.post("/items", json={"id": "a", "name": "other"}, headers=key)
    assert (reused.status_code, reused.json["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_the_health_route_sees_the_lambda_context(local_api, stack, monkeypatch):
    seen = []
    target = route_target(local_api, "GET", "/")
    handler = local_api.handler(target)
    monkeypatch.setitem(
        local_api._handlers, target.function_id, lambda e, c: seen.append(c) or handler(e, c)
    )
    assert Client(local_api).get("/").json["status"] == "ok"
    [context] = seen
    assert context.function_name.endswith("-health")
    assert context.invoked_function_arn.endswith(":function:" + context.function_name)
    assert context.memory_limit_in_mb == int(stack.parameters["MemorySize"])
    timeout_ms = int(stack.parameters["Timeout"]) * 1000
    assert timeout_ms - 5_000 < context.get_remaining_time_in_millis() <= timeout_ms


def route_target(api: LocalApi, method: str, path: str) -> LambdaTarget:
    found = api.match(method, path)
    assert found and isinstance(found.target, LambdaTarget)
    return found.target


# --- schemathesis, in-process ----------------------------------------------------------------

ONE_OPERATION = {
    "openapi": "3.0.3",
    "info": {"title": "items-api (one operation)", "version": "1"},
    "paths": {
        "/items/{id}": {
            "get": {
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
                    }
                ],
                "responses": {
                    "404": {
                        "description": "no such item",
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "required": ["error"]}
                            }
                        },
                    },
                },
            }
        }
    },
}


@pytest.mark.slow
def test_schemathesis_drives_the_wsgi_app_in_process(local_api):
    """The API the fuzz tests use: from_dict(spec), then `schema.app = <WSGI app>` (what
    from_wsgi does after fetching the document), and every case is sent in-process."""
    schema = schemathesis.openapi.from_dict(ONE_OPERATION)
    schema.app = local_api
    operation = schema["/items/{id}"]["GET"]
    seen = []

    @hypothesis.settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def fuzz(case):
        response = case.call_and_validate()
        seen.append(response.status_code)

    fuzz()
    assert seen and set(seen) == {404}  # a fresh table: every id is unknown
