"""GET /items?limit=N&next_token=T: one page of items and the token of the next page."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, pagination, store, validation

logger = Logger()
tracer = Tracer()


def list_items(event: APIGatewayProxyEvent) -> dict:
    start = pagination.decode(validation.query_param(event, "next_token"))
    items, last_key = store.page(validation.limit(event), start)
    body = {"items": items, "count": len(items), "next_token": pagination.encode(last_key)}
    return http.response(200, body)


lambda_handler = http.entrypoint(list_items, logger, tracer)
