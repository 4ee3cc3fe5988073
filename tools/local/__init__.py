"""The deployed REST API, run locally: routes read from the CloudFormation template, requests
turned into API Gateway proxy events (v1), the handlers in functions/ called in-process.

- routes: the API's routes, OPTIONS preflights and gateway responses, from the template itself.
- events: request -> proxy event (proxy_event: the event's one builder), proxy result ->
  response.
- app: LocalApi, a plain WSGI application (the fuzz tests and `make local` both use it).
- artifacts: the built zips unpacked, so LocalApi runs exactly what a deploy uploads; Reloader
  keeps them in step with functions/ while `make local` runs (hot reload).
"""

from .app import LambdaContext, LocalApi
from .artifacts import unpack
from .events import from_result, proxy_event, to_event
from .routes import GatewayResponse, LambdaTarget, MockResponse, Route, read_routes

__all__ = [
    "GatewayResponse",
    "LambdaContext",
    "LambdaTarget",
    "LocalApi",
    "MockResponse",
    "Route",
    "from_result",
    "proxy_event",
    "read_routes",
    "to_event",
    "unpack",
]
