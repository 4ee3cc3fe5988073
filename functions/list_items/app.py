"""GET /items?limit=N&next_token=T: one page of items and the token of the next page."""

from aws_lambda_powertools import Logger

from items_common import http, items, validation
from items_common.event import ProxyEvent

logger = Logger()


def list_items(event: ProxyEvent) -> dict:
    token = validation.query_param(event, "next_token")
    return http.response(200, items.page(validation.limit(event), token))


lambda_handler = http.entrypoint(list_items, logger)
