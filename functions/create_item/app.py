"""POST /items: create an item (conditional put, 409 if the id exists); 201 with the item and its
ETag. With an Idempotency-Key header, at most once per key (items_common.idempotency: a retry
with the same body answers the first 201 again, another body is 422; the item is tied to the key,
so a retry finds it even when the key's record was never completed). Each creation counts one
ItemsCreated (observability); so does an answer replayed for a retry."""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from items_common import http, idempotency, items, observability, validation
from items_common.event import ProxyEvent
from items_common.validation import parse_json

if TYPE_CHECKING:  # a type only, not a cold-start import
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


def create_item(event: ProxyEvent) -> dict:
    key = validation.idempotency_key(event)
    body = validation.creation(event)
    if key is None:
        return http.item_response(201, items.create(validation.with_id(body)))
    token = idempotency.token(key, body)
    item = validation.with_id(body, token)
    encoded = idempotency.once(
        key, body, lambda: items.create(item, token), lambda: items.created_by(item, token)
    )
    return http.item_response(201, parse_json(encoded.encode("utf-8")), encoded=encoded)


_handler = http.entrypoint(create_item, logger, metrics, observability.ITEMS_CREATED)


def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    idempotency.register(context)
    return _handler(event, context)
