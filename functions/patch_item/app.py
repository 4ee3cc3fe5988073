"""PATCH /items/{id}: apply a JSON merge patch (RFC 7386: objects merge, null removes, anything
else replaces) to an existing item (never an upsert); 200 with the merged item and its ETag
(file_content only when the patch set one). If-Match or a body `version` make it conditional
(412 when stale; items_common.dynamo). Each patch counts one ItemsUpdated (observability)."""

from aws_lambda_powertools import Logger, Metrics

from items_common import http, items, observability, validation
from items_common.event import ProxyEvent

logger = Logger()
metrics = Metrics()


def patch_item(event: ProxyEvent) -> dict:
    item_id = validation.path_id(event)
    changes, expected = validation.patch_body(event, item_id)
    return http.item_response(200, items.patch(item_id, changes, expected))


lambda_handler = http.entrypoint(patch_item, logger, metrics, observability.ITEMS_UPDATED)
