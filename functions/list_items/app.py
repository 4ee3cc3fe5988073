"""GET /items?limit=N&next_token=T: one page of items and the token of the next page."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, items, validation

logger = Logger()
tracer = Tracer()


def list_items(event: APIGatewayProxyEvent) -> dict:
    token = validation.query_param(event, "next_token")
    return http.response(200, items.page(validation.limit(event), token))


lambda_handler = http.entrypoint(list_items, logger, tracer)
