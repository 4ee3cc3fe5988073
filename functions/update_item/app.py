"""PUT /items/{id}: replace an existing item's attributes (never an upsert); 200 with the item and
its ETag. If-Match or a body `version` make it conditional (412 when stale; items_common.dynamo).
Each replacement counts one ItemsUpdated (observability)."""

from aws_lambda_powertools import Logger, Metrics

from items_common import http, items, observability, validation
from items_common.event import ProxyEvent

logger = Logger()
metrics = Metrics()


def update_item(event: ProxyEvent) -> dict:
    item_id = validation.path_id(event)
    attributes, expected = validation.replacement(event, item_id)
    return http.item_response(200, items.replace(item_id, attributes, expected))


lambda_handler = http.entrypoint(update_item, logger, metrics, observability.ITEMS_UPDATED)
