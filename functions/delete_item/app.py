"""DELETE /items/{id}: delete an existing item; 204, or 404 if missing."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, items, validation

logger = Logger()
tracer = Tracer()


def delete_item(event: APIGatewayProxyEvent) -> dict:
    items.delete(validation.path_id(event))
    return http.response(204)


lambda_handler = http.entrypoint(delete_item, logger, tracer)
