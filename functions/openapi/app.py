"""GET /openapi.json: serves the API's OpenAPI document, built with the code and shipped in
this function's zip, so clients always see the contract of the deployed version."""

import json
import os
from pathlib import Path

from aws_lambda_powertools import Logger

from items_common import http
from items_common.event import ProxyEvent

logger = Logger()

# The build writes the document for the default collection segment; read it once per container.
DEFAULT_PREFIX = "items"
_DOCUMENT = json.loads((Path(__file__).parent / "openapi.json").read_text(encoding="utf-8"))


def with_prefix(document: dict, prefix: str) -> dict:
    """The document with the collection's leading path segment renamed to the deployed one."""
    if prefix == DEFAULT_PREFIX:
        return document
    default = "/" + DEFAULT_PREFIX
    paths = {}
    for path, item in document["paths"].items():
        if path == default or path.startswith(default + "/"):
            path = "/" + prefix + path[len(default) :]
        paths[path] = item
    return {**document, "paths": paths}


_SERVED = with_prefix(_DOCUMENT, os.environ.get("ROUTE_PREFIX", DEFAULT_PREFIX))


def openapi(event: ProxyEvent) -> dict:
    return http.response(200, _SERVED)


lambda_handler = http.entrypoint(openapi, logger)
