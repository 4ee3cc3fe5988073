"""GET /items/{id}/versions?limit=N&next_token=T: one page of the item's versions, newest first
(history mode; in plain mode the current item is its one version). 404 for an unknown id."""

from aws_lambda_powertools import Logger

from items_common import http, items, validation
from items_common.event import ProxyEvent

logger = Logger()


def list_versions(event: ProxyEvent) -> dict:
    item_id = validation.path_id(event)
    token = validation.query_param(event, "next_token")
    return http.response(200, items.versions(item_id, validation.limit(event), token))


lambda_handler = http.entrypoint(list_versions, logger)
