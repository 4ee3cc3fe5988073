"""GET /: health check. Touches no AWS service, so it shows the function and layer load."""

import os

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http

logger = Logger()
tracer = Tracer()


def health(event: APIGatewayProxyEvent) -> dict:
    return http.response(200, {"status": "ok", "stage": os.environ["STAGE"]})


lambda_handler = http.entrypoint(health, logger, tracer)
