"""Request -> API Gateway REST proxy event (payload 1.0), and proxy result -> response.

As API Gateway REST does: `path` keeps the request's percent-encoding while pathParameters and
query parameters are decoded; a repeated header or query key keeps its last value in
headers/queryStringParameters and every value in the multiValue* maps; empty maps are None; a body
that is not valid UTF-8 arrives base64-encoded with isBase64Encoded true.

proxy_event is the one place that knows the event's shape: to_event (the emulator's requests),
the tests' api_event (tests/handlers.py) and the benchmarks' (tools/bench/common.py) use it.
"""

import base64
import binascii
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from tools.intrinsics import PSEUDO_PARAMETERS

from .routes import Route

Pairs = Mapping[str, str] | Iterable[tuple[str, str]]
ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]
API_ID = "localapi00"


class MalformedResult(ValueError):
    """A handler result API Gateway would refuse (it answers 502 "Internal server error")."""


def _pairs(items: Pairs | str | None) -> list[tuple[str, str]]:
    if items is None:
        return []
    if isinstance(items, str):  # a raw query string
        return parse_qsl(items, keep_blank_values=True)
    if isinstance(items, Mapping):
        return [(str(k), str(v)) for k, v in items.items()]
    return [(str(k), str(v)) for k, v in items]


def _single_and_multi(
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    return {k: v[-1] for k, v in multi.items()}, multi


def _body(body: bytes | str | None) -> tuple[str | None, bool]:
    if body is None or body in (b"", ""):
        return None, False
    if isinstance(body, str):
        return body, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _header(pairs: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in reversed(pairs) if k.lower() == name.lower()), None)


def to_event(
    method: str,
    path: str,
    headers: Pairs | None,
    query: Pairs | str | None,
    body: bytes | str | None,
    route: Route,
    stage: str,
    *,
    source_ip: str = "127.0.0.1",
    stage_variables: Mapping[str, str] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The proxy event API Gateway sends for this request on this route. `path` is the request
    path as sent (percent-encoded, no stage prefix, no query); `query` a raw query string or
    (key, value) pairs."""
    raw_params = route.match(path)
    if raw_params is None:
        raise ValueError(f"{path} does not match {route.path}")
    text, is_base64 = _body(body)
    return proxy_event(
        method,
        route.path,
        path,
        stage=stage,
        headers=headers,
        query=query,
        path_parameters={k: unquote(v) for k, v in raw_params.items()} or None,
        body=text,
        is_base64=is_base64,
        stage_variables=stage_variables,
        source_ip=source_ip,
        now=now,
        resource_id=route.resource_id or "root",
    )


def proxy_event(
    method: str,
    resource: str,
    path: str,
    *,
    stage: str,
    headers: Pairs | None = None,
    query: Pairs | str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    body: str | None = None,
    is_base64: bool = False,
    stage_variables: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    user_agent: str | None = None,
    now: float | None = None,
    request_id: str | None = None,
    resource_id: str = "root",
    api_id: str = API_ID,
) -> dict[str, Any]:
    """The proxy event for a request already taken apart: `resource` is the route's path
    template, `path` the request path, `body` the body as it travels (base64 text when
    `is_base64`), `path_parameters` as given (None for none). The user agent and domain come
    from the User-Agent and Host headers unless given; the request ID and time are new ones
    unless given (tests and benchmarks fix them)."""
    header_pairs, query_pairs = _pairs(headers), _pairs(query)
    single_headers, multi_headers = _single_and_multi(header_pairs)
    single_query, multi_query = _single_and_multi(query_pairs)
    epoch = time.time() if now is None else now
    request_id = str(uuid.uuid4()) if request_id is None else request_id
    host = _header(header_pairs, "Host") or "localhost"
    agent = _header(header_pairs, "User-Agent") if user_agent is None else user_agent
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": None if path_parameters is None else dict(path_parameters),
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": {
            "resourceId": resource_id,
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": datetime.fromtimestamp(epoch, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".")[0],
            "requestTimeEpoch": int(epoch * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": agent,
                "accountId": None,
                "apiKey": None,
                "caller": None,
                "user": None,
                "userArn": None,
            },
            "domainName": host,
            "apiId": api_id,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def from_result(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a proxy result. Headers merge as API Gateway merges them: every
    multiValueHeaders value, plus each `headers` entry not already among them."""
    if not isinstance(result, Mapping):
        raise MalformedResult(f"the result is a {type(result).__name__}, not an object")
    try:
        status = int(result["statusCode"])
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedResult(f"statusCode: {error!r}") from None
    if not 100 <= status <= 599:
        raise MalformedResult(f"statusCode {status}")
    pairs = [
        (str(name), str(value))
        for name, values in (result.get("multiValueHeaders") or {}).items()
        for value in values
    ]
    for name, value in (result.get("headers") or {}).items():
        if (name.lower(), str(value)) not in {(k.lower(), v) for k, v in pairs}:
            pairs.append((str(name), str(value)))
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise MalformedResult(f"body is a {type(body).__name__}, not a string")
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise MalformedResult(f"body is not base64: {error}") from None
    else:
        data = body.encode("utf-8")
    return status, pairs, data
