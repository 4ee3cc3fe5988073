"""GET /items/{id}: one item (consistent read) and its ETag, 404 if missing."""

from aws_lambda_powertools import Logger

from items_common import http, items, validation
from items_common.event import ProxyEvent

logger = Logger()


def get_item(event: ProxyEvent) -> dict:
    return http.item_response(200, items.get(validation.path_id(event)))


lambda_handler = http.entrypoint(get_item, logger)
