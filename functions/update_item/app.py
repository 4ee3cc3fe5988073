"""PUT /items/{id}: replace an existing item's attributes (never an upsert); 200 with the item."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, items, validation

logger = Logger()
tracer = Tracer()


def update_item(event: APIGatewayProxyEvent) -> dict:
    item_id = validation.path_id(event)
    return http.response(200, items.replace(item_id, validation.replacement(event, item_id)))


lambda_handler = http.entrypoint(update_item, logger, tracer)
