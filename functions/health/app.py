"""GET /: health check. Touches no AWS service, so it shows the function and layer load."""

import os

from aws_lambda_powertools import Logger

from items_common import http
from items_common.event import ProxyEvent

logger = Logger()


def health(event: ProxyEvent) -> dict:
    return http.response(200, {"status": "ok", "stage": os.environ["STAGE"]})


lambda_handler = http.entrypoint(health, logger)
