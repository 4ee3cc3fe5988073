"""The API Gateway REST (v1) proxy event as the routes read it.

ProxyEvent has the few properties of Powertools' APIGatewayProxyEvent that the routes use, under
the same names and with the same values, over the same dict (raw_event). It is not Powertools'
class because importing that imports aws_lambda_powertools.utilities.data_classes, which loads
the event classes of every AWS service: about 10 ms of each HTTP function's cold start with
bytecode, about 50 ms without (tools/bench/bench_cold.py).
"""

from typing import Any


class ProxyEvent:
    """A read-only view of one proxy event."""

    __slots__ = ("raw_event",)

    def __init__(self, raw_event: dict[str, Any]) -> None:
        self.raw_event = raw_event

    @property
    def path_parameters(self) -> dict[str, str]:
        return self.raw_event.get("pathParameters") or {}

    @property
    def query_string_parameters(self) -> dict[str, str]:
        return self.raw_event.get("queryStringParameters") or {}

    @property
    def body(self) -> str | None:
        return self.raw_event.get("body")

    @property
    def is_base64_encoded(self) -> bool | None:
        return self.raw_event.get("isBase64Encoded")
