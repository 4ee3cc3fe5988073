"""GET /items/{id}: one item (consistent read) and its ETag, 404 if missing."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, items, validation

logger = Logger()
tracer = Tracer()


def get_item(event: APIGatewayProxyEvent) -> dict:
    return http.item_response(200, items.get(validation.path_id(event)))


lambda_handler = http.entrypoint(get_item, logger, tracer)
