"""POST /items: create an item (conditional put, 409 if the id exists); 201 with the item."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, items, validation

logger = Logger()
tracer = Tracer()


def create_item(event: APIGatewayProxyEvent) -> dict:
    return http.response(201, items.create(validation.new_item(event)))


lambda_handler = http.entrypoint(create_item, logger, tracer)
