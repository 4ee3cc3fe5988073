"""DELETE /items/{id}: delete an existing item; 204, or 404 if missing. If-Match makes it
conditional (412 when stale; items_common.dynamo). Each deletion counts one ItemsDeleted
(observability)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import http, items, observability, validation

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def delete_item(event: APIGatewayProxyEvent) -> dict:
    item_id = validation.path_id(event)
    items.delete(item_id, validation.precondition(event))
    return http.response(204)


lambda_handler = http.entrypoint(delete_item, logger, tracer, metrics, observability.ITEMS_DELETED)
