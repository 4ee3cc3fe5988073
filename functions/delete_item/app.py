"""DELETE /items/{id}: delete an existing item; 204, or 404 if missing. If-Match makes it
conditional (412 when stale; items_common.dynamo). Each deletion counts one ItemsDeleted
(observability)."""

from aws_lambda_powertools import Logger, Metrics

from items_common import http, items, observability, validation
from items_common.event import ProxyEvent

logger = Logger()
metrics = Metrics()


def delete_item(event: ProxyEvent) -> dict:
    item_id = validation.path_id(event)
    items.delete(item_id, validation.precondition(event))
    return http.response(204)


lambda_handler = http.entrypoint(delete_item, logger, metrics, observability.ITEMS_DELETED)
