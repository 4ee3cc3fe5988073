"""POST /items: create an item (conditional put, 409 if the id exists); 201 with the item.
Each creation counts one ItemsCreated (observability)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, items, observability, validation

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def create_item(event: APIGatewayProxyEvent) -> dict:
    return http.response(201, items.create(validation.new_item(event)))


lambda_handler = http.entrypoint(create_item, logger, tracer, metrics, observability.ITEMS_CREATED)
